"""Issue 23: a judged build holds nothing per judgement across the run (``test_agreement_counts.py`` checks the
figures): judgements are spilled by query id beside the records, and the agreement figures are counts."""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

from rankladder.dataset_builder.build import build_dataset
from tests.helpers.run_fixtures import logprob_answer, write_judgements, write_run_dir


def _judged_build_peak(tmp_path: Path, queries: int) -> int:
    """tracemalloc's peak (Python objects, numpy) from the build's first survey load to its corpus pass (the
    phases that read the judgements and add up the figures), above what was allocated before the build."""
    rows = [
        {"query_id": f"q{i:05d}", "query": f"question {i}", "level": level, "text": f"doc {i} level {level} water"}
        for i in range(queries)
        for level in (3, 2, 1, 0)
    ]
    run = write_run_dir(tmp_path / f"run-{queries}", rows)
    rng = random.Random(queries)
    write_judgements(run, lambda record: logprob_answer({g: rng.random() + 0.01 for g in (0, 1, 2, 3)}))
    window: dict[str, int] = {}

    def on_hold(phase: str, rows: int) -> None:
        if phase == "survey" and "reset" not in window:  # the run's records are spilled: the survey begins
            tracemalloc.reset_peak()
            window["reset"] = 1
        if phase == "corpus" and "peak" not in window:
            window["peak"] = tracemalloc.get_traced_memory()[1]

    tracemalloc.start()
    window["before"] = tracemalloc.get_traced_memory()[0]
    try:
        build_dataset(
            [run],
            tmp_path / f"ds-{queries}",
            "0.1.0",
            dev_fraction=0.0,
            labels="agree",
            bucket_records=400,
            allow_degenerate_labels=True,
            on_hold=on_hold,
        )
    finally:
        tracemalloc.stop()
    return window["peak"] - window["before"]


def test_judged_build_holds_nothing_per_judgement_across_the_run(tmp_path):
    """Five times the records and judgements, the same partition size: the same Python memory (the former build
    held every judgement as a dict, and three labels per document for the figures: ~1 KiB a document)."""
    _judged_build_peak(tmp_path, 40)  # the first build imports modules within the window
    small, large = _judged_build_peak(tmp_path, 300), _judged_build_peak(tmp_path, 1500)
    assert large - small < 1 << 20, (small, large)  # 4,800 more documents: < 220 bytes each
