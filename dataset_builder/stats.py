"""Dataset statistics (per-level counts, lengths, rejects, duplicates) as JSON and a PNG."""

from __future__ import annotations

from collections import Counter
from pathlib import Path


def settle_given_up(rejects: list[dict], record_keys) -> list[dict]:
    """The rejects with the final attempts of keys that now have a record (``generate --retry-rejected``
    retried them) marked not final: they stay in the attempt history but are not given up."""
    import pyarrow as pa
    import pyarrow.compute as pc

    finals = sorted({row["key"] for row in rejects if row.get("final")})
    if not finals:
        return rejects
    found = pc.filter(record_keys, pc.is_in(record_keys, value_set=pa.array(finals, type=pa.string())))
    kept = set(pc.unique(found).to_pylist())
    return [dict(row, final=False) if row.get("final") and row["key"] in kept else row for row in rejects]


def compute(records, rejects: list[dict], merge: dict, run_manifests: list[dict]) -> dict:
    """``records`` is the merged polars frame (one row per key, with ``doc_id``)."""
    import polars as pl

    per_level = {
        str(row["level"]): row["len"]
        for row in records.group_by("level").len().sort("level", descending=True).iter_rows(named=True)
    }
    lengths = {}
    for level, group in records.group_by("level"):
        words = group.get_column("words").cast(pl.Float64)
        lengths[str(level[0])] = {
            "mean": round(float(words.mean()), 1),
            "median": float(words.median()),
            "p5": float(words.quantile(0.05)),
            "p95": float(words.quantile(0.95)),
        }
    lengths = dict(sorted(lengths.items(), key=lambda kv: -int(kv[0])))
    from rankladder.dataset_builder.filters import reason_names

    failed = Counter(row["reason"] for row in rejects)
    final = len({row["key"] for row in rejects if row.get("final")})  # a key given up twice counts once
    filters = set(reason_names())
    expected = sum(m.get("counts", {}).get("expected_records", 0) for m in run_manifests)
    return {
        "counts": {
            "queries": records.get_column("query_id").n_unique(),
            "documents": records.get_column("doc_id").n_unique(),
            "records": records.height,
            "expected_records": expected,
            "per_level": per_level,
            "rejected_keys": final,
            "failed_attempts": sum(failed.values()),
            "failed_attempts_by_reason": dict(failed.most_common()),
            "duplicate_keys_merged": merge["duplicate_keys"],
            "duplicate_documents": merge["duplicate_documents"],
            "train_queries": merge["train_queries"],
            "dev_queries": merge["dev_queries"],
        },
        "words_per_level": lengths,
        "degeneration_filters": {  # Gopher-style rules in validation (dataset_builder/filters.py)
            "failed_attempts": sum(n for reason, n in failed.items() if reason in filters),
            "by_filter": {reason: n for reason, n in failed.most_common() if reason in filters},
            "rejected_keys": len({row["key"] for row in rejects if row.get("final") and row["reason"] in filters}),
        },
    }


def plot(figures: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = list(figures["counts"]["per_level"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(levels, [figures["counts"]["per_level"][lv] for lv in levels], color="#4c72b0")
    left.set(title="documents per relevance level", xlabel="level", ylabel="documents")
    words = figures["words_per_level"]
    means = [words[lv]["mean"] for lv in levels]
    low = [words[lv]["mean"] - words[lv]["p5"] for lv in levels]
    high = [words[lv]["p95"] - words[lv]["mean"] for lv in levels]
    right.bar(levels, means, yerr=[low, high], capsize=4, color="#55a868")
    right.set(title="words per document (mean, p5–p95)", xlabel="level", ylabel="words")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
