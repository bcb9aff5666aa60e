"""Query readers: every supported source, mapping, sampling, dedup."""

import json

import pytest

from rankladder.core.errors import UserError
from rankladder.dataset_builder.queries import BUNDLED_QUERIES, QuerySpec, load_queries


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_bundled_queries_are_the_default():
    queries, source = load_queries(QuerySpec())
    assert len(queries) == 40 == source["count"]
    assert source["source"] == "bundled:queries.jsonl"
    assert all(q.text and q.id.startswith("rl-q") for q in queries)
    assert BUNDLED_QUERIES.is_file()


def test_jsonl_with_id_query_columns_and_mapping(tmp_path):
    plain = write(
        tmp_path / "a.jsonl",
        [json.dumps({"id": 7, "query": "what is  tofu"}), json.dumps({"id": "8", "query": "how tall is k2"})],
    )
    queries, _ = load_queries(QuerySpec(str(plain)))
    assert [(q.id, q.text) for q in queries] == [("7", "what is tofu"), ("8", "how tall is k2")]
    mapped = write(tmp_path / "b.jsonl", [json.dumps({"qid": "x1", "question": "q one", "body": "b"})])
    queries, _ = load_queries(QuerySpec(str(mapped), id_field="qid", text_field="body"))
    assert queries[0].text == "b"


def test_tsv_msmarco_style_and_duplicates(tmp_path):
    path = write(tmp_path / "q.tsv", ["1\tfirst query", "2\tsecond query", "1\tfirst query"])
    queries, source = load_queries(QuerySpec(str(path)))
    assert [q.id for q in queries] == ["1", "2"]
    assert source["duplicates_dropped"] == 1


def test_beir_folder_restricted_to_a_qrels_split(shared_datasets):
    queries, source = load_queries(QuerySpec(str(shared_datasets / "cranfield"), qrels_split="test"))
    judged = {
        line.split("\t")[0]
        for line in (shared_datasets / "cranfield" / "qrels" / "test.tsv").read_text().splitlines()[1:]
    }
    assert {q.id for q in queries} == judged
    assert source["format"] == "beir"


def test_msmarco_queries_limit_and_seed_are_deterministic(shared_datasets):
    spec = QuerySpec(str(shared_datasets / "msmarco_queries" / "queries_eval_small.jsonl"), limit=5, seed=3)
    first, _ = load_queries(spec)
    again, _ = load_queries(spec)
    other, _ = load_queries(QuerySpec(spec.source, limit=5, seed=4))
    assert first == again and len(first) == 5 and first != other


def test_hf_dataset_folder(tiny_dataset_dir):
    queries, source = load_queries(
        QuerySpec(str(tiny_dataset_dir), format="hf", hf_config="queries", hf_split="queries")
    )
    assert len(queries) == 16 and source["format"] == "hf"


@pytest.mark.parametrize(
    "lines, expected",
    [
        (['{"_id": "1", "text": "a"}', '{"_id": "2", "text": '], "q.jsonl:2: malformed JSON"),
        (['{"_id": "1", "body": "a"}'], "q.jsonl:1: no text column"),
        (['{"_id": "1", "text": "a"}', '{"_id": "1", "text": "b"}'], "q.jsonl:2: field '_id': duplicate query id '1'"),
        (['{"_id": "1", "text": "  "}'], "q.jsonl:1: field 'text': empty"),
        ([""], "q.jsonl: no queries found"),
    ],
)
def test_bad_query_files_name_file_line_and_field(tmp_path, lines, expected):
    path = write(tmp_path / "q.jsonl", lines)
    with pytest.raises(UserError) as err:
        load_queries(QuerySpec(str(path)))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_and_unknown_mapping(tmp_path):
    with pytest.raises(UserError, match="queries file not found"):
        load_queries(QuerySpec(str(tmp_path / "nope.jsonl")))
    path = write(tmp_path / "q.jsonl", ['{"_id": "1", "text": "a"}'])
    with pytest.raises(UserError, match="field 'question': text column not found"):
        load_queries(QuerySpec(str(path), text_field="question"))
