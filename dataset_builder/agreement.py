"""Intended level × judged grade: confusion matrix, per-level agreement, weighted Cohen's κ, and the
label policies of ``build --labels intended|judged|agree``.

κ uses quadratic weights (Cohen 1968), the usual choice for ordinal relevance grades: a 3 judged as
2 costs a ninth of a 3 judged as 0. Linear-weighted κ is reported beside it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars


def confusion(pairs: list[tuple[int, int]], grades: list[int]) -> list[list[int]]:
    """``matrix[i][j]``: documents intended at ``grades[i]`` and judged ``grades[j]`` (grades high → low)."""
    return confusion_of_counts(Counter(pairs), grades)


def confusion_of_counts(pairs: Counter, grades: list[int]) -> list[list[int]]:
    """:func:`confusion` from ``(intended, judged) -> documents`` counts."""
    index = {g: i for i, g in enumerate(grades)}
    matrix = [[0] * len(grades) for _ in grades]
    for (intended, judged), n in pairs.items():
        if intended in index and judged in index:
            matrix[index[intended]][index[judged]] += n
    return matrix


def weighted_kappa(matrix: list[list[int]], grades: list[int], power: int = 2) -> float | None:
    """Cohen's κ with weights ``|g_i - g_j| ** power`` (2: quadratic, 1: linear); None when undefined."""
    total = sum(map(sum, matrix))
    if total == 0:
        return None
    rows = [sum(row) / total for row in matrix]
    cols = [sum(matrix[i][j] for i in range(len(grades))) / total for j in range(len(grades))]
    observed = expected = 0.0
    for i, gi in enumerate(grades):
        for j, gj in enumerate(grades):
            weight = abs(gi - gj) ** power
            observed += weight * matrix[i][j] / total
            expected += weight * rows[i] * cols[j]
    if expected == 0:
        return None
    return round(1.0 - observed / expected, 4)


class AgreementCounts:
    """What the ``labels`` block of stats.json needs, added up document by document as counts: memory does not
    grow with the documents (issue 23), and the figures are exactly those of the whole list at once (the mean
    expected grade is a running sum in read order, the order the former list summed in)."""

    def __init__(self) -> None:
        self.documents = 0
        self.by_intended: Counter = Counter()  # intended level -> documents (judged or not)
        self.pairs: Counter = Counter()  # (intended, judged) -> documents
        self.expected_sum: dict[int, float] = {}  # intended level -> sum of the judge's expected grades
        self.expected_count: Counter = Counter()

    def add(self, intended: Iterable[int], judged: Iterable[int | None], expected: Iterable[float | None]) -> None:
        """One document per position; ``judged``/``expected`` hold None for unjudged documents."""
        for level, grade, mean in zip(intended, judged, expected):
            self.documents += 1
            self.by_intended[level] += 1
            if grade is not None:
                self.pairs[level, grade] += 1
            if mean is not None:
                self.expected_sum[level] = self.expected_sum.get(level, 0) + mean
                self.expected_count[level] += 1

    def levels(self) -> list[int]:
        """The intended levels seen, high → low."""
        return sorted(self.by_intended, reverse=True)

    def summary(self, max_disagreement: int, grades: list[int] | None = None) -> dict:
        """The ``labels`` block of stats.json over ``grades`` (default: the intended levels seen)."""
        grades = sorted(self.levels() if grades is None else grades, reverse=True)
        index = {g: i for i, g in enumerate(grades)}
        matrix = confusion_of_counts(self.pairs, grades)
        judged_total = sum(self.pairs.values())
        per_level = {}
        for row, grade in zip(matrix, grades):
            n, count = sum(row), self.expected_count[grade]
            per_level[str(grade)] = {
                "judged": n,
                "agree": row[index[grade]],
                "agreement": round(row[index[grade]] / n, 4) if n else None,
                "mean_expected_grade": round(self.expected_sum[grade] / count, 3) if count else None,
            }
        agree = sum(n for (i, j), n in self.pairs.items() if abs(i - j) <= max_disagreement)
        exact = sum(n for (i, j), n in self.pairs.items() if i == j)
        return {
            "grades": grades,
            "documents": self.documents,
            "judged": judged_total,
            "unjudged": self.documents - judged_total,
            "confusion_matrix": {"rows": "intended level", "columns": "judged grade", "matrix": matrix},
            "exact_agreement": round(exact / judged_total, 4) if judged_total else None,
            "kappa_quadratic": weighted_kappa(matrix, grades, 2),
            "kappa_linear": weighted_kappa(matrix, grades, 1),
            "per_level": per_level,
            "documents_kept_by_policy": {
                "intended": self.documents,
                "judged": judged_total,
                f"agree(max_disagreement={max_disagreement})": agree,
            },
        }


def summarize(
    intended: list[int],
    judged: list[int | None],
    expected: list[float | None],
    grades: list[int],
    max_disagreement: int,
) -> dict:
    """The ``labels`` block of stats.json from per-document lists (``AgreementCounts`` over them)."""
    counts = AgreementCounts()
    counts.add(intended, judged, expected)
    return counts.summary(max_disagreement, grades)


def to_markdown(labels: dict) -> str:
    grades = labels["grades"]
    head = "| intended \\ judged | " + " | ".join(str(g) for g in grades) + " | agreement | mean expected grade |"
    lines = [head, "|" + "---|" * (len(grades) + 3)]
    for grade, row in zip(grades, labels["confusion_matrix"]["matrix"]):
        level = labels["per_level"][str(grade)]
        share = "–" if level["agreement"] is None else f"{level['agreement']:.0%}"
        mean = "–" if level["mean_expected_grade"] is None else f"{level['mean_expected_grade']:.2f}"
        lines.append(f"| {grade} | " + " | ".join(map(str, row)) + f" | {share} | {mean} |")
    keeps = ", ".join(f"{name}: {n}" for name, n in labels["documents_kept_by_policy"].items())
    kappa = labels["kappa_quadratic"]
    return (
        "\n".join(lines) + f"\n\nWeighted Cohen's κ (quadratic): {'–' if kappa is None else kappa}; "
        f"exact agreement: {labels['exact_agreement']}; {labels['judged']} of {labels['documents']} documents "
        f"judged. Documents kept by label policy: {keeps}. Labels used here: `{labels.get('policy', 'intended')}`.\n"
    )


def plot(labels: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grades, matrix = labels["grades"], labels["confusion_matrix"]["matrix"]
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    shares = [[v / max(sum(row), 1) for v in row] for row in matrix]
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, str(value), ha="center", va="center", color="white" if shares[i][j] > 0.5 else "black")
    ax.set_xticks(range(len(grades)), [str(g) for g in grades])
    ax.set_yticks(range(len(grades)), [str(g) for g in grades])
    ax.set(
        xlabel="judged grade", ylabel="intended level", title=f"intended × judged (κ_w = {labels['kappa_quadratic']})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- label policies (build) ---------------------------------------------------------------------


def label_columns(index, judged: polars.DataFrame | None) -> polars.DataFrame:
    """``index`` plus ``intended``, ``grade``, ``expected`` (null where the document was not judged).
    ``judged``: the judgements of ``index``'s queries (``query_id``, ``doc_id``, ``grade``, ``expected``), at most
    one per document, or None when the runs have none."""
    import polars as pl

    if judged is None:
        return index.with_columns(
            pl.col("level").alias("intended"),
            pl.lit(None, pl.Int32).alias("grade"),
            pl.lit(None, pl.Float32).alias("expected"),
        )
    return index.with_columns(pl.col("level").alias("intended")).join(
        judged, on=["query_id", "doc_id"], how="left", maintain_order="left"
    )


def apply_label_policy(index, policy: str, max_disagreement: int) -> polars.DataFrame:
    """``level`` becomes the training/qrels label: ``intended`` keeps it, ``judged`` takes the judge's
    grade (unjudged documents dropped), ``agree`` keeps documents with ``|intended - judged| <= max_disagreement``
    (``schema.policy_label``, the same rule per document)."""
    import polars as pl

    if policy == "intended":
        return index
    index = index.filter(pl.col("grade").is_not_null())
    if policy == "judged":
        return index.with_columns(pl.col("grade").alias("level"))
    return index.filter((pl.col("grade") - pl.col("intended")).abs() <= max_disagreement)
