"""``rankladder build``: RUN_DIRs → DATASET_DIR (parquet configs, card, stats, manifest).

Streams the generation records (pyarrow's JSON reader, only the needed fields, block by block) through
spill partitions (``build_stream``: memory bounded whatever the run's size), merges runs and shards
(first record per key wins), assigns content-hash doc ids, holds out whole queries for ``dev``, and
writes every config atomically.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.fsutil import (
    atomic_output_dir,
    check_replaceable,
    sha256_file,
    sha256_json,
    write_json_atomic,
)
from rankladder.core.locks import holds_output
from rankladder.core.manifest import tool_versions, utc_now
from rankladder.core.readback import scratch_cache_beside, verify_dataset
from rankladder.dataset_builder import agreement, schema
from rankladder.dataset_builder import merge as merge_rules
from rankladder.dataset_builder.build_buckets import LabelRules
from rankladder.dataset_builder.build_stream import write_configs
from rankladder.dataset_builder.config import BuildConfig
from rankladder.dataset_builder.run_reader import (  # noqa: F401 (re-exported)
    count_lines,
    has_judgements,
    iter_judgement_blocks,
    iter_record_blocks,
    read_records,
    read_run_manifests,
    unique_run_dirs,
)
from rankladder.dataset_builder.runfiles import REJECTS, iter_kind
from rankladder.dataset_builder.spill import HoldHook, memory_returned_promptly

SPILL_FOLDER = ".build-spill"  # inside the output's temp folder; removed before the read-back

log = logging.getLogger(__name__)
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def check_version(version: str) -> str:
    version = version[1:] if version.startswith("v") else version
    if not SEMVER.match(version):
        raise UserError(f"version (--version): {version!r} is not a semantic version X.Y.Z")
    return version


def _record_source(run_dirs: list[Path], merge_rule: str, rejects: list[dict], select_model):
    """``(blocks, records, settled, selection)``: the merged records as a stream of arrow tables, about how
    many there are (an upper bound), and a function giving the rejects settled against every record read
    (``stats.settle_given_up``) once the stream has been read."""
    import pyarrow as pa

    from rankladder.dataset_builder import stats

    if select_model is not None and select_model is not False:
        from rankladder.dataset_builder.selection import select_records

        records = merge_rules.apply_merge_rule(read_records(run_dirs), merge_rule)  # in memory: see --help
        settled = stats.settle_given_up(rejects, records.column("key"))
        records, selection = select_records(records, None if select_model is True else select_model)
        return [records], records.num_rows, lambda: settled, selection
    finals = pa.array(sorted({row["key"] for row in rejects if row.get("final")}), pa.string())
    found = []

    def blocks():
        import pyarrow.compute as pc

        for block in iter_record_blocks(run_dirs):
            block = merge_rules.apply_merge_rule(block, merge_rule)
            if len(finals):
                keys = block.column("key")
                found.append(pc.filter(keys, pc.is_in(keys, value_set=finals)))
            yield block

    def settled() -> list[dict]:
        keys = pa.chunked_array([chunk for array in found for chunk in array.chunks], pa.string())
        return stats.settle_given_up(rejects, keys)

    return blocks(), count_lines(run_dirs), settled, None


@holds_output("out")  # before any work: a second build into the same folder is refused, not silently lost
def build_dataset(
    run_dirs: list[str | Path],
    out: str | Path,
    version: str,
    config: BuildConfig | None = None,
    *,
    name: str | None = None,
    overwrite: bool = False,
    shard_bytes: int | None = None,
    rows_per_group: int | None = None,
    bucket_records: int | None = None,
    on_hold: HoldHook | None = None,
    **options,
) -> dict:
    """``rankladder build``'s entry function: DATASET_DIR ``out`` from one or more RUN_DIRs; returns the
    dataset manifest.

    ``config`` (:class:`rankladder.dataset_builder.config.BuildConfig`) holds every option of the stage;
    ``options`` are its fields as keyword arguments instead (``dev_fraction=0.25``; validated the same way).
    ``separability`` / ``select_by_similarity`` take a SentenceTransformer, a path/id, or ``True`` (the
    all-MiniLM-L6-v2 package): per-level separability of the lists in stats.json and the card; keep one of
    several samples per (query, level), the combination best ordered for that model. ``labels`` picks the
    qrels score / lists level from the intended level or the judgements of ``rankladder judge``; the
    agreement figures go to stats.json, the card and a PNG.
    Per call: ``name`` (default: the folder's name), ``overwrite``; ``shard_bytes`` caps each parquet shard (default ``schema.SHARD_BYTES``, the Hub's usual size) and
    ``rows_per_group`` sets its row groups (tests shrink both to get many shards from little data).
    ``bucket_records`` caps the records held in memory at once (default ``spill.BUCKET_RECORDS``): the run is
    spilled to partitions of that size under the output's temp folder (``build_stream``), and ``on_hold(phase,
    rows)`` is called each time one is loaded. ``select_model`` reads the whole run into memory (it compares
    every sample of a query); separability embeds the built lists in memory: both need memory that grows with
    the run.
    Before it returns, every config/split is read back through ``datasets.load_dataset`` and compared.
    """
    from rankladder.core.cli_model import config_from_options
    from rankladder.dataset_builder import card, card_sections, stats
    from rankladder.dataset_builder.judge import judge_manifests

    if config is None or options:
        config = config_from_options(BuildConfig, {**(config.model_dump() if config else {}), **options})
    labels, max_disagreement, merge_rule = config.labels, config.max_disagreement, config.merge
    dev_fraction, seed, allow_degenerate_labels = config.dev_fraction, config.seed, config.allow_degenerate_labels
    select_model, separability_model = config.select_by_similarity, config.separability
    version = check_version(version)
    if Path(out).exists() and not overwrite:
        raise UserError(f"{out}: output folder already exists (give overwrite (--overwrite) to replace it)")
    check_replaceable(out, schema.MANIFEST_FILE)  # --overwrite replaces a dataset, never a RUN_DIR or notes
    run_dirs = unique_run_dirs(run_dirs)
    run_manifests = read_run_manifests(run_dirs)
    incomplete = [m["_path"] for m in run_manifests if m.get("status") != "complete"]
    if incomplete:
        log.warning("building from runs that did not finish: %s", ", ".join(incomplete))
    generators = merge_rules.run_generators(run_dirs, run_manifests)
    merge_rules.check_merge_rule(run_dirs, generators, merge_rule)  # before any record is read
    rejects = [row for run_dir in run_dirs for row in iter_kind(run_dir, REJECTS)]
    judged = has_judgements(run_dirs)
    if labels != "intended" and not judged:
        raise UserError(
            f"labels (--labels) {labels}: {', '.join(map(str, run_dirs))} has no judgements; run "
            "`rankladder judge RUN_DIR` first"
        )
    out = Path(out)
    with memory_returned_promptly(), atomic_output_dir(out, overwrite=overwrite, replaces=schema.MANIFEST_FILE) as tmp:
        blocks, count, settled, selection = _record_source(run_dirs, merge_rule, rejects, select_model)
        spill = tmp / SPILL_FOLDER
        try:
            files, survey, merge = write_configs(
                blocks,
                count,
                tmp,
                spill,
                dev_fraction,
                seed,
                LabelRules(labels, max_disagreement, iter_judgement_blocks(run_dirs) if judged else None),
                {"shard_bytes": shard_bytes, "rows_per_group": rows_per_group},
                allow_degenerate_labels,
                bucket_records,
                on_hold,
            )
        finally:
            shutil.rmtree(spill, ignore_errors=True)
        rejects = settled()
        totals = {"queries": survey.queries, "documents": merge["documents"], "records": survey.kept_rows}
        figures = stats.compute(totals, survey.level_words, rejects, merge, run_manifests)
        if merge["labels"]:
            figures["labels"] = merge["labels"]
            agreement.plot(figures["labels"], tmp / schema.AGREEMENT_PLOT)
        if selection is not None:
            figures["selection"] = selection
        if separability_model is not None and separability_model is not False:
            from rankladder.dataset_builder.separability import dataset_separability

            figures["separability"] = dataset_separability(
                tmp, None if separability_model is True else separability_model
            )
        write_json_atomic(tmp / schema.STATS_FILE, figures)
        stats.plot(figures, tmp / schema.STATS_PLOT)
        file_hashes = {
            key: {
                "shards": [{"path": rel, "sha256": sha256_file(tmp / rel)} for rel in entry["paths"]],
                "rows": entry["readback"]["rows"],
            }
            for key, entry in files.items()
        }
        content_hash = sha256_json(file_hashes)  # identity of the data itself, not of card or stats
        manifest = {
            "kind": schema.DATASET_KIND,
            "name": name or out.name,
            "version": version,
            "created": utc_now(),
            "content_hash": content_hash,
            "levels": run_manifests[0]["config"]["levels"],
            "generation": card.generation_summary(run_manifests),
            # portable: a queries file is named, never by its path on this machine
            "queries_source": (card_sections.queries_sources(run_manifests) or [{}])[0],
            "queries_sources": card_sections.queries_sources(run_manifests),
            "generators": card_sections.generators(run_manifests),
            "counts": figures["counts"],
            "files": file_hashes,
            "readback": [entry["readback"] for entry in files.values()],
            "source_runs": [
                {
                    "path": Path(m["_path"]).parent.name,  # the run folder's name: no machine path leaves
                    "manifest": Path(m["_path"]).name,
                    "status": m.get("status"),
                    "config_hash": m.get("config_hash"),
                    "shard": m.get("shard"),
                }
                for m in run_manifests
            ],
            "build": {
                "dev_fraction": dev_fraction,
                "seed": seed,
                "select_by_similarity": selection["model"] if selection and selection["applied"] else None,
                "labels": labels,
                "max_disagreement": max_disagreement if labels == "agree" else None,
                "allow_degenerate_labels": allow_degenerate_labels,
                "label_policy_result": merge["label_policy"],
            },
            "merge": merge_rules.merge_report(run_dirs, generators, merge_rule, **merge["records_by_run"]),
            "judge": card.judge_summary(judge_manifests(run_dirs)),
            "tool_versions": tool_versions(),
        }
        write_json_atomic(tmp / schema.MANIFEST_FILE, manifest)
        card.write_basic_card(tmp, manifest, figures, load_path=str(out))
        with scratch_cache_beside(out) as cache:  # the folder loads back with exactly these rows, or nothing is kept
            verify_dataset(tmp, manifest["readback"], cache_dir=cache)
    return manifest
