"""A judged RUN_DIR's files: the run's levels and backend (read), the judge manifest per shard (written with
true counts on every exit), and the judgements as ``build`` and the tests read them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_json, write_json_atomic
from rankladder.core.manifest import tool_versions, utc_now
from rankladder.dataset_builder import schema
from rankladder.dataset_builder.runfiles import iter_kind, manifests, shard_tag

if TYPE_CHECKING:
    from rankladder.dataset_builder.judge import JudgePlan

JUDGE_KIND = "rankladder-judge-run"


def judge_manifest_path(run_dir: Path, index: int, count: int) -> Path:
    return run_dir / f"judge-manifest.{shard_tag(index, count)}.json"


def run_levels(run_dir: Path) -> list[dict]:
    paths = manifests(run_dir)
    if not paths:
        raise UserError(f"{run_dir}: not a generation RUN_DIR (no manifest.shard-*.json)")
    try:
        return json.loads(paths[0].read_text(encoding="utf-8"))["config"]["levels"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise UserError(f"{paths[0]}: corrupt run manifest (no config.levels)") from None


def generator_backend(run_dir: Path) -> tuple[str, dict]:
    """The backend and options the run was generated with (the judge's default)."""
    paths = manifests(Path(run_dir))
    if not paths:
        raise UserError(f"{run_dir}: not a generation RUN_DIR (no manifest.shard-*.json)")
    config = json.loads(paths[0].read_text(encoding="utf-8")).get("config", {})
    return config.get("backend", "transformers"), dict(config.get("backend_options") or {})


def write_judge_manifest(
    run_dir: Path,
    path: Path,
    config: JudgePlan,
    shard: tuple[int, int],
    status: str,
    model: dict | None,
    rows: list[dict],
    counts: Counter,
    run_id: str,
    elapsed: float,
    error: str | None = None,
) -> None:
    keys = {row["key"] for row in rows}
    methods = Counter(row["method"] for row in iter_kind(run_dir, schema.JUDGEMENTS) if row["key"] in keys)
    write_json_atomic(
        path,
        {
            "kind": JUDGE_KIND,
            "status": status,
            "shard": {"index": shard[0], "count": shard[1]},
            "config": config.identity(),
            "config_hash": sha256_json(config.identity())[:16],
            "prompt_template": config.template.to_dict(),
            "model": model,
            "counts": {
                "records_in_shard": len(rows),
                "judged_all_runs": sum(methods.values()),
                "by_method": dict(methods),
                "this_run": dict(counts),
            },
            "last_run": {"run_id": run_id, "finished": utc_now(), "seconds": round(elapsed, 2)},
            "tool_versions": tool_versions(),
            **({"error": error} if error else {}),
        },
    )


def read_judgements(run_dirs: list[Path]) -> dict[tuple[str, str], dict]:
    """``(query_id, doc_id) -> judgement`` over the RUN_DIRs (first wins), for ``build``."""
    found: dict[tuple[str, str], dict] = {}
    for run_dir in run_dirs:
        for row in iter_kind(Path(run_dir), schema.JUDGEMENTS):
            found.setdefault((row["query_id"], row["doc_id"]), row)
    return found


def judge_manifests(run_dirs: list[Path]) -> list[dict]:
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for run_dir in run_dirs
        for p in sorted(Path(run_dir).glob("judge-manifest.shard-*.json"))
    ]
