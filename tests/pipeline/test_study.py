"""The loss study: separability, label mapping, verdict rule, and a tiny end-to-end study (real MiniLM)."""

from __future__ import annotations

import json

import pytest

from rankladder.core.errors import UserError
from rankladder.dataset_builder.separability import separability_from_scores
from rankladder.study import load_study, sources_for, verdict_stats
from tests.helpers.plot_checks import load_plot


def test_separability_from_scores_counts_pairs_and_order():
    lists = [([0.9, 0.7, 0.3, 0.1], [3, 2, 1, 0]), ([0.6, 0.8, 0.2, 0.2], [3, 2, 1, 0])]
    sep = separability_from_scores(lists)
    assert sep["n_lists"] == 2
    assert sep["mean_similarity"] == {"3": 0.75, "2": 0.75, "1": 0.25, "0": 0.15}
    assert sep["outranks"]["3>2"] == 0.5 and sep["outranks"]["2>1"] == 1.0
    assert sep["outranks"]["1>0"] == 0.75  # one win, one tie (½)
    assert sep["ordered"] is False  # 3 and 2 have the same mean
    assert sep["min_adjacent_outranks"] == 0.5


def test_binary_sources_and_verdict_rule():
    binary = sources_for({"labels": "binary", "binary_threshold": 2}, "DS")
    assert binary[0]["min_score"] == 2 and binary[0]["score_transform"] == 1 and binary[0]["random_k"] == 1
    assert binary[1]["max_score"] < 2 and binary[1]["score_transform"] == 0
    assert sources_for({"labels": "graded"}, "DS") is None
    # a label policy reads the judged dataset's other label columns; it applies to the synthetic lists only
    judged = sources_for({"labels": "graded", "label_policy": "judged"}, "DS")
    assert judged == [
        {"path": "DS", "kind": "lists", "split": "train", "label_policy": "judged", "max_disagreement": 1}
    ]
    mixed = sources_for(
        {
            "labels": "synth+real",
            "label_policy": "agree",
            "max_disagreement": 2,
            "real_levels": [3, 1],
            "real_negatives": 2,
        },
        "DS",
        "REAL",
    )
    assert [(m["path"], m.get("label_policy"), m.get("max_disagreement")) for m in mixed] == [
        ("DS", "agree", 2),
        ("REAL", None, None),
        ("REAL", None, None),
    ]
    assert verdict_stats([0.02, 0.03, 0.025])["verdict"] == "beats"
    assert verdict_stats([-0.02, -0.03, -0.025])["verdict"] == "loses"
    assert verdict_stats([0.02, -0.03, 0.01])["verdict"] == "within seed noise"
    assert verdict_stats([0.01])["verdict"].startswith("one seed")


def test_load_study_rejects_bad_settings(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("settings:\n  - {name: a, loss: hinge}\n")
    with pytest.raises(UserError, match="unknown loss 'hinge'"):
        load_study(bad)
    bad.write_text("settings:\n  - {name: a, loss: ws2, label_policy: judge}\n")
    with pytest.raises(UserError, match="label_policy must be one of intended, judged, agree"):
        load_study(bad)
    bad.write_text("judge:\n  batch_size: 0\n")
    with pytest.raises(UserError, match="judge.batch_size"):
        load_study(bad)
    bad.write_text("evaluation: {}\n")
    with pytest.raises(UserError, match="unknown key 'evaluation'"):
        load_study(bad)
    config = load_study("configs/study_cpu.yaml")
    assert [s["name"] for s in config["settings"]][:2] == ["infonce", "ws2"]
    assert load_study("configs/study_paper.yaml")["training"]["similarity"] == "dot"


def test_the_papers_four_recipes_are_study_settings(tmp_path):
    from rankladder.study_real import split_queries

    paper = load_study("configs/study_paper.yaml")
    assert [s["name"] for s in paper["settings"]][:4] == ["infonce", "ws2", "real-infonce", "synth-real-ws2"]
    t = paper["training"]
    assert (t["learning_rate"], t["num_train_epochs"], t["scale"], paper["base_model"]) == (
        1e-5,
        1,
        1.0,
        "facebook/contriever",
    )
    by_name = {s["name"]: s for s in paper["settings"]}
    real = sources_for(by_name["real-infonce"], "SYN", "REAL")
    assert [(r["path"], r["score_transform"], r["random_k"]) for r in real] == [("REAL", 1, 1), ("REAL", 0, 2)]
    mix = sources_for(by_name["synth-real-ws2"], "SYN", "REAL")
    assert [(r["path"], r.get("score_transform"), r.get("random_k")) for r in mix] == [
        ("SYN", None, None),
        ("REAL", 3, 1),
        ("REAL", 1, 2),
    ]
    assert by_name["synth-real-ws2"]["group_size"] == 7 and by_name["real-infonce"]["group_size"] == 3
    cranfield = load_study("configs/study_cranfield.yaml")
    assert cranfield["real"]["holdout"] == {"train_fraction": 0.5, "seed": 0} and cranfield["seeds"] == [0, 1, 2]
    bad = tmp_path / "s.yaml"
    bad.write_text("settings:\n  - {name: r, loss: infonce, labels: real-binary}\n")
    with pytest.raises(UserError, match="set real.dataset"):
        load_study(bad)
    qrels = {str(i): {"d": 1 if i % 7 else 0} for i in range(40)}
    train, test = split_queries(qrels, 0.5, seed=0)
    assert not set(train) & set(test) and len(train) + len(test) == 34 and len(train) == 17
    assert split_queries(qrels, 0.5, seed=0) == (train, test) != split_queries(qrels, 0.5, seed=1)


def test_build_reports_separability(tmp_path, graded_rows, minilm_path):
    from rankladder.dataset_builder.build import build_dataset
    from tests.helpers.run_fixtures import write_run_dir

    run_dir = write_run_dir(tmp_path / "run", graded_rows)
    build_dataset(
        [run_dir], tmp_path / "sepds", version="0.1.0", dev_fraction=0.25, name="sep", separability=minilm_path
    )
    sep = json.loads((tmp_path / "sepds" / "stats.json").read_text())["separability"]
    assert sep["ordered"] and sep["outranks"]["3>2"] > 0.8  # the hand-written ladder is clearly graded
    assert "## Level separability" in (tmp_path / "sepds" / "README.md").read_text()


@pytest.mark.slow  # a whole study: trains and evaluates every loss
def test_tiny_study_end_to_end(tmp_path, tiny_dataset_dir, minilm_path):
    from rankladder.study import run_study

    config = load_study(
        overrides={
            "dataset": str(tiny_dataset_dir),
            "base_model": minilm_path,
            "seeds": [0],
            "training": {
                "per_device_train_batch_size": 4,
                "max_steps": 1,
                "logging_steps": 1,
                "max_seq_length": 32,
                "save_strategy": "no",
                "report_to": "none",
                "disable_tqdm": True,
                "eval_split": "none",
            },
            "settings": [
                {
                    "name": "infonce",
                    "loss": "infonce",
                    "labels": "binary",
                    "group_size": 3,
                    "group_strategy": "most_relevant",
                },
                {"name": "ws2", "loss": "ws2", "options": {"loss_scale": 20.0}},
            ],
            "eval": {"collections": [], "dev": True, "max_seq_length": 32, "batch_size": 32},
        }
    )
    out = tmp_path / "study"
    report = run_study(config, out, progress=False)
    for name in (
        "study.json",
        "study.md",
        "study.png",
        "models/infonce-seed0/model.safetensors",
        "models/ws2-seed0/rankladder_train_manifest.json",
        "eval/base/summary.json",
        "eval/ws2-seed0/summary.json",
    ):
        assert (out / name).is_file(), name
    saved = json.loads((out / "study.json").read_text())
    assert saved["tasks"] == ["dev"] and saved["settings"] == ["infonce", "ws2"]
    assert saved["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"  # the Hub id, not the package path
    ws2 = saved["paired"]["ws2"]["vs_infonce"]["dev"]
    assert ws2["n"] == 1 and ws2["diffs"][0] == pytest.approx(
        saved["table"]["ws2"]["dev"]["mean"] - saved["table"]["infonce"]["dev"]["mean"]
    )
    assert saved["paired"]["infonce"]["vs_base"]["dev"]["n"] == 1
    assert saved["grad_norm"]["infonce"]["mean"] > 0 and saved["grad_norm"]["ws2"]["ratio_to_infonce"] > 0
    assert saved["models"]["ws2-seed0"]["train_log"][0]["grad_norm"] > 0
    assert 0 <= saved["grad_norm"]["ws2"]["clipped_fraction"] <= 1
    assert saved["dataset"]["separability"]["n_lists"] == 16
    plotted = load_plot(out / "study.png")  # ×100, settings best first, Δ vs base and vs infonce
    assert plotted["scale"] == 100 and plotted["columns"] == ["dev"] and plotted["key_column"] == "dev"
    assert plotted["series"][0] == {
        "name": "base",
        "role": "base",
        "values": [pytest.approx(100 * saved["base"]["ndcg_at_10"]["dev"], abs=1e-3)],
    }
    settings = [row["name"] for row in plotted["series"][1:]]
    assert settings == sorted(["infonce", "ws2"], key=lambda name: -saved["table"][name]["dev"]["mean"])
    assert plotted["series"][1]["values"][0] == pytest.approx(
        100 * saved["table"][settings[0]]["dev"]["mean"], abs=1e-3
    )
    deltas = {d["label"]: d for d in plotted["deltas"]}
    assert set(deltas) == {"infonce − base", "ws2 − base", "ws2 − infonce"}
    assert deltas["ws2 − infonce"]["delta"] == pytest.approx(100 * ws2["mean"], abs=1e-3)
    assert deltas["ws2 − infonce"]["two_se"] is None  # one seed: no error bar
    md = (out / "study.md").read_text()
    assert "Paired differences" in md and "Separability" in md and "Gradient norm" in md and "steps clipped" in md
    # a re-run trains and evaluates nothing again (the step runner's markers: rankladder/steps.py)
    stamp = (out / "steps" / "train-ws2-seed0.json").read_text()
    again = run_study(config, out, progress=False)
    assert (out / "steps" / "train-ws2-seed0.json").read_text() == stamp
    assert {s["status"] for s in json.loads((out / "steps.json").read_text())["steps"]} == {"skipped"}
    assert again["table"] == report["table"]


@pytest.mark.slow  # a whole study on a real collection
def test_tiny_study_with_a_real_source_splits_mines_trains_and_evaluates(
    tmp_path, tiny_dataset_dir, minilm_path, shared_datasets
):
    from rankladder.study import run_study
    from tests.dataset_builder.test_mine import small_beir

    beir = small_beir(tmp_path / "cranfield-cut", shared_datasets / "cranfield", n_docs=40, n_queries=8)
    config = load_study(
        overrides={
            "dataset": str(tiny_dataset_dir),
            "base_model": minilm_path,
            "seeds": [0],
            "real": {
                "beir": str(beir),
                "split": "train",
                "holdout": {"train_fraction": 0.5, "seed": 0},
                "mine": {"method": "bm25", "negatives_per_query": 3},
            },
            "training": {
                "per_device_train_batch_size": 4,
                "max_steps": 1,
                "logging_steps": 1,
                "max_seq_length": 32,
                "save_strategy": "no",
                "report_to": "none",
                "disable_tqdm": True,
                "eval_split": "none",
            },
            "settings": [
                {
                    "name": "real-infonce",
                    "loss": "infonce",
                    "labels": "real-binary",
                    "group_size": 3,
                    "group_strategy": "most_relevant",
                },
                {"name": "synth-real-ws2", "loss": "ws2", "labels": "synth+real", "group_size": 7},
            ],
            "eval": {"collections": [], "dev": True, "max_seq_length": 32, "batch_size": 32},
        }
    )
    out = tmp_path / "study"
    report = run_study(config, out, progress=False)
    split = json.loads((out / "real" / "split.json").read_text())
    assert len(split["train"]) == 4 and len(split["test"]) == 4 and not set(split["train"]) & set(split["test"])
    mined = json.loads((out / "real" / "mined" / "rankladder_manifest.json").read_text())
    assert mined["counts"]["queries"] == 4 and mined["counts"]["negatives"] == 12
    assert sorted(report["tasks"][:-1]) == ["cranfield-cut-test", "dev"] and report["tasks"][-1] == "mean"
    assert report["real"]["split"] == {"train_queries": 4, "test_queries": 4}
    manifest = out / "models" / "real-infonce-seed0" / "rankladder_train_manifest.json"
    sources = json.loads(manifest.read_text())["sources"]
    assert [(s["path"], s["score_transform"], s["random_k"]) for s in sources] == [
        (str(out / "real" / "mined"), 1, 1),
        (str(out / "real" / "mined"), 0, 2),
    ]
    assert "Real training source" in (out / "study.md").read_text()
