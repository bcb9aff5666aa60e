"""What ``load_dataset(repo, config, revision=tag)`` must return after ``publish dataset``, known before uploading.

A dataset built by this rankladder records it (its manifest's ``readback``: rows and an id digest per
config/split, written by build). A dataset built by an older rankladder has no such record, so the
expectations are derived here from the staged release folder itself: for every config/split its card's
``configs:`` lists, the id column of the parquet files it names, read with pyarrow (the same digest build
records, ``rankladder.core.readback.IdDigest``). Either way the published tag is then read back against them.

Before anything is uploaded, the card is also checked against what will actually be uploaded and against
the build's record of its files (manifest ``files``), since a card edited or copied by hand can point
``load_dataset`` at files the Hub will never hold, or at other rows than the build wrote.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_file
from rankladder.core.readback import IdDigest, expectation
from rankladder.dataset_builder import schema
from rankladder.model_cards.inputs import upload_files

BATCH_ROWS = 100_000
CARD = "README.md"


def declared_files(staged: Path) -> dict[tuple[str, str], list[str]]:
    """(config, split) -> the parquet paths the staged card's ``configs:`` lists, each checked to be a file
    publish uploads; else UserError naming the config, split and file."""
    staged = Path(staged)
    uploaded = {rel.as_posix() for rel in upload_files(staged)}
    declared = schema.card_data_files(staged)
    if not declared:
        raise UserError(f"{CARD}: the card lists no `configs:`; rebuild the dataset with `rankladder build`")
    out = {}
    for config, splits in declared.items():
        if config not in schema.CONFIG_LAYOUT:
            raise UserError(
                f"{CARD}: configs: config {config!r} is not a rankladder config "
                f"({', '.join(schema.CONFIG_LAYOUT)}); publish uploads only those, so it would not load from the Hub"
            )
        for split, paths in splits.items():
            if split not in schema.CONFIG_LAYOUT[config][1]:
                raise UserError(
                    f"{CARD}: configs: config {config!r} has no split {split!r} in a rankladder dataset "
                    f"(splits: {', '.join(schema.CONFIG_LAYOUT[config][1])}); it would not be uploaded"
                )
            if not paths:
                raise UserError(f"{CARD}: configs: config {config!r} split {split!r} lists no file")
            for rel in paths:
                _check_uploaded(staged, config, split, rel, uploaded)
            out[(config, split)] = list(paths)
    return out


def _check_uploaded(staged: Path, config: str, split: str, rel: str, uploaded: set[str]) -> None:
    where = f"{CARD}: configs: config {config!r} split {split!r} lists {rel!r}"
    if PurePosixPath(rel).is_absolute() or ".." in PurePosixPath(rel).parts or any(c in rel for c in "*?[]"):
        raise UserError(f"{where}: not a plain path inside the dataset folder (publish uploads named files only)")
    if not (staged / rel).is_file():
        raise UserError(f"{where}, which is not in the dataset folder: load_dataset of the tag would fail")
    if rel not in uploaded:
        raise UserError(
            f"{where}, which publish does not upload (hidden files and logs/, runs*, checkpoint-* folders stay "
            "local): load_dataset of the tag would fail; rebuild the dataset with `rankladder build`"
        )


def recorded_files(manifest: dict) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(config, split) -> [(path, sha256)] as the build recorded them (manifest ``files``), in both
    layouts builds have written: ``{"path", "sha256"}`` (one file) and ``{"shards": [...]}``; {} when absent."""
    files = manifest.get("files")
    if not files:
        return {}
    where = f"{schema.MANIFEST_FILE}: field 'files'"
    if not isinstance(files, dict):
        raise UserError(f"{where}: expected an object of config/split entries")
    out = {}
    for key, entry in files.items():
        config, _, split = str(key).partition("/")
        shards = entry.get("shards") if isinstance(entry, dict) and "shards" in entry else [entry]
        if not split or not isinstance(shards, list) or not all(isinstance(s, dict) for s in shards):
            raise UserError(f"{where}: entry {key!r} is not a config/split with its files")
        if not all(isinstance(s.get("path"), str) and isinstance(s.get("sha256"), str) for s in shards):
            raise UserError(f"{where}: entry {key!r} needs 'path' and 'sha256' for each file")
        out[(config, split)] = [(s["path"], s["sha256"]) for s in shards]
    return out


def check_against_record(
    staged: Path, declared: dict[tuple[str, str], list[str]], manifest: dict, *, splits_too: bool
) -> None:
    """Every declared file's bytes are the ones the build hashed (the card's content hash stays true); with
    ``splits_too`` each config/split also lists exactly the files the build wrote for it."""
    recorded = recorded_files(manifest)
    if not recorded:
        return
    hashes = {path: digest for files in recorded.values() for path, digest in files}
    for (config, split), paths in declared.items():
        want = [path for path, _ in recorded.get((config, split), [])]
        if splits_too and paths != want:
            raise UserError(
                f"{CARD}: configs: config {config!r} split {split!r} lists {paths}, but "
                f"{schema.MANIFEST_FILE} records {want or 'no file'} for it: the card was edited after the build; "
                "rebuild the dataset with `rankladder build`"
            )
        for rel in paths:
            if rel in hashes and sha256_file(staged / rel) != hashes[rel]:
                raise UserError(
                    f"{rel}: changed since the build (its sha256 differs from {schema.MANIFEST_FILE}'s), so the "
                    "card's counts and content hash would be false; rebuild the dataset with `rankladder build`"
                )
            if rel not in hashes:
                raise UserError(
                    f"{CARD}: configs: config {config!r} split {split!r} lists {rel!r}, which "
                    f"{schema.MANIFEST_FILE} does not record: not a file this build wrote"
                )
    if splits_too:
        missing = sorted(set(recorded) - set(declared))
        if missing:
            config, split = missing[0]
            raise UserError(
                f"{CARD}: configs: config {config!r} split {split!r} is not listed, but the build wrote it "
                f"({schema.MANIFEST_FILE}); rebuild the dataset with `rankladder build`"
            )


def _split_expectation(staged: Path, config: str, split: str, paths: list[str]) -> dict:
    """Rows and id digest of one config/split, read from its parquet files in the card's order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    column = schema.ID_COLUMNS[config]
    digest = IdDigest()
    for rel in paths:
        try:
            reader = pq.ParquetFile(staged / rel)
        except (OSError, pa.ArrowException) as exc:
            raise UserError(f"{rel}: not a readable parquet file ({str(exc).splitlines()[0]})") from None
        field = reader.schema_arrow.field(column) if column in reader.schema_arrow.names else None
        if field is None or not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
            found = "missing" if field is None else f"of type {field.type}"
            raise UserError(
                f"{rel}: column {column!r} is {found}; config {config!r} needs it as text ids "
                f"(the card lists this file under config {config!r} split {split!r})"
            )
        for batch in reader.iter_batches(batch_size=BATCH_ROWS, columns=[column]):
            digest.update(batch.column(0).to_pylist())
    return expectation(config, split, column, digest)


def release_expectations(staged: Path, manifest: dict) -> tuple[list[dict], str]:
    """What the published tag must load, per config/split, and where that comes from ("the build's record"
    or "the folder's files"); raises UserError, before any upload, when the card and the files disagree."""
    staged = Path(staged)
    declared = declared_files(staged)
    record = manifest.get("readback")
    check_against_record(staged, declared, manifest, splits_too=not record)
    if record:
        return record, "the build's record"
    return [_split_expectation(staged, config, split, paths) for (config, split), paths in declared.items()], (
        "the folder's files (built by an older rankladder: no readback record)"
    )
