"""Helpers of the property-based CLI test (tests/reliability/test_property.py): good inputs, the ways a
stranger's file is damaged, and the check that a command wrote nothing outside its named output.

Good inputs live in one shared workspace that no case may change; each case copies the inputs it damages
into its own folder (large model files are linked, never copied, and never damaged).
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# every way the property test damages a text file; the first three are benign (must be read as UTF-8 text)
DAMAGES = (
    "bom",
    "crlf",
    "header-row",
    "truncated",
    "latin-1",
    "utf-16",
    "wrong-columns",
    "empty",
    "binary",
    "missing",
    "folder",
)

QUERIES = [("q1", "why is the sky blue"), ("q2", "how do bees make honey"), ("q3", "what causes tides")]
UNREACHABLE = "http://127.0.0.1:9/v1"  # the discard port: connection refused at once

# input name -> the files inside it a case may damage, with their format ("" = the input itself)
TARGETS: dict[str, list[tuple[str, str]]] = {
    "queries.jsonl": [("", "jsonl")],
    "queries.tsv": [("", "tsv")],
    "beir": [("queries.jsonl", "jsonl"), ("corpus.jsonl", "jsonl"), ("qrels/test.tsv", "tsv")],
    "levels.yaml": [("", "yaml")],
    "template.yaml": [("", "yaml")],
    "run": [("records/shard-00000-of-00001.fixture.jsonl", "jsonl"), ("manifest.shard-00000-of-00001.json", "json")],
    "ds": [
        ("rankladder_manifest.json", "json"),
        ("README.md", "yaml"),
        ("lists/train-*.parquet", "bin"),  # content-addressed shard names: the first match
        ("qrels/dev-*.parquet", "bin"),
        ("corpus/corpus-*.parquet", "bin"),
    ],
    "train.yaml": [("", "yaml")],
    "sources.yaml": [("", "yaml")],
    "ckpt": [
        ("modules.json", "json"),
        ("config.json", "json"),
        ("rankladder_train_manifest.json", "json"),
        ("tokenizer_config.json", "json"),
    ],
    "results": [("summary.json", "json"), ("eval_manifest.json", "json")],
    "release.yaml": [("", "yaml")],
    "study.yaml": [("", "yaml")],
}


def make_workspace(root: Path, minilm: str, llm_url: str) -> Path:
    """The good inputs every case starts from (small; the model weights are MiniLM's own files)."""
    from rankladder.dataset_builder.build import build_dataset
    from tests.helpers.hubserver import inputs
    from tests.helpers.run_fixtures import GRADED_DOCUMENTS, write_run_dir

    root.mkdir(parents=True)
    (root / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in QUERIES))
    (root / "queries.tsv").write_text("".join(f"{i}\t{t}\n" for i, t in QUERIES))
    beir = root / "beir"
    (beir / "qrels").mkdir(parents=True)
    shutil.copy(root / "queries.jsonl", beir / "queries.jsonl")
    (beir / "corpus.jsonl").write_text(
        "".join(
            json.dumps({"_id": f"d{n}", "title": "", "text": f"passage {n} {t}"}) + "\n"
            for n, (_, t) in enumerate(QUERIES)
        )
    )
    (beir / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{i}\td{n}\t2\n" for n, (i, _) in enumerate(QUERIES))
    )
    shutil.copy(ROOT / "dataset_builder" / "data" / "levels.yaml", root / "levels.yaml")
    shutil.copy(ROOT / "dataset_builder" / "prompts" / "per_level.yaml", root / "template.yaml")
    rows = [json.loads(line) for line in GRADED_DOCUMENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    write_run_dir(root / "run", rows[:16])
    build_dataset([root / "run"], root / "ds", version="0.1.0", dev_fraction=0.25, seed=0)
    (root / "train.yaml").write_text("loss: ws2\ngroup_size: 4\nmax_steps: 1\nreport_to: none\n")
    (root / "sources.yaml").write_text(f"- path: {root / 'ds'}\n  split: train\n")
    inputs.make_checkpoint_dir(root / "ckpt", minilm)
    inputs.make_results_dir(root / "results", model_name="org/minilm")
    (root / "release.yaml").write_text(
        f"queries:\n  source: {root / 'queries.jsonl'}\n  limit: 1\n"
        f"generation:\n  backend: openai\n  backend_options:\n    model: fake\n    base_url: {llm_url}\n"
        "    max_retries: 0\n  max_attempts: 1\n  batch_size: 2\n"
    )
    shutil.copy(ROOT / "configs" / "study_cpu.yaml", root / "study.yaml")
    return root


def clone(src: Path, dst: Path) -> None:
    """Copy an input for one case; files over 1 MB (model weights) are linked, not copied."""
    if src.is_file():
        shutil.copy(src, dst)
        return
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.stat().st_size > 1_000_000:
                os.symlink(path, target)
            else:
                shutil.copy(path, target)


def damaged(data: bytes, kind: str, fmt: str, rng: random.Random) -> bytes:
    """``data`` damaged the way ``kind`` says (``missing`` and ``folder`` are handled by the caller)."""
    text = data.decode("utf-8", errors="replace")
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "crlf":
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if kind == "header-row":
        header = {
            "tsv": "query-id\tcorpus-id\tscore\n" if text.count("\t") > len(text.splitlines()) else "id\ttext\n",
            "jsonl": "_id,text\n",
            "yaml": "---\n",
            "json": "",
            "bin": "",
        }[fmt]
        return header.encode() + data
    if kind == "truncated":
        return data[: rng.randint(1, max(1, len(data) - 1))]
    if kind == "latin-1":
        return text.replace("a", "à", 3).replace("e", "é", 3).encode("latin-1", errors="replace")
    if kind == "utf-16":
        return text.encode("utf-16")
    if kind == "wrong-columns":
        lines = text.splitlines(keepends=True)
        if fmt == "tsv":
            return "".join(
                line.replace("\t", "\t\t", 1) if n % 2 else line.split("\t")[0] + "\n" for n, line in enumerate(lines)
            ).encode()
        if fmt == "jsonl":
            return "".join(
                json.dumps(list(json.loads(line).values())) + "\n" if line.strip() else line for line in lines
            ).encode()
        if fmt in ("yaml", "json"):
            return b"- just\n- a list\n" if fmt == "yaml" else b'[1, "two", {"3": null}]'
        return data[len(data) // 2 :] + data[: len(data) // 2]  # a binary file with its halves swapped
    if kind == "empty":
        return b""
    if kind == "binary":
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 200))) + b"\x00\xff\xfe"
    raise ValueError(kind)


def place_input(
    workspace: Path, case_dir: Path, name: str, damage: str | None, target: int, seed: int, slot: int = 0
) -> Path:
    """The input ``name`` for one case: the shared good one, or a damaged copy in the case folder."""
    if damage is None:
        return workspace / name
    path = case_dir / "in" / str(slot) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    relative, fmt = TARGETS[name][target % len(TARGETS[name])]
    clone(workspace / name, path)
    victim = (sorted(path.glob(relative))[0] if "*" in relative else path / relative) if relative else path
    if damage == "missing":
        shutil.rmtree(victim) if victim.is_dir() else victim.unlink()
    elif damage == "folder":
        victim.unlink()
        victim.mkdir()
    else:
        victim.write_bytes(damaged(victim.read_bytes(), damage, fmt, random.Random(seed)))
    return path


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with what it is (files: size and modification time)."""
    state = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            state[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            state[rel] = ("dir",)
        else:
            stat = path.stat()
            state[rel] = ("file", stat.st_size, stat.st_mtime_ns)
    return state


def changes(before: dict, after: dict) -> list[str]:
    return sorted({k for k in before.keys() | after.keys() if before.get(k) != after.get(k)})


def outside(changed: list[str], allowed: list[str]) -> list[str]:
    """The changed paths that are neither an allowed output nor inside one."""
    return [p for p in changed if not any(p == a or p.startswith(a + "/") for a in allowed)]
