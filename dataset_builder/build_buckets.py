"""One partition of ``build``'s records (all records of some queries): merged, deduplicated and labelled.

Every rule of the build that looks at more than one record looks only within one query (record keys
start with the query id; a query's text; a text twice in one list; a judgement is per query and
document), so a partition by query id gives, rule by rule, what the whole run in memory gave.
``Survey`` adds up what the dataset-wide figures need, as counters.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.dataset_builder import label_guard
from rankladder.dataset_builder import merge as merge_rules
from rankladder.dataset_builder.agreement import AgreementCounts, apply_label_policy, label_columns
from rankladder.dataset_builder.spill import Partitions, hash_parts
from rankladder.dataset_builder.stats import LevelWords

INDEX_COLUMNS = ["key", "query_id", "level", "words", "run", "doc_id", "row"]


class LabelRules:
    """The label policy and the judgements it reads: ``judgement_blocks`` (arrow tables of ``query_id``,
    ``doc_id``, ``grade``, ``expected_grade`` in build order, or None when the runs have none) are spilled by
    query id beside the records (:meth:`spill`), so a partition's labels are joined from that partition's
    judgements alone: nothing per judgement is held across the run."""

    def __init__(self, labels: str, max_disagreement: int, judgement_blocks=None):
        self.labels, self.max_disagreement = labels, max_disagreement
        self._blocks = judgement_blocks
        self._partitions: Partitions | None = None
        self.judged = False  # whether any judgement was read (set by ``spill``)

    def spill(self, folder: Path, parts: int) -> None:
        """Every judgement into its query's partition (the records' hash), in read order."""
        if self._blocks is None:
            return
        self._partitions = Partitions(folder, "judgements", parts)
        for block in self._blocks:
            if block.num_rows:
                self.judged = True
                self._partitions.write(block, hash_parts(block.column("query_id"), parts))
        self._partitions.close()
        self._blocks = None

    def judgements(self, part: int, on_hold=None, phase: str = "judgements"):
        """Partition ``part``'s judgements (``query_id``, ``doc_id``, ``grade``, ``expected``), the first of each
        document (the first RUN_DIR, then file order, wins); None when the runs have no judgements."""
        import polars as pl

        if not self.judged:
            return None
        table = self._partitions.read(part, None, on_hold, phase)
        if table is None:
            return pl.DataFrame(
                schema={"query_id": pl.String, "doc_id": pl.String, "grade": pl.Int32, "expected": pl.Float32}
            )
        return (
            pl.from_arrow(table)
            .select("query_id", "doc_id", "grade", pl.col("expected_grade").cast(pl.Float32).alias("expected"))
            .unique(subset=["query_id", "doc_id"], keep="first", maintain_order=True)
        )


class Survey:
    """Dataset-wide figures, added up partition by partition."""

    def __init__(self) -> None:
        self.read_by_run: Counter = Counter()
        self.kept_by_run: Counter = Counter()
        self.duplicate_keys = 0
        self.policy_parts: list[dict] = []  # one small dict per partition
        self.level_words = LevelWords()
        self.kept_rows = 0
        self.queries = 0
        # only with judgements: the agreement figures, as counts (bounded whatever the run's size)
        self.agreement = AgreementCounts()

    def policy_result(self) -> dict:
        return label_guard.combine_policy_figures(self.policy_parts)


def bucket_index(table, rules: LabelRules, survey: Survey | None = None, judged=None):
    """``(index, queries)`` of one partition: ``index`` one row per kept document (``query_id``, ``level``,
    ``words``, ``doc_id``, ``row``: the global read position, ``pos``: the position in ``table``, and the label
    columns), ``queries`` its queries (``_id``, ``text``) sorted by id. ``judged``: the partition's judgements
    (``LabelRules.judgements``). ``survey`` (first pass only) gets the partition's figures."""
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
    index = label_columns(index, judged)
    if survey is not None and judged is not None:
        survey.agreement.add(*(index.get_column(name).to_list() for name in ("intended", "grade", "expected")))
    documents_before = index.height
    unjudged = 0
    if rules.labels != "intended":  # documents the judge never saw: the policy would drop them without a word
        pairs_seen = ["query_id", "doc_id"]
        if judged is None:
            unjudged = index.height
        else:
            unjudged = index.join(judged.select(pairs_seen), on=pairs_seen, how="anti").height
    index = apply_label_policy(index, rules.labels, rules.max_disagreement)
    queries = queries.filter(pl.col("_id").is_in(index.get_column("query_id").unique().implode()))
    if survey is not None:
        survey.policy_parts.append(label_guard.policy_figures(index, documents_before, unjudged))
        survey.level_words.add(index.group_by("level", "words").len().iter_rows())
        survey.kept_rows += index.height
        survey.queries += queries.height
    return index, queries
