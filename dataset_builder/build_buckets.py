"""One partition of ``build``'s records (all records of some queries): merged, deduplicated and labelled.

Every rule of the build that looks at more than one record looks only within one query (record keys
start with the query id; a query's text; a text twice in one list; a judgement is per query and
document), so a partition by query id gives, rule by rule, what the whole run in memory gave.
``Survey`` adds up what the dataset-wide figures need, as counters.
"""

from __future__ import annotations

from collections import Counter

from rankladder.core.errors import UserError
from rankladder.dataset_builder import label_guard
from rankladder.dataset_builder import merge as merge_rules
from rankladder.dataset_builder.agreement import apply_label_policy, label_columns
from rankladder.dataset_builder.stats import LevelWords

INDEX_COLUMNS = ["key", "query_id", "level", "words", "run", "doc_id", "row"]


class LabelRules:
    def __init__(self, judgements: dict | None, labels: str, max_disagreement: int):
        self.judgements, self.labels, self.max_disagreement = judgements or {}, labels, max_disagreement


class Survey:
    """Dataset-wide figures, added up partition by partition."""

    def __init__(self) -> None:
        self.read_by_run: Counter = Counter()
        self.kept_by_run: Counter = Counter()
        self.duplicate_keys = 0
        self.policy_parts: list[dict] = []
        self.level_words = LevelWords()
        self.kept_rows = 0
        self.queries = 0
        # only with judgements: the agreement figures need every judged document's labels
        self.intended: list[int] = []
        self.grades: list[int | None] = []
        self.expected: list[float | None] = []

    def policy_result(self) -> dict:
        return label_guard.combine_policy_figures(self.policy_parts)


def bucket_index(table, rules: LabelRules, survey: Survey | None = None):
    """``(index, queries)`` of one partition: ``index`` one row per kept document (``query_id``, ``level``,
    ``words``, ``doc_id``, ``row``: the global read position, ``pos``: the position in ``table``, and the label
    columns), ``queries`` its queries (``_id``, ``text``) sorted by id. ``survey`` (first pass only) gets the
    partition's figures."""
    import polars as pl

    index = pl.from_arrow(table.select(INDEX_COLUMNS)).with_columns(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("pos")
    )
    total = index.height
    if survey is not None:
        survey.read_by_run.update(merge_rules.counts_by_run(index))
    if index.get_column("key").n_unique() != total:  # the partition is in read order: the first record wins
        index = index.unique(subset="key", keep="first", maintain_order=True)
    if survey is not None:
        survey.kept_by_run.update(merge_rules.counts_by_run(index))
        survey.duplicate_keys += total - index.height
    index = index.drop("key", "run")
    pairs = pl.from_arrow(table.select(["query_id", "query"])).unique()
    conflicts = pairs.group_by("query_id").len().filter(pl.col("len") > 1)
    if conflicts.height:
        raise UserError(f"query id {conflicts.get_column('query_id')[0]!r} has different texts in different runs")
    queries = pairs.select(pl.col("query_id").alias("_id"), pl.col("query").alias("text")).sort("_id")
    if index.select(pl.struct("query_id", "doc_id").n_unique()).item() != index.height:
        # the same text twice in one query's list: keep its highest level (then the first read)
        index = index.sort("level", descending=True, maintain_order=True).unique(
            subset=["query_id", "doc_id"], keep="first", maintain_order=True
        )
    index = label_columns(index, rules.judgements)
    if survey is not None and rules.judgements:
        survey.intended += index.get_column("intended").to_list()
        survey.grades += index.get_column("grade").to_list()
        survey.expected += index.get_column("expected").to_list()
    documents_before = index.height
    unjudged = 0
    if rules.labels != "intended":  # documents the judge never saw: the policy would drop them without a word
        judged = rules.judgements
        unjudged = sum(pair not in judged for pair in zip(index.get_column("query_id"), index.get_column("doc_id")))
    index = apply_label_policy(index, rules.labels, rules.max_disagreement)
    queries = queries.filter(pl.col("_id").is_in(index.get_column("query_id").unique().implode()))
    if survey is not None:
        survey.policy_parts.append(label_guard.policy_figures(index, documents_before, unjudged))
        survey.level_words.add(index.group_by("level", "words").len().iter_rows())
        survey.kept_rows += index.height
        survey.queries += queries.height
    return index, queries
