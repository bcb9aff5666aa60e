"""How ``build`` merges RUN_DIRs: shards of one generator as one run; different generators only when asked.

Two RUN_DIRs from different generators (model, prompt, sampling) used to be merged by record key, the
first run silently winning every shared (query, level, sample): lists mixed the two generators and no
output said which won. Now such runs are refused with the differences named, unless a rule is chosen:

- ``first``: the first RUN_DIR's record per key (later runs fill only keys it lacks);
- ``keep-all``: every run's documents, as separate samples of their (query, level).

Runs from one generator identity (the shards of a run, resumed or split across machines) merge as
before. The manifest, the card and the closing summary say how many records each run gave.
"""

from __future__ import annotations

import json
from pathlib import Path

from rankladder.core.errors import UserError

MERGE_RULES = ("refuse", "first", "keep-all")


def generator_identity(manifest: dict) -> dict:
    """What makes two runs' documents come from the same generator."""
    config = manifest.get("config") or {}
    model = manifest.get("model") or {}
    return {
        "backend": config.get("backend"),
        "model": model.get("id") if isinstance(model, dict) else model,
        "model_revision": model.get("revision") if isinstance(model, dict) else None,
        "model_file_sha256": model.get("file_sha256") if isinstance(model, dict) else None,
        "prompt_hash": (config.get("prompt") or {}).get("hash"),
        "sampling": config.get("sampling"),
        "backend_options": config.get("backend_options"),
    }


def run_generators(run_dirs: list[Path], run_manifests: list[dict]) -> list[dict]:
    """One generator identity per RUN_DIR (its shards share one: ``generate`` refuses another config)."""
    by_dir = {}
    for manifest in run_manifests:
        by_dir.setdefault(str(Path(manifest["_path"]).parent), generator_identity(manifest))
    return [by_dir[str(run_dir)] for run_dir in run_dirs]


def same_generator(first: dict, other: dict) -> bool:
    """Equal identities; a model that is not recorded (a shard that had nothing to generate never loaded
    one: its manifest says ``model: null``) matches any."""
    model_keys = ("model", "model_revision", "model_file_sha256")
    if first["model"] is None or other["model"] is None:
        first, other = ({k: v for k, v in g.items() if k not in model_keys} for g in (first, other))
    return first == other


def _differences(first: dict, other: dict) -> str:
    parts = []
    for key in first:
        if first[key] != other[key]:
            parts.append(f"{key} {json.dumps(first[key], sort_keys=True)} vs {json.dumps(other[key], sort_keys=True)}")
    return "; ".join(parts)


def check_merge_rule(run_dirs: list[Path], generators: list[dict], rule: str) -> bool:
    """Raise when runs of different generators meet without an explicit rule; True when they differ."""
    if rule not in MERGE_RULES:
        raise UserError(f"merge (--merge): unknown rule {rule!r} (choose from {', '.join(MERGE_RULES)})")
    for run_dir, generator in zip(run_dirs[1:], generators[1:]):
        if not same_generator(generators[0], generator) and rule == "refuse":
            raise UserError(
                f"{run_dirs[0]} and {run_dir} come from different generators ({_differences(generators[0], generator)}); "
                "pass --merge first (the first run's record per key) or --merge keep-all (every document, as "
                "separate samples), or build them separately"
            )
    return any(not same_generator(generators[0], generator) for generator in generators)


def apply_merge_rule(records, rule: str):
    """``keep-all``: record keys made distinct per run, so no run's document replaces another's."""
    if rule != "keep-all":
        return records
    import pyarrow as pa
    import pyarrow.compute as pc

    run = pc.cast(records.column("run"), pa.string())
    keys = pc.binary_join_element_wise(run, records.column("key"), "\x1f")
    return records.set_column(records.schema.get_field_index("key"), "key", keys)


def counts_by_run(index) -> dict[int, int]:
    """Rows per run index (``index``: a polars frame with a ``run`` column)."""
    import polars as pl

    return {int(run): int(n) for run, n in index.group_by("run").agg(pl.len()).iter_rows()}


def merge_report(run_dirs: list[Path], generators: list[dict], rule: str, read: dict, kept: dict) -> dict:
    """The manifest's ``merge`` block: the rule and what each run gave."""
    return {
        "rule": rule,
        "generators_differ": any(not same_generator(generators[0], g) for g in generators),
        "runs": [
            {
                "path": Path(run_dir).name,  # portable: the manifest and card leave the machine
                "generator": {"model": g["model"], "prompt_hash": g["prompt_hash"], "backend": g["backend"]},
                "records_read": int(read.get(i, 0)),
                "records_kept": int(kept.get(i, 0)),
            }
            for i, (run_dir, g) in enumerate(zip(run_dirs, generators))
        ],
    }


def summary_line(merge: dict) -> str:
    """``runs/a 28 of 28 records · runs/b 0 of 12 (rule first)`` for the closing summary and the card."""
    runs = merge.get("runs") or []
    if len(runs) < 2:
        return ""
    parts = [
        f"{r['path']} ({r['generator']['model']}): {r['records_kept']} of {r['records_read']} records" for r in runs
    ]
    return " · ".join(parts) + f" (--merge {merge['rule']})"
