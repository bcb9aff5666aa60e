"""SmolLM2 as relevance judge (transformers, logprob path); judged builds; kill and resume mid-judging."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections import Counter

import pytest

from rankladder.core.errors import UserError
from rankladder.dataset_builder import schema
from rankladder.dataset_builder.build import build_dataset
from rankladder.dataset_builder.judge import (
    JudgePlan,
    judge_run,
    load_judge_template,
    read_judgements,
)
from rankladder.dataset_builder.runfiles import RECORDS, iter_kind
from tests.helpers.console_checks import assert_quiet, summary_block
from tests.helpers.run_fixtures import write_run_dir
from tests.reliability.test_bad_inputs import rankladder_command
from tests.reliability.test_kill import cli_env


def test_smollm2_judges_every_document_with_grade_probabilities(judged_run, judged_run_source):
    """``judged_run``: the first 4 hand-graded queries judged by SmolLM2 (tests/conftest.py)."""
    run_dir, manifest = judged_run, judged_run_source[1]
    records = list(iter_kind(run_dir, RECORDS))
    rows = list(iter_kind(run_dir, schema.JUDGEMENTS))
    assert sorted(r["key"] for r in rows) == sorted(r["key"] for r in records)
    assert manifest["status"] == "complete" and manifest["counts"]["judged_all_runs"] == len(records)
    assert manifest["model"]["id"].startswith("smollm2:") and manifest["model"]["file_sha256"]
    assert manifest["config"]["prompt"]["hash"] == load_judge_template().hash
    methods = Counter(r["method"] for r in rows)
    assert methods["logprobs"] >= len(rows) * 3 // 4, methods  # SmolLM2 answers with a digit most of the time
    for row in rows:
        if row["method"] == "logprobs":
            probs = {int(g): p for g, p in row["grade_probs"].items()}
            assert set(probs) == {0, 1, 2, 3} and sum(probs.values()) == pytest.approx(1, abs=1e-3)
            assert row["grade"] == max(probs, key=probs.get)
            assert row["expected_grade"] == pytest.approx(sum(g * p for g, p in probs.items()), abs=1e-3)
            assert row["grade"] == int(row["reply"].strip()[0]) or not row["reply"].strip()[:1].isdigit()


def test_judging_again_does_nothing_and_another_judge_config_is_refused(judged_run, smollm2_backend):
    run_dir = judged_run
    before = list(iter_kind(run_dir, schema.JUDGEMENTS))
    again = judge_run(
        run_dir,
        JudgePlan(template=load_judge_template(), batch_size=8),
        lambda: pytest.fail("no backend needed"),
        progress=False,
    )
    assert again["counts"]["this_run"] == {} and list(iter_kind(run_dir, schema.JUDGEMENTS)) == before
    with pytest.raises(UserError, match="judged with a different 'logprobs'"):
        judge_run(
            run_dir, JudgePlan(template=load_judge_template(), logprobs=5), lambda: smollm2_backend, progress=False
        )


@pytest.mark.parametrize("policy", ["intended", "judged", "agree"])
def test_build_follows_the_label_policy(judged_run, tmp_path, policy):
    run_dir = judged_run
    judgements = read_judgements([run_dir])
    out = tmp_path / f"rankladder-judged-{policy}"
    # the guards on degenerate labels have their own tests (test_builder_label_guards.py); here: the plumbing
    manifest = build_dataset(
        [run_dir], out, "0.1.0", dev_fraction=0.0, labels=policy, max_disagreement=1, allow_degenerate_labels=True
    )
    lists = schema.read_split(out, schema.LISTS_CONFIG, schema.TRAIN_SPLIT).to_pylist()
    qrels = schema.read_split(out, schema.QRELS_CONFIG, schema.TRAIN_SPLIT).to_pylist()
    stats = json.loads((out / schema.STATS_FILE).read_text())
    labels = stats["labels"]
    kept = 0
    for row in lists:
        for doc, level, intended, grade in zip(
            row["doc_ids"], row["levels"], row["intended_levels"], row["judge_grades"]
        ):
            judged = judgements[(row["query_id"], doc)]
            assert intended == judged["level"] and grade == judged["grade"]
            assert level == {"intended": intended, "judged": grade, "agree": intended}[policy]
            if policy == "agree":
                assert abs(grade - intended) <= 1
            kept += 1
    assert (
        kept
        == len(qrels)
        == labels["documents_kept_by_policy"][
            {"intended": "intended", "judged": "judged", "agree": "agree(max_disagreement=1)"}[policy]
        ]
    )
    assert {(q["query-id"], q["corpus-id"], q["score"]) for q in qrels} == {
        (r["query_id"], d, lv) for r in lists for d, lv in zip(r["doc_ids"], r["levels"])
    }
    assert sum(map(sum, labels["confusion_matrix"]["matrix"])) == labels["judged"] == 16 - labels["unjudged"]
    assert labels["kappa_quadratic"] is None or -1 <= labels["kappa_quadratic"] <= 1
    assert (out / schema.AGREEMENT_PLOT).stat().st_size > 1000
    card = (out / "README.md").read_text()
    assert "## Intended vs judged relevance" in card and f"Labels used here: `{policy}`" in card
    assert manifest["build"]["labels"] == policy and manifest["judge"]["model"]["id"].startswith("smollm2:")

    # one dataset serves every policy: training reads the intended-label build under this policy (the study's
    # `label_policy` setting) and gets exactly the labels of a dataset built with it
    from rankladder.training.data import Source, load_lists

    intended = tmp_path / "rankladder-judged-as-built"
    build_dataset([run_dir], intended, "0.1.0", dev_fraction=0.0)
    source = Source(path=str(intended), kind="lists", label_policy=policy, max_disagreement=1)
    as_trained = {(r["query_id"], d, lab) for r in load_lists([source]) for d, lab in zip(r["doc_ids"], r["labels"])}
    assert as_trained == {(r["query_id"], d, float(lv)) for r in lists for d, lv in zip(r["doc_ids"], r["levels"])}


def test_judged_labels_need_judgements(tmp_path, graded_rows):
    run_dir = write_run_dir(tmp_path / "run", graded_rows[:8])
    with pytest.raises(UserError, match="has no judgements; run `rankladder judge RUN_DIR` first"):
        build_dataset([run_dir], tmp_path / "out", "0.1.0", labels="judged")
    assert not (tmp_path / "out").exists()
    manifest = build_dataset([run_dir], tmp_path / "out", "0.1.0")
    assert manifest["judge"] is None and manifest["build"]["labels"] == "intended"
    lists = schema.read_split(tmp_path / "out", schema.LISTS_CONFIG, schema.TRAIN_SPLIT).to_pylist()
    assert all(row["levels"] == row["intended_levels"] and set(row["judge_grades"]) == {None} for row in lists)


@pytest.mark.slow  # two `rankladder judge` processes, each loading SmolLM2
def test_kill_and_resume_mid_judging(tmp_path, graded_rows):
    """SIGKILL ``rankladder judge`` once some batches are on disk; the re-run judges only the rest and
    every document ends up judged exactly once."""
    run_dir = write_run_dir(tmp_path / "run", graded_rows[:12])
    argv = rankladder_command() + [
        "judge",
        str(run_dir),
        "--backend",
        "transformers",
        "--batch-size",
        "4",
        "--no-progress",
    ]
    process = subprocess.Popen(argv, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None:
            lines = (
                sum(1 for _ in iter_kind(run_dir, schema.JUDGEMENTS)) if (run_dir / schema.JUDGEMENTS).is_dir() else 0
            )
            if lines >= 4:
                break
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    before = {row["key"]: row for row in iter_kind(run_dir, schema.JUDGEMENTS)}
    assert 4 <= len(before) < 12, f"kill landed outside judging ({len(before)} judged): {process.stderr.read()[-500:]}"
    done = subprocess.run(argv, env=cli_env(), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_quiet(done.stdout + done.stderr)  # SmolLM2 through transformers: no library lines on the terminal
    rows = summary_block(done.stdout, "judge")
    assert rows["judged"].startswith("12 of 12 documents") and "--labels " in rows["next"]
    assert "weighted κ" in rows["agreement"] and sum(int(n) for n in re.findall(r": (\d+)", rows["grades"])) == 12
    assert list((run_dir / "logs").glob("judge-*.log"))  # the log goes into the RUN_DIR it judged
    after = list(iter_kind(run_dir, schema.JUDGEMENTS))
    assert len(after) == len({row["key"] for row in after}) == 12
    assert all(row == before[row["key"]] for row in after if row["key"] in before)
    manifest = json.loads((run_dir / "judge-manifest.shard-00000-of-00001.json").read_text())
    assert manifest["status"] == "complete" and manifest["counts"]["this_run"].keys() <= {
        "logprobs",
        "parsed",
        "unparsed",
    }
    assert sum(manifest["counts"]["this_run"].values()) == 12 - len(before)


def test_judge_bad_inputs_are_one_line_errors(tmp_path, capsys, graded_rows):
    from rankladder.cli import main

    assert main(["judge", str(tmp_path / "missing")]) == 2
    assert "not a generation RUN_DIR" in capsys.readouterr().err
    run_dir = write_run_dir(tmp_path / "run", graded_rows[:4])
    assert main(["judge", str(run_dir), "--backend", "openai"]) == 2
    assert "model (--model): required with backend openai" in capsys.readouterr().err
    assert main(["judge", str(run_dir), "--batch-size", "0"]) == 2
    assert "--batch-size: must be at least 1" in capsys.readouterr().err
    bad = tmp_path / "judge.yaml"
    bad.write_text("user: 'no placeholders'\n")
    assert main(["judge", str(run_dir), "--prompt-template", str(bad)]) == 2
    assert "lacks the placeholder {query}" in capsys.readouterr().err
    assert main(["build", str(run_dir), "--out", str(tmp_path / "d"), "--version", "0.1.0", "--labels", "agree"]) == 2
    assert "has no judgements" in capsys.readouterr().err and not (tmp_path / "d").exists()
    assert not (run_dir / schema.JUDGEMENTS).exists()


def test_weighted_kappa_matches_scikit_learn():
    import random

    from sklearn.metrics import cohen_kappa_score

    from rankladder.dataset_builder.agreement import (
        confusion,
        summarize,
        weighted_kappa,
    )

    rng = random.Random(1)
    intended = [rng.randint(0, 3) for _ in range(200)]
    judged = [min(3, max(0, level + rng.choice([-2, -1, 0, 0, 1]))) for level in intended]
    matrix = confusion(list(zip(intended, judged)), [3, 2, 1, 0])
    for power, weights in ((2, "quadratic"), (1, "linear")):
        assert weighted_kappa(matrix, [3, 2, 1, 0], power) == pytest.approx(
            cohen_kappa_score(intended, judged, weights=weights), abs=1e-4
        )
    figures = summarize(intended, judged, [float(j) for j in judged], [0, 1, 2, 3], 1)
    assert figures["documents_kept_by_policy"]["agree(max_disagreement=1)"] == sum(
        abs(i - j) <= 1 for i, j in zip(intended, judged)
    )
    assert weighted_kappa([[5, 0], [0, 0]], [1, 0]) is None  # one class only: κ undefined
