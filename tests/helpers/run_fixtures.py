"""RUN_DIRs in the generator's exact format from ready documents (no LLM), for tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

GRADED_DOCUMENTS = Path(__file__).resolve().parents[1] / "data" / "graded_documents.jsonl"


def write_run_dir(
    run_dir: Path, rows: list[dict], backend: str = "hand-written", shard: tuple[int, int] = (0, 1)
) -> Path:
    """A RUN_DIR in the generator's exact format from ready documents (no LLM): for tests that need
    clearly graded text. The build that reads it is the real one. ``shard`` (index, count) writes the
    rows as that shard of the run (call once per shard, same RUN_DIR)."""
    from rankladder.core.fsutil import sha256_file, sha256_json, write_json_atomic
    from rankladder.dataset_builder.generate import GenerationPlan, generation_record
    from rankladder.dataset_builder.levels import load_levels
    from rankladder.dataset_builder.prompts import load_template
    from rankladder.dataset_builder.queries import Query
    from rankladder.dataset_builder.runfiles import RECORDS, AppendWriter, manifest_path

    levels = {level.value: level for level in load_levels()}
    config = GenerationPlan(levels=list(levels.values()), template=load_template(), backend=backend)
    model = {"id": backend, "revision": None, "file_sha256": None}
    tag = f"shard-{shard[0]:05d}-of-{shard[1]:05d}"
    writer = AppendWriter(run_dir / RECORDS / f"{tag}.fixture.jsonl")
    for row in rows:
        writer.write(
            generation_record(
                Query(row["query_id"], row["query"]),
                levels[row["level"]],
                row.get("sample", 0),
                row["text"],
                attempt=0,
                seed=0,
                backend=backend,
                model=model,
                template=config.template,
                sampling=config.sampling,
                run_id="fixture",
            )
        )
    writer.close()
    queries = {row["query_id"] for row in rows}
    write_json_atomic(
        manifest_path(run_dir, *shard),
        {
            "kind": "rankladder-generation-run",
            "status": "complete",
            "shard": {"index": shard[0], "count": shard[1]},
            "config": config.identity(),
            "config_hash": sha256_json(config.identity())[:16],
            "prompt_template": config.template.to_dict(),
            "model": model,
            "queries": {
                "source": str(GRADED_DOCUMENTS),
                "format": "jsonl",
                "sha256": sha256_file(GRADED_DOCUMENTS),
                "available": len(queries),
                "duplicates_dropped": 0,
                "count": len(queries),
            },
            "counts": {"expected_records": len(rows), "records_all_runs": len(rows)},
        },
    )
    return run_dir


def write_judgements(run_dir: Path, judge, run_id: str = "fixture") -> Path:
    """Judgements of every record of ``run_dir`` in the judge's exact format (no LLM), with its manifest:
    ``judge(record) -> (reply, token_logprobs)`` answers for one record (``key``, ``query_id``, ``doc_id``,
    ``level``, ``text``), as a backend would; the judge's own functions read the answer and write the line."""
    from collections import Counter

    from rankladder.dataset_builder import schema
    from rankladder.dataset_builder.judge import (
        JudgePlan,
        _records_to_judge,
        judge_manifest_path,
        judgement,
        judgement_record,
        load_judge_template,
        run_levels,
        write_judge_manifest,
    )
    from rankladder.dataset_builder.runfiles import AppendWriter, shard_tag

    grades = sorted(level["value"] for level in run_levels(run_dir))
    rows = _records_to_judge(run_dir, (0, 1))
    writer, methods = AppendWriter(run_dir / schema.JUDGEMENTS / f"{shard_tag(0, 1)}.{run_id}.jsonl"), Counter()
    for row in rows:
        reply, token_logprobs = judge(row)
        found = judgement(reply, token_logprobs, grades)
        methods[found["method"]] += 1
        writer.write(judgement_record(row, found, reply, run_id))
    writer.close()
    plan = JudgePlan(template=load_judge_template(), backend="hand-written")
    model = {"id": "hand-written", "revision": None, "file_sha256": None}
    path = judge_manifest_path(run_dir, 0, 1)
    write_judge_manifest(run_dir, path, plan, (0, 1), "complete", model, rows, methods, run_id, 0.0)
    return path


def logprob_answer(probs: dict[int, float]) -> tuple[str, list]:
    """A backend's answer for a judge that puts ``probs`` on the grades: the top grade as reply and its
    token's alternatives as log-probabilities (the shape backends hand to ``judge.judgement``)."""
    import math

    top = max(probs, key=lambda g: (probs[g], -g))
    return str(top), [(str(top), {str(g): math.log(p) for g, p in probs.items() if p > 0})]
