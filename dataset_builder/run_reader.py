"""Reading RUN_DIRs for ``build``: their manifests, and their records and judgements block by block."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.textio import read_text
from rankladder.dataset_builder.runfiles import RECORDS, manifests
from rankladder.dataset_builder.schema import JUDGEMENTS

log = logging.getLogger(__name__)


def unique_run_dirs(run_dirs: list[str | Path]) -> list[Path]:
    """Each RUN_DIR once: the same folder named twice (or through a symlink) would count every record twice."""
    seen: dict[Path, Path] = {}
    for given in map(Path, run_dirs):
        real = given.resolve()
        if real in seen:
            log.warning("%s: same RUN_DIR as %s, read once", given, seen[real])
            continue
        seen[real] = given
    return list(seen.values())


def read_run_manifests(run_dirs: list[Path]) -> list[dict]:
    found = []
    for run_dir in run_dirs:
        if not run_dir.is_dir():
            raise UserError(f"{run_dir}: RUN_DIR not found")
        paths = manifests(run_dir)
        if not paths:
            raise UserError(f"{run_dir}: not a generation RUN_DIR (no manifest.shard-*.json)")
        for path in paths:
            try:
                data = json.loads(read_text(path))
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}: corrupt manifest ({exc.msg})") from None
            if not isinstance(data, dict) or "levels" not in (data.get("config") or {}):
                raise UserError(f"{path}: corrupt manifest (no config.levels)")
            data["_path"] = str(path)
            found.append(data)
    levels = {json.dumps(m["config"]["levels"], sort_keys=True) for m in found}
    if len(levels) > 1:
        raise UserError(f"{found[0]['_path']}: runs disagree on the level definitions; build them separately")
    return found


def _record_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("key", pa.string()),
            ("query_id", pa.string()),
            ("query", pa.string()),
            ("level", pa.int32()),
            ("text", pa.string()),
            ("title", pa.string()),
            ("words", pa.int32()),
        ]
    )


READ_BLOCK = 32 << 20


def _complete_line_blocks(path: Path):
    """The file in ~32 MiB blocks that end on a newline; a torn final line is dropped."""
    carry = b""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(READ_BLOCK)
            if not block:
                return
            block = carry + block
            end = block.rfind(b"\n") + 1
            carry = block[end:]
            if end:
                yield block[:end]


def record_files(run_dirs: list[Path]) -> list[tuple[int, Path]]:
    """(run index, records file) of every RUN_DIR, in build order."""
    files = []
    for run, run_dir in enumerate(run_dirs):
        for path in sorted((run_dir / RECORDS).glob("shard-*.jsonl")):
            if not path.is_file():
                raise UserError(f"{path}: not a records file (a folder?)")
            files.append((run, path))
    return files


def count_lines(run_dirs: list[Path]) -> int:
    """Complete lines of every records file: an upper bound of the records, without parsing them."""
    return sum(block.count(b"\n") for _, path in record_files(run_dirs) for block in _complete_line_blocks(path))


def iter_record_blocks(run_dirs: list[Path]):
    """The records of every RUN_DIR as arrow tables of the needed columns (plus ``run``: the RUN_DIR's index
    in ``run_dirs``), one ~32 MiB block of a file at a time, in file order."""
    import pyarrow as pa
    from pyarrow import json as pajson

    options = pajson.ParseOptions(explicit_schema=_record_schema(), unexpected_field_behavior="ignore")
    found = False
    for run, path in record_files(run_dirs):
        for block in _complete_line_blocks(path):
            try:
                table = pajson.read_json(
                    pa.BufferReader(block),
                    parse_options=options,
                    read_options=pajson.ReadOptions(block_size=4 << 20),
                )
            except pa.ArrowInvalid as exc:
                raise UserError(f"{path}: corrupt records file ({str(exc).splitlines()[0]})") from None
            found = found or table.num_rows > 0
            # which RUN_DIR each record came from: the merge rule and its per-run counts need it
            yield table.append_column("run", pa.array([run] * table.num_rows, pa.int32()))
    if not found:
        raise UserError(f"{', '.join(map(str, run_dirs))}: no generation records found")


def _judgement_schema():
    import pyarrow as pa

    return pa.schema(
        [("query_id", pa.string()), ("doc_id", pa.string()), ("grade", pa.int32()), ("expected_grade", pa.float64())]
    )


def judgement_files(run_dirs: list[Path]) -> list[Path]:
    """Every judgements file of the RUN_DIRs, in build order (the first judgement of a document wins)."""
    return [path for run_dir in run_dirs for path in sorted((Path(run_dir) / JUDGEMENTS).glob("shard-*.jsonl"))]


def has_judgements(run_dirs: list[Path]) -> bool:
    """Whether any judgements file holds a complete line (read up to the first one)."""
    return any(block.strip() for path in judgement_files(run_dirs) for block in _complete_line_blocks(path))


def iter_judgement_blocks(run_dirs: list[Path]):
    """The judgements of every RUN_DIR as arrow tables (``query_id``, ``doc_id``, ``grade``, ``expected_grade``),
    one ~32 MiB block of a file at a time, in build order: ``build`` spills them by query like the records."""
    import pyarrow as pa
    from pyarrow import json as pajson

    options = pajson.ParseOptions(explicit_schema=_judgement_schema(), unexpected_field_behavior="ignore")
    for path in judgement_files(run_dirs):
        for block in _complete_line_blocks(path):
            try:
                yield pajson.read_json(
                    pa.BufferReader(block), parse_options=options, read_options=pajson.ReadOptions(block_size=4 << 20)
                )
            except pa.ArrowInvalid as exc:
                raise UserError(f"{path}: corrupt judgements file ({str(exc).splitlines()[0]})") from None


def read_records(run_dirs: list[Path]):
    """All records as one arrow table (``iter_record_blocks`` concatenated): only for the in-memory
    ``--select-by-similarity``."""
    import pyarrow as pa

    return pa.concat_tables(list(iter_record_blocks(run_dirs)))  # chunked: no copy
