"""Refuse label policies whose result no list-wise loss or nDCG can use, and say which policy a judge supports.

A dataset whose documents all carry one level, or whose lists hold a single document, builds and trains
without error but teaches nothing: the loss has no ordering to learn and dev nDCG is undefined (``nan``).
``build`` checks the labels a policy leaves (``check_policy_result``) and the judge's closing hint asks
``recommend_policy`` which policy its own agreement figures support.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rankladder.core.errors import UserError

if TYPE_CHECKING:
    import polars

# Landis & Koch's "slight" band: below it the judge's grades carry next to nothing about the intended levels.
KAPPA_SLIGHT = 0.2
# Above it the judge alone may replace the intended levels.
KAPPA_SUBSTANTIAL = 0.6


def policy_figures(index: polars.DataFrame, documents_before: int, documents_unjudged: int = 0) -> dict:
    """Levels, lists and one-document lists left by a label policy (``index``: one row per kept document);
    ``documents_unjudged``: documents of the run without any judgement (dropped by ``judged``/``agree``)."""
    import polars as pl

    sizes = index.group_by("query_id").len()
    return {
        "documents_before": documents_before,
        "documents_kept": index.height,
        "documents_dropped": documents_before - index.height,
        "documents_unjudged": documents_unjudged,
        "levels": sorted(index.get_column("level").unique().to_list(), reverse=True),
        "lists": sizes.height,
        "one_document_lists": sizes.filter(pl.col("len") < 2).height,
    }


def combine_policy_figures(parts: list[dict]) -> dict:
    """``policy_figures`` of a whole dataset from those of partitions that split it by query (no query in two)."""
    summed = ("documents_before", "documents_kept", "documents_dropped", "documents_unjudged", "lists")
    summed += ("one_document_lists",)
    combined = {key: sum(part[key] for part in parts) for key in summed}
    combined["levels"] = sorted({level for part in parts for level in part["levels"]}, reverse=True)
    return {
        key: combined[key]
        for key in (
            "documents_before",
            "documents_kept",
            "documents_dropped",
            "documents_unjudged",
            "levels",
            "lists",
            "one_document_lists",
        )
    }


def check_policy_result(figures: dict, policy: str, allow_degenerate: bool) -> None:
    """Raise ``UserError`` (with the counts) when the labels left are unusable, unless explicitly allowed."""
    unjudged = figures.get("documents_unjudged", 0)
    if unjudged and not allow_degenerate:  # a judge that did not finish, or records added after it ran
        raise UserError(
            f"--labels {policy}: {unjudged} of {figures['documents_before']} documents were never judged and would "
            "be dropped: run `rankladder judge RUN_DIR` again (it judges only what is missing), or pass "
            "--allow-degenerate-labels to drop them"
        )
    problems = []
    if len(figures["levels"]) < 2:
        problems.append(f"{len(figures['levels'])} level ({', '.join(map(str, figures['levels'])) or 'none'})")
    if figures["one_document_lists"]:
        problems.append(f"{figures['one_document_lists']} of {figures['lists']} lists with one document")
    if problems and not allow_degenerate:
        raise UserError(
            f"--labels {policy}: leaves {' and '.join(problems)} "
            f"({figures['documents_kept']} of {figures['documents_before']} documents kept); a list-wise loss and "
            "nDCG are undefined there: choose another --labels/--max-disagreement, or pass --allow-degenerate-labels"
        )


def recommend_policy(pairs: list[tuple[int, int]], kappa: float | None, max_disagreement: int = 1) -> tuple[str, str]:
    """(``--labels`` value, why) from (intended, judged) pairs (each distinct pair once is enough: a ``Counter``
    of them will do) and their weighted κ.

    ``judged`` only when the judge uses several grades and agrees substantially; ``agree`` when it agrees at
    least slightly and the documents it keeps still span two levels; otherwise ``intended``.
    """
    if not pairs:
        return "intended", "the judge graded no document"
    judged_levels = {j for _, j in pairs}
    agreeing = {i for i, j in pairs if abs(i - j) <= max_disagreement}
    if len(judged_levels) < 2:
        return "intended", f"the judge gave every document grade {next(iter(judged_levels))}"
    if kappa is None or kappa < KAPPA_SLIGHT:
        return "intended", f"weighted κ {kappa} is too low for the judge's grades to label anything"
    if kappa >= KAPPA_SUBSTANTIAL:
        return "judged", f"weighted κ {kappa}: the judge agrees substantially"
    if len(agreeing) < 2:
        return "intended", f"the documents the judge agrees with span only level(s) {sorted(agreeing)}"
    return "agree", f"weighted κ {kappa}: keep the documents the judge agrees with"
