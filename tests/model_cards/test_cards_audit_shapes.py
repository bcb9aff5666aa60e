"""Card audit of two more dataset shapes, published to the loopback Hub and read back (``card_audit``):

- two runs from two generators that wrote documents for the same queries, merged with ``--merge keep-all``;
- a run judged through the openai backend (the canned server as a judge that answers from the passage it
  is shown, so every label policy keeps documents), built with each label policy.
"""

from __future__ import annotations

import json
import re

import pytest

from rankladder.cli import main
from rankladder.dataset_builder.runfiles import manifests
from tests.helpers.canned_openai import CannedOpenAI
from tests.helpers.card_audit import audit_dataset_card, hub_card
from tests.helpers.hubserver.client import TOKEN
from tests.helpers.run_fixtures import write_run_dir


def _publish(folder, repo):
    argv = ["publish", "dataset", str(folder), "--repo", repo, "--version", "0.1.0", "--license", "mit"]
    return main(argv)


def _audit(hub, repo, run_dirs, records_read=None, card=None):
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    run_manifests = [json.loads(path.read_text()) for run_dir in run_dirs for path in manifests(run_dir)]
    return audit_dataset_card(api, hub.endpoint, repo, "v0.1.0", run_manifests, card=card, records_read=records_read)


def _records(run_dir) -> int:
    return sum(len(path.read_text().splitlines()) for path in (run_dir / "records").glob("*.jsonl"))


def test_two_generators_on_the_same_queries_merged_keep_all(hub, hub_env, graded_rows, tmp_path):
    """Every run's documents kept as separate samples: the card names both generators, the rule and what each
    run gave; the counts are the parquet files' on the Hub."""
    shared = sorted({r["query_id"] for r in graded_rows})[:8]
    run_a = write_run_dir(tmp_path / "a", graded_rows, backend="gen-a")
    rewritten = [dict(r, text="In other words: " + r["text"]) for r in graded_rows if r["query_id"] in shared]
    run_b = write_run_dir(tmp_path / "b", rewritten, backend="gen-b")
    argv = ["build", str(run_a), str(run_b), "--out", str(tmp_path / "mix"), "--version", "0.1.0"]
    assert main([*argv, "--merge", "keep-all", "--dev-fraction", "0.25"]) == 0
    assert _publish(tmp_path / "mix", "org/keep-all") == 0
    records = {"a": _records(run_a), "b": _records(run_b)}
    assert records == {"a": len(graded_rows), "b": len(rewritten)}
    assert _audit(hub, "org/keep-all", [run_a, run_b], records) == []
    api, card = None, None
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    card = hub_card(api, "org/keep-all", "v0.1.0")
    for true, false in (
        ("Merge rule: `keep-all`.", "Merge rule: `first`."),
        ("| `b` | `gen-b` |", "| `b` | `gen-a` |"),
        (f"| {len(rewritten)} | {len(rewritten)} |", f"| {len(rewritten)} | {len(rewritten) - 1} |"),
    ):
        assert true in card.content, true
        planted = type(card)(card.content.replace(true, false, 1))
        assert _audit(hub, "org/keep-all", [run_a, run_b], records, card=planted), false


def _judge_from_passage(graded_rows):
    """A judge that grades each passage by the level it was written for, one step higher for level 1 of every
    other query: judged labels differ from intended ones where it matters for the policies."""
    level = {row["text"]: (row["level"], row["query_id"]) for row in graded_rows}
    odd = set(sorted({row["query_id"] for row in graded_rows})[::2])

    def reply(body) -> str:
        prompt = body["messages"][-1]["content"]
        passage = re.search(r"Passage: (.*?)\n\nReply", prompt, re.S).group(1).strip()
        intended, query = level[passage]
        return str(intended + 1 if intended == 1 and query in odd else intended)

    return reply


@pytest.fixture(scope="module")
def judged_run(tmp_path_factory, graded_rows):
    run = write_run_dir(tmp_path_factory.mktemp("judged") / "run", graded_rows)
    server = CannedOpenAI(delay=0.0, reply_for=_judge_from_passage(graded_rows))
    try:
        argv = ["judge", str(run), "--backend", "openai", "--model", "fake", "--base-url", server.url]
        assert main(argv) == 0
    finally:
        server.close()
    return run


@pytest.mark.parametrize("policy", ["intended", "judged", "agree"])
def test_judged_dataset_card_for_each_label_policy(hub, hub_env, judged_run, tmp_path, policy):
    """The judge's model, prompt, matrix, κ and agreement.png travel to the Hub card; the grades are described
    as the policy made them (never "known by construction")."""
    out = tmp_path / "ds"
    argv = ["build", str(judged_run), "--out", str(out), "--version", "0.1.0", "--dev-fraction", "0.25"]
    assert main([*argv, "--labels", policy]) == 0
    repo = f"org/judged-{policy}"
    assert _publish(out, repo) == 0
    assert _audit(hub, repo, [judged_run]) == []
    from huggingface_hub import HfApi

    card = hub_card(HfApi(endpoint=hub.endpoint, token=TOKEN), repo, "v0.1.0")
    section = card.text[card.text.index("## Intended vs judged relevance") :]
    judge = re.search(r"LLM judge \((.*?) via", section).group(1)
    assert "`fake`" in judge  # the model the openai server served
    kappa = re.search(r"\(quadratic\): (\S+)", section).group(1)
    for true, false in ((judge, judge.replace("`fake`", "`gpt-4o`")), (f"(quadratic): {kappa}", "(quadratic): 0.99")):
        planted = type(card)(card.content.replace(true, false, 1))
        assert planted.content != card.content and _audit(hub, repo, [judged_run], card=planted), false
