"""``rankladder mine``: BM25 as eval's baseline ranks, the dense filters on MiniLM, the output as a training
source, bad input as one line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from rankladder.cli import main
from rankladder.core.beir import read_beir_folder
from tests.helpers.console_checks import assert_quiet, summary_block


def small_beir(folder: Path, source: Path, n_docs: int = 60, n_queries: int = 6) -> Path:
    """A small BEIR folder cut from Cranfield: the first judged queries and their judged docs + other docs."""
    corpus, queries, qrels = read_beir_folder(source, "test")
    qids = sorted(qrels, key=int)[:n_queries]
    judged = {d for q in qids for d in qrels[q]}
    keep = [d for d in corpus if d["id"] in judged]
    keep += [d for d in corpus if d["id"] not in judged][: n_docs - len(keep)]
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": d["id"], "title": d["title"], "text": d["text"]}) + "\n" for d in keep)
    )
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q["id"], "text": q["text"]}) + "\n" for q in queries if q["id"] in qids)
    )
    (folder / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{g}\n" for q in qids for d, g in qrels[q].items())
    )
    return folder


def read_tsv(path: Path) -> list[dict]:
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def mined_by_query(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for row in read_tsv(path / "mined_negatives.tsv"):
        out.setdefault(row["query-id"], []).append(row["corpus-id"])
    return out


def test_bm25_negatives_equal_the_eval_baseline_bm25_minus_positives(tmp_path, shared_datasets, capsys):
    from datasets import Dataset
    from mteb.models.model_implementations.bm25 import BM25Search

    cranfield = shared_datasets / "cranfield"
    out = tmp_path / "mined"
    assert (
        main(
            [
                "mine",
                str(cranfield),
                "--split",
                "test",
                "--method",
                "bm25",
                "-k",
                "3",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert_quiet(captured.out + captured.err)  # bm25s' DEBUG line, stemmer warnings: in out/logs/ only
    rows = summary_block(captured.out, "mine")
    assert re.match(r"\d+ negatives for \d+ queries \(bm25\)", rows["wrote"].split(": ", 1)[1])
    assert "rankladder train --sources" in rows["next"] and list((out / "logs").glob("mine-*.log"))
    corpus, queries, qrels = read_beir_folder(cranfield, "test")
    # independent: mteb's own BM25 row (what `rankladder eval` reports), ranked deep enough to skip positives
    search = BM25Search()
    meta = SimpleNamespace(eval_langs=["eng-Latn"])
    search.index(corpus, task_metadata=meta, hf_split="test", hf_subset="default", encode_kwargs={})
    judged = [q for q in queries if any(g > 0 for g in qrels.get(q["id"], {}).values())]
    ranked = search.search(
        Dataset.from_list(judged), task_metadata=meta, hf_split="test", hf_subset="default", top_k=60, encode_kwargs={}
    )
    mined = mined_by_query(out)
    rows = {(r["query-id"], r["corpus-id"]): r for r in read_tsv(out / "mined_negatives.tsv")}
    assert set(mined) == {q["id"] for q in judged}
    for qid, scores in ranked.items():
        order = sorted(scores, key=lambda d: -scores[d])
        expected = [d for d in order if qrels[qid].get(d, 0) <= 0][:3]
        assert mined[qid] == expected, qid
        for d in expected:
            assert float(rows[(qid, d)]["retrieval-score"]) == pytest.approx(scores[d], rel=1e-5)
            assert int(rows[(qid, d)]["rank"]) == order.index(d) + 1
    manifest = json.loads((out / "rankladder_manifest.json").read_text())
    assert manifest["parameters"]["bm25"]["method"] == "lucene" and manifest["counts"]["negatives"] == 3 * len(judged)
    assert manifest["source"]["hashes"]["qrels/test.tsv"]


def test_bm25_random_window_samples_from_the_top_n(tmp_path, shared_datasets):
    from rankladder.dataset_builder.config import MineConfig
    from rankladder.dataset_builder.mining import load_input, mine_bm25

    folder = small_beir(tmp_path / "beir", shared_datasets / "cranfield")
    data = load_input(folder, "train")
    top = mine_bm25(data, MineConfig(negatives_per_query=10), progress=False)
    sampled = mine_bm25(
        data, MineConfig(negatives_per_query=2, sampling="random", range_max=10, seed=3), progress=False
    )
    again = mine_bm25(data, MineConfig(negatives_per_query=2, sampling="random", range_max=10, seed=3), progress=False)
    assert sampled == again  # seeded
    for qid, entries in sampled.items():
        ids = [e["doc_id"] for e in entries]
        assert len(ids) == 2 and set(ids) <= {e["doc_id"] for e in top[qid]}
        assert [e["rank"] for e in entries] == sorted(e["rank"] for e in entries)
    assert any([e["doc_id"] for e in sampled[q]] != [e["doc_id"] for e in top[q][:2]] for q in sampled)


def test_dense_range_and_margins_on_minilm(tmp_path, shared_datasets, minilm_path):
    import torch
    from sentence_transformers import SentenceTransformer

    from rankladder.dataset_builder.config import MineConfig
    from rankladder.dataset_builder.mining import load_input, mine_dense

    folder = small_beir(tmp_path / "beir", shared_datasets / "cranfield")
    data = load_input(folder, "train")
    model = SentenceTransformer(minilm_path, device="cpu")
    options = MineConfig(method="dense", negatives_per_query=2, range_min=1, range_max=50, relative_margin=0.05)
    mined = mine_dense(data, options, progress=False, model=model)
    # independent: cosine similarity to every document; like mine_hard_negatives, the candidates are the
    # top (range_max + most positives of any query) documents minus this query's positives, the relative margin
    # drops those too close to the hardest positive, then the first range_min of the rest are skipped
    docs = model.encode(data.doc_texts, convert_to_tensor=True, normalize_embeddings=True)
    most = max(sum(g > 0 for g in judged.values()) for judged in data.judged.values())
    full = 0
    for qid, text in data.queries.items():
        sims = (model.encode([text], convert_to_tensor=True, normalize_embeddings=True) @ docs.T)[0]
        pos = {d for d, g in data.judged[qid].items() if g > 0}
        hardest = min(float(sims[data.doc_ids.index(d)]) for d in pos)
        pool = [i for i in torch.argsort(sims, descending=True).tolist()[: 50 + most] if data.doc_ids[i] not in pos]
        kept = [i for i in pool if float(sims[i]) <= hardest - abs(hardest) * 0.05 + 1e-5]
        expected = [data.doc_ids[i] for i in kept[1:3]]
        got = [e["doc_id"] for e in mined[qid]]
        assert got == expected, qid
        assert not set(got) & pos
        full += len(got) == 2
        for e in mined[qid]:
            i = data.doc_ids.index(e["doc_id"])
            assert e["score"] == pytest.approx(float(sims[i]), abs=1e-4)
            assert abs(e["rank"] - (int((sims > sims[i]).sum()) + 1)) <= 1  # 1-based rank over the whole corpus
    assert full >= len(data.queries) // 2  # the filters leave negatives for most queries: the check is not vacuous
    absolute = mine_dense(
        data,
        MineConfig(method="dense", negatives_per_query=3, range_max=50, absolute_margin=0.05),
        progress=False,
        model=model,
    )
    for qid, entries in absolute.items():
        pos = [data.doc_texts[data.doc_ids.index(d)] for d, g in data.judged[qid].items() if g > 0]
        hardest = float(model.similarity(model.encode([data.queries[qid]]), model.encode(pos))[0].min())
        assert all(e["score"] <= hardest - 0.05 + 1e-4 for e in entries)
    assert sum(len(entries) for entries in absolute.values()) >= len(data.queries)


@pytest.mark.slow  # mine, then train on it
def test_mined_output_is_a_training_source_and_trains(tmp_path, shared_datasets, minilm_path):
    from rankladder.api import train
    from rankladder.study_config import sources_for
    from rankladder.training.data import Source, load_lists

    folder = small_beir(tmp_path / "beir", shared_datasets / "cranfield")
    out = tmp_path / "mined"
    assert main(["mine", str(folder), "--split", "train", "-k", "2", "--out", str(out), "--no-progress"]) == 0
    lists = load_lists([Source(path=str(out))])
    assert len(lists) == 6
    for row in lists:
        assert row["labels"][-2:] == [0.0, 0.0] and all(v > 0 for v in row["labels"][:-2])
    # the TSV is a qrels file too: the mined negatives at grade 0
    qrels_source = load_lists([Source(path=str(folder), qrels=str(out / "mined_negatives.tsv"))])
    assert sum(len(r["labels"]) for r in qrels_source) == 12 and {v for r in qrels_source for v in r["labels"]} == {0.0}
    sources = sources_for({"name": "real-infonce", "labels": "real-binary", "real_negatives": 2}, "unused", str(out))
    model = train(
        **{
            "data": str(out),
            "sources": sources,
            "loss": "infonce",
            "group_size": 3,
            "group_strategy": "most_relevant",
            "model": minilm_path,
            "out": str(tmp_path / "m"),
            "per_device_train_batch_size": 3,
            "max_steps": 2,
            "logging_steps": 1,
            "max_seq_length": 32,
            "save_strategy": "no",
            "report_to": "none",
            "disable_tqdm": True,
            "eval_split": "none",
            "use_cpu": True,
        }
    )
    manifest = json.loads((Path(model) / "rankladder_train_manifest.json").read_text())
    assert manifest["final_metrics"]["train_loss"] > 0


@pytest.mark.slow  # `rankladder mine --method dense` end to end (MiniLM load, encode, write, reload): ~50 s CPU
def test_dense_cli_writes_the_same_layout(tmp_path, shared_datasets, minilm_path, capsys):
    from rankladder.training.data import Source, load_lists

    folder = small_beir(tmp_path / "beir", shared_datasets / "cranfield", n_docs=30, n_queries=3)
    out = tmp_path / "dense"
    assert (
        main(
            [
                "mine",
                str(folder),
                "--split",
                "train",
                "--method",
                "dense",
                "--model",
                minilm_path,
                "-k",
                "2",
                "--range-max",
                "20",
                "--relative-margin",
                "0.01",
                "--max-seq-length",
                "64",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert_quiet(captured.out + captured.err)  # sentence-transformers and transformers: in out/logs/ only
    assert summary_block(captured.out, "mine")["wrote"].endswith(f"queries (dense with {minilm_path})")
    rows = read_tsv(out / "mined_negatives.tsv")
    manifest = json.loads((out / "rankladder_manifest.json").read_text())
    assert manifest["model"] == minilm_path and manifest["parameters"]["relative_margin"] == 0.01
    assert len(rows) == manifest["counts"]["negatives"] > 0 and all(int(r["rank"]) >= 1 for r in rows)
    lists = load_lists([Source(path=str(out))])
    assert sum(row["labels"].count(0.0) for row in lists) == len(rows)


@pytest.mark.parametrize(
    "case",
    ["missing split", "unknown query id", "k zero", "margin with bm25", "no folder", "window past every ranking"],
)
def test_bad_input_exits_2_with_one_line(tmp_path, shared_datasets, capsys, case):
    folder = small_beir(tmp_path / "beir", shared_datasets / "cranfield")
    args = [str(folder), "--split", "train", "--out", str(tmp_path / "out"), "--no-progress"]
    expected = {
        "missing split": "qrels split 'dev' not found",
        "unknown query id": "is not in queries.jsonl",
        "k zero": "--negatives-per-query: must be at least 1",
        "margin with bm25": "absolute_margin (--absolute-margin): only for method dense",
        "no folder": "file not found",
        # lists of positives alone exited 0 with "0 negatives" and a `next: train` that train then refused
        "window past every ranking": "no negative was mined for any of the 6 queries",
    }[case]
    if case == "missing split":
        args[2] = "dev"
    elif case == "unknown query id":
        with open(folder / "qrels" / "train.tsv", "a") as handle:
            handle.write("9999\t1\t2\n")
    elif case == "k zero":
        args += ["-k", "0"]
    elif case == "margin with bm25":
        args += ["--absolute-margin", "0.1"]
    elif case == "window past every ranking":
        args += ["--range-min", "100"]  # the corpus holds 60 documents
    else:
        args[0] = str(tmp_path / "nowhere")
    assert main(["mine", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.tmp-*"))
