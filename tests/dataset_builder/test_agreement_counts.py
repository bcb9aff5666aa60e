"""Issue 23: a judged build's agreement figures are counts, not a list per document.

``agreement.AgreementCounts`` adds judgements up partition by partition; its figures must be exactly those
the former per-document computation gave (kept below as the reference), its memory must not grow with the
documents, and a judged build split into many partitions must write what one partition writes, and what the
build wrote before the figures became counts (``tests/data/judged_build_stats.json``, written by the
former code from the run of ``judged_fixture_run``).
"""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rankladder.dataset_builder import schema
from rankladder.dataset_builder.agreement import AgreementCounts, confusion, weighted_kappa
from rankladder.dataset_builder.build import build_dataset
from rankladder.dataset_builder.runfiles import iter_kind
from tests.helpers.run_fixtures import logprob_answer, write_judgements, write_run_dir

STATS_BEFORE = Path(__file__).resolve().parents[1] / "data" / "judged_build_stats.json"


def reference_summarize(intended, judged, expected, grades, max_disagreement) -> dict:
    """The former ``agreement.summarize``, verbatim: every document's labels in three lists."""
    grades = sorted(grades, reverse=True)
    pairs = [(i, j) for i, j in zip(intended, judged) if j is not None]
    matrix = confusion(pairs, grades)
    per_level = {}
    for row, grade in zip(matrix, grades):
        n = sum(row)
        mean = [e for i, e in zip(intended, expected) if i == grade and e is not None]
        per_level[str(grade)] = {
            "judged": n,
            "agree": row[grades.index(grade)],
            "agreement": round(row[grades.index(grade)] / n, 4) if n else None,
            "mean_expected_grade": round(sum(mean) / len(mean), 3) if mean else None,
        }
    keeps = {
        "intended": len(intended),
        "judged": len(pairs),
        f"agree(max_disagreement={max_disagreement})": sum(abs(i - j) <= max_disagreement for i, j in pairs),
    }
    exact = sum(i == j for i, j in pairs)
    return {
        "grades": grades,
        "documents": len(intended),
        "judged": len(pairs),
        "unjudged": len(intended) - len(pairs),
        "confusion_matrix": {"rows": "intended level", "columns": "judged grade", "matrix": matrix},
        "exact_agreement": round(exact / len(pairs), 4) if pairs else None,
        "kappa_quadratic": weighted_kappa(matrix, grades, 2),
        "kappa_linear": weighted_kappa(matrix, grades, 1),
        "per_level": per_level,
        "documents_kept_by_policy": keeps,
    }


document = st.tuples(
    st.integers(0, 4),  # intended level
    st.none() | st.integers(-1, 5),  # judged grade: off the scale too
    st.none() | st.floats(0, 4, allow_nan=False, width=32),  # the judge's expected grade (float32 in build)
)


@settings(max_examples=200, deadline=None)
@given(st.lists(document, max_size=60), st.integers(0, 3), st.lists(st.integers(1, 20), min_size=1))
def test_counts_give_exactly_the_figures_of_every_document_at_once(documents, max_disagreement, chunks):
    intended = [d[0] for d in documents]
    judged = [d[1] for d in documents]
    expected = [d[2] for d in documents]
    counts, start = AgreementCounts(), 0
    while start < len(documents):  # in partitions of varying size, as the build adds them
        size = chunks[start % len(chunks)]
        counts.add(intended[start : start + size], judged[start : start + size], expected[start : start + size])
        start += size
    reference = reference_summarize(intended, judged, expected, sorted(set(intended)), max_disagreement)
    assert counts.summary(max_disagreement) == reference
    assert counts.summary(max_disagreement, [0, 1, 2, 3]) == reference_summarize(
        intended, judged, expected, [0, 1, 2, 3], max_disagreement
    )


def _accumulate_peak(documents: int) -> int:
    """tracemalloc's peak while ``documents`` judgements are added in partitions of 1,000."""
    rng = random.Random(documents)
    tracemalloc.start()
    try:
        counts = AgreementCounts()
        for _ in range(documents // 1000):
            intended = [rng.randrange(4) for _ in range(1000)]
            judged = [None if rng.random() < 0.1 else rng.randrange(4) for _ in range(1000)]
            counts.add(intended, judged, [None if j is None else rng.random() * 3 for j in judged])
            del intended, judged
        assert counts.documents == documents
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_accumulating_ten_times_the_judgements_takes_no_more_memory():
    small, large = _accumulate_peak(20_000), _accumulate_peak(200_000)
    # one partition's lists (~100 KiB) either way; per-document lists would add ~5 MiB per 180k documents
    assert large - small < 64 << 10, (small, large)


def judged_fixture_run(folder: Path) -> Path:
    """120 queries (4 levels, some second samples) judged by a seeded random judge: logprobs, parsed replies
    and unparsed ones, so some documents stay unjudged."""
    rng = random.Random(7)
    rows = []
    for i in range(120):
        for level in (3, 2, 1, 0):
            text = f"doc {i} at level {level} about water"
            rows.append({"query_id": f"q{i:03d}", "query": f"question {i}", "level": level, "text": text})
        if i % 10 == 0:
            rows.append(
                {"query_id": f"q{i:03d}", "query": f"question {i}", "level": 2, "text": f"second {i}", "sample": 1}
            )
    run = write_run_dir(folder, rows)

    def judge(record: dict):
        kind = rng.random()
        if kind < 0.1:
            return "no idea", None
        if kind < 0.25:
            return f"Grade: {rng.choice([0, 1, 2, 3])}", None
        raw = {g: rng.random() + (2.0 if g == record["level"] else 0.0) for g in (0, 1, 2, 3)}
        return logprob_answer({g: v / sum(raw.values()) for g, v in raw.items()})

    write_judgements(run, judge)
    return run


def _outputs(folder: Path) -> dict[str, bytes]:
    names = [*folder.rglob("*.parquet"), folder / schema.STATS_FILE, folder / schema.AGREEMENT_PLOT]
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(names)}


def test_judged_build_over_partitions_writes_what_the_former_build_wrote(tmp_path):
    run = judged_fixture_run(tmp_path / "run")
    before = json.loads(STATS_BEFORE.read_text())
    for policy in ("intended", "judged", "agree"):
        options = {"dev_fraction": 0.2, "labels": policy, "allow_degenerate_labels": True}
        whole = build_dataset([run], tmp_path / policy, "0.1.0", **options)
        held: list[tuple[str, int]] = []
        parts = build_dataset(
            [run],
            tmp_path / f"{policy}-parts",
            "0.1.0",
            bucket_records=60,
            on_hold=lambda *a, held=held: held.append(a),
            **options,
        )
        assert json.loads((tmp_path / policy / schema.STATS_FILE).read_text()) == before[policy], policy
        assert _outputs(tmp_path / f"{policy}-parts") == _outputs(tmp_path / policy), policy
        assert parts["content_hash"] == whole["content_hash"]
        judgement_loads = [rows for phase, rows in held if phase == "judgements"]
        assert len(judgement_loads) >= 5 and sum(judgement_loads) == len(list(iter_kind(run, schema.JUDGEMENTS)))
        assert max(judgement_loads) <= 2 * 60  # a partition's judgements, never the run's


def test_a_corrupt_judgements_file_is_one_line_and_nothing_is_written(tmp_path, capsys):
    from rankladder.cli import main

    run = judged_fixture_run(tmp_path / "run")
    path = next((run / schema.JUDGEMENTS).glob("shard-*.jsonl"))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"key": "x", "query_id": "q000", broken\n')
    assert main(["build", str(run), "--out", str(tmp_path / "ds"), "--version", "1.0.0", "--labels", "agree"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}: corrupt judgements file" in err[0], err
    assert not (tmp_path / "ds").exists()
