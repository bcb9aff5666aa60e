"""Bad input to `rankladder eval`: one-line errors (exit 2) or counted warnings; CLI basics."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rankladder.cli import main
from rankladder.core.errors import UserError
from tests.helpers.console_checks import assert_quiet, summary_block


def write_beir(folder: Path, qrels: str, queries=None) -> Path:
    (folder / "qrels").mkdir(parents=True)
    docs = {
        "d1": "cats purr and sleep all day",
        "d2": "dogs bark at the postman",
        "d3": "fish swim in cold water",
        "d4": "birds fly south in winter",
    }
    with open(folder / "corpus.jsonl", "w") as f:
        for i, text in docs.items():
            f.write(json.dumps({"_id": i, "title": "", "text": text, "metadata": {"x": 1}}) + "\n")
    queries = queries or {"q1": "which animal purrs", "q2": "what barks", "q3": "   ", "q4": "who flies south"}
    with open(folder / "queries.jsonl", "w") as f:
        for i, text in queries.items():
            f.write(json.dumps({"_id": i, "text": text}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels)
    return folder


GOOD_QRELS = "q1\td1\t2\nq1\td2\t1\nq2\td2\t2\nq4\td4\t1\n"
BAD_QRELS = GOOD_QRELS + "q3\td3\t1\nq1\tdX\t1\nq1\tdY\t2\nqZ\td1\t1\n"


def _run(capsys, *argv) -> tuple[int, str]:
    code = main(["eval", *argv])
    return code, capsys.readouterr().err


def test_absent_ids_and_empty_queries_are_counted_warned_skipped(tmp_path, caplog):
    from rankladder.eval.tasks import BeirFolderTask

    task = BeirFolderTask.from_folder(write_beir(tmp_path / "c", BAD_QRELS))
    with caplog.at_level(logging.WARNING, logger="rankladder.eval.tasks"):
        task.load_data()
    text = caplog.text
    assert "1 empty queries skipped (ids: q3)" in text
    assert "1 qrels query ids absent from queries" in text and "qZ" in text
    assert "2 qrels corpus ids absent from corpus" in text
    data = task.dataset["default"]["test"]
    assert sorted(data["queries"]["id"]) == ["q1", "q2", "q4"]
    assert data["relevant_docs"]["q1"] == {"d1": 2, "d2": 1}  # graded scores kept
    assert len(data["corpus"]) == 4


def test_nothing_usable_is_an_error(tmp_path):
    from rankladder.eval.tasks import BeirFolderTask

    task = BeirFolderTask.from_folder(write_beir(tmp_path / "c", "q3\td1\t1\nqZ\td1\t1\n"))
    with pytest.raises(UserError, match="no usable judgments"):
        task.load_data()


def test_a_split_without_any_relevant_document_is_refused_before_a_model_loads(tmp_path, minilm_path, capsys):
    """Every score 0: each nDCG is 0/0; eval printed nDCG@10 0.00 for the model and BM25 and exited 0."""
    queries = {"q1": "which animal purrs", "q2": "what barks", "q4": "who flies south"}
    folder = write_beir(tmp_path / "c", "q1\td1\t0\nq2\td2\t0\nq4\td4\t0\n", queries)
    code, err = _run(capsys, "--model", minilm_path, "--tasks", str(folder), "--out", str(tmp_path / "out"))
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "test.tsv: no query has a relevant document" in lines[0] and "3 judged queries" in lines[0]
    assert not (tmp_path / "out").exists()


def test_an_embedding_cache_that_is_a_file_is_refused_before_a_model_loads(tmp_path, minilm_path, capsys):
    """It failed after the model had loaded, with a traceback of mteb's cache wrapper under the error line."""
    folder = write_beir(tmp_path / "c", GOOD_QRELS, {"q1": "which animal purrs", "q2": "what barks", "q4": "who flies"})
    (tmp_path / "cache.txt").write_text("not a folder\n")
    argv = ["--model", minilm_path, "--tasks", str(folder), "--out", str(tmp_path / "out")]
    code, err = _run(capsys, *argv, "--embedding-cache", str(tmp_path / "cache.txt"))
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "--embedding-cache exists and is not a folder" in lines[0], err
    assert not (tmp_path / "out").exists()


def test_malformed_files_name_path_and_line(tmp_path):
    from rankladder.eval.tasks import BeirFolderTask

    folder = write_beir(tmp_path / "c", "q1\td1\n")
    with pytest.raises(UserError, match=r"test.tsv:2: expected 3 tab-separated columns"):
        BeirFolderTask.from_folder(folder).load_data()
    (folder / "qrels" / "test.tsv").write_text("q1\td1\thigh\n")
    with pytest.raises(UserError, match=r"test.tsv:1: field 'score'"):
        BeirFolderTask.from_folder(folder).load_data()
    (folder / "qrels" / "test.tsv").write_text(GOOD_QRELS)
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "x"}\n{oops\n')
    with pytest.raises(UserError, match=r"queries.jsonl:2: invalid JSON"):
        BeirFolderTask.from_folder(folder).load_data()


def test_missing_qrels_split_exits_2(tmp_path, minilm_path, capsys):
    folder = write_beir(tmp_path / "c", GOOD_QRELS)
    code, err = _run(
        capsys, "--model", minilm_path, "--tasks", str(folder), "--split", "dev", "--out", str(tmp_path / "out")
    )
    assert code == 2 and "qrels split 'dev' not found (available: test)" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_task_name_exits_2(tmp_path, minilm_path, capsys):
    code, err = _run(capsys, "--model", minilm_path, "--tasks", "NoSuchTaskXYZ", "--out", str(tmp_path / "o"))
    assert code == 2 and "unknown task 'NoSuchTaskXYZ'" in err


def test_missing_task_folder_and_model_path_exit_2(tmp_path, minilm_path, capsys):
    out = str(tmp_path / "o")
    code, err = _run(capsys, "--model", minilm_path, "--tasks", str(tmp_path / "nope"), "--out", out)
    assert code == 2 and "task folder not found" in err
    code, err = _run(capsys, "--model", str(tmp_path / "no-model"), "--tasks", "SciFact", "--out", out)
    assert code == 2 and "model path not found" in err and "no-model" in err
    (tmp_path / "empty").mkdir()
    code, err = _run(capsys, "--model", str(tmp_path / "empty"), "--tasks", "SciFact", "--out", out)
    assert code == 2 and "not a SentenceTransformer model folder" in err


def test_mteb_task_offline_names_the_dataset(tmp_path, minilm_path, capsys, monkeypatch):
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "empty-cache"))
    code, err = _run(capsys, "--model", minilm_path, "--tasks", "SciFact", "--out", str(tmp_path / "o"))
    assert code == 2 and "task SciFact" in err and "mteb/scifact" in err
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_existing_output_dir_needs_overwrite(tmp_path, minilm_path, capsys):
    folder = write_beir(tmp_path / "c", GOOD_QRELS)
    (tmp_path / "out").mkdir()
    code, err = _run(capsys, "--model", minilm_path, "--tasks", str(folder), "--out", str(tmp_path / "out"))
    assert code == 2 and "already exists" in err


def test_compare_never_writes_into_a_result_folder_and_needs_overwrite_to_replace(tmp_path, minilm_path, capsys):
    """`--compare A B --out A` replaced A's own summary.json with the comparison (A's manifest still named one
    model), and a second compare into the same folder rewrote it without --overwrite, file by file."""
    queries = {"q1": "which animal purrs", "q2": "what barks", "q4": "who flies south"}
    folder = write_beir(tmp_path / "c", GOOD_QRELS, queries)
    results = tmp_path / "results"
    assert _run(capsys, "--model", minilm_path, "--tasks", str(folder), "--out", str(results))[0] == 0
    before = {p.name: p.read_bytes() for p in results.iterdir() if p.is_file()}
    code, err = _run(capsys, "--compare", str(results), "--out", str(results))
    assert code == 2 and "is a result folder of `rankladder eval`" in err, err
    assert {p.name: p.read_bytes() for p in results.iterdir() if p.is_file()} == before
    table = tmp_path / "table"
    assert _run(capsys, "--compare", str(results), "--out", str(table))[0] == 0
    code, err = _run(capsys, "--compare", str(results), "--out", str(table))
    assert code == 2 and "already exists" in err, err
    assert _run(capsys, "--compare", str(results), "--out", str(table), "--overwrite")[0] == 0
    assert json.loads((table / "summary.json").read_text())["scores"].keys() == {
        "sentence-transformers/all-MiniLM-L6-v2",
        "mteb/baseline-bm25s",
    }


def test_compare_missing_folder_exits_2(tmp_path, capsys):
    code, err = _run(capsys, "--compare", str(tmp_path / "nope"))
    assert code == 2 and "result folder not found" in err
    (tmp_path / "empty").mkdir()
    code, err = _run(capsys, "--compare", str(tmp_path / "empty"))
    assert code == 2 and "no mteb result files" in err


def test_help_lists_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["eval", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--model", "--name", "--revision", "--tasks", "--out", "--compare", "--no-bm25"):
        assert option in out


def test_cli_end_to_end_on_tiny_folder(tmp_path, minilm_path, capsys):
    import mteb

    folder = write_beir(tmp_path / "tiny", GOOD_QRELS)
    out = tmp_path / "out"
    assert (
        main(
            [
                "eval",
                "--model",
                minilm_path,
                "--name",
                "me/tiny",
                "--revision",
                "v1",
                "--tasks",
                str(folder),
                "--out",
                str(out),
                "--no-bm25",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert_quiet(captured.out + captured.err)
    rows = summary_block(captured.out, "eval")
    assert rows["wrote"].startswith(str(out)) and rows["compared"] == "1 model × 1 task, base me/tiny"
    assert rows["scores"].splitlines()[2].startswith("me/tiny (base)")
    assert (out / "results" / "me__tiny" / "v1" / "tiny.json").is_file()
    (model,) = mteb.ResultCache(out).load_results(include_remote=False)
    assert (model.model_name, model.model_revision) == ("me/tiny", "v1")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"] == [{"name": "me/tiny", "revision": "v1", "path": str(Path(minilm_path).resolve())}]
    manifest = json.loads((out / "eval_manifest.json").read_text())
    assert {i["kind"] for i in manifest["inputs"]} == {"model", "task"}
