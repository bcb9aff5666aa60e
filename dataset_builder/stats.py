"""Dataset statistics (per-level counts, lengths, rejects, duplicates) as JSON and a PNG."""

from __future__ import annotations

import math
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


class LevelWords:
    """Documents and their word counts per level, as counters: what ``compute`` needs, in memory that does
    not grow with the documents (one counter entry per distinct length)."""

    def __init__(self) -> None:
        self.by_level: dict[int, Counter] = {}

    def add(self, counted) -> None:
        """Add one partition's documents: ``(level, words, documents)`` triples."""
        for level, length, n in counted:
            self.by_level.setdefault(int(level), Counter())[int(length)] += n

    def per_level(self) -> dict[str, int]:
        return {str(level): sum(self.by_level[level].values()) for level in sorted(self.by_level, reverse=True)}

    def lengths(self) -> dict[str, dict]:
        """Mean, median, p5 and p95 of the words per level, exactly as polars gives them on the full column
        (quantiles: the ``nearest`` rank, half up; median: the mean of the middle two)."""
        figures = {}
        for level in sorted(self.by_level, reverse=True):
            counts = self.by_level[level]
            n = sum(counts.values())
            figures[str(level)] = {
                "mean": round(sum(length * k for length, k in counts.items()) / n, 1),
                "median": _linear(counts, n, 0.5),
                "p5": float(_at(counts, math.floor((n - 1) * 0.05 + 0.5))),
                "p95": float(_at(counts, math.floor((n - 1) * 0.95 + 0.5))),
            }
        return figures


def _at(counts: Counter, index: int) -> int:
    """The ``index``-th (0-based) value of the sorted values that ``counts`` counts."""
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if index < seen:
            return value
    raise IndexError(index)


def _linear(counts: Counter, n: int, q: float) -> float:
    position = (n - 1) * q
    low = math.floor(position)
    below, above = _at(counts, low), _at(counts, min(low + 1, n - 1))
    return float(below + (above - below) * (position - low))


def compute(totals: dict, level_words: LevelWords, rejects: list[dict], merge: dict, run_manifests: list[dict]) -> dict:
    """``totals``: ``queries``, ``documents`` (distinct) and ``records`` (kept rows) of the built dataset;
    ``level_words``: the kept rows' levels and word counts."""
    per_level = level_words.per_level()
    lengths = level_words.lengths()
    from rankladder.dataset_builder.filters import reason_names

    failed = Counter(row["reason"] for row in rejects)
    final = len({row["key"] for row in rejects if row.get("final")})  # a key given up twice counts once
    filters = set(reason_names())
    expected = sum(m.get("counts", {}).get("expected_records", 0) for m in run_manifests)
    return {
        "counts": {
            "queries": totals["queries"],
            "documents": totals["documents"],
            "records": totals["records"],
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
    # a skewed level can have its mean below p5 (or above p95): its bar then has no whisker on that side
    low = [max(0.0, words[lv]["mean"] - words[lv]["p5"]) for lv in levels]
    high = [max(0.0, words[lv]["p95"] - words[lv]["mean"]) for lv in levels]
    right.bar(levels, means, yerr=[low, high], capsize=4, color="#55a868")
    right.set(title="words per document (mean, p5–p95)", xlabel="level", ylabel="words")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
