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
