"""The output parser and validators are total: fuzzed input never raises."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankladder.dataset_builder.judge import grade_distribution, judgement, parse_grade
from rankladder.dataset_builder.parsing import (
    clean_generation,
    duplicate_reason,
    parse_levels_json,
    validate,
)

chat_noise = st.sampled_from(
    [
        "<|im_start|>",
        "<|im_end|>",
        "assistant\n",
        "Sure! Here is a passage:\n",
        "**Passage:**\n",
        '"',
        "```json\n",
        "```",
        "{",
        "}",
        "\n\n",
        "I hope this helps!",
    ]
)
texts = st.lists(st.one_of(st.text(max_size=80), chat_noise), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_clean_and_validate_never_raise(raw):
    cleaned = clean_generation(raw)
    assert isinstance(cleaned, str)
    assert "<|im_start|>" not in cleaned and "<|im_end|>" not in cleaned
    reason = validate(cleaned, (raw,))
    assert reason is None or isinstance(reason, str)
    assert duplicate_reason(cleaned, [raw, cleaned]) in (None, "exact_duplicate", "near_duplicate") or not cleaned


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        texts,
        st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=30), st.integers()), max_size=5).map(
            json.dumps
        ),
    )
)
def test_per_query_json_parser_never_raises(raw):
    found = parse_levels_json(raw, [3, 2, 1, 0])
    assert isinstance(found, dict)
    assert set(found) <= {3, 2, 1, 0}


def test_non_strings_are_handled():
    assert clean_generation(None) == ""
    assert parse_levels_json(None, [1]) == {}


def test_chat_artifacts_and_preambles_are_stripped():
    raw = (
        '<|im_start|>assistant\nSure, here is a short passage:\n"Hard-boiled eggs need about ten '
        'minutes in boiling water."\nI hope this helps!<|im_end|>'
    )
    assert clean_generation(raw) == "Hard-boiled eggs need about ten minutes in boiling water."
    assert clean_generation("**Passage:**\nThe sky looks blue.") == "The sky looks blue."


def test_validation_reasons():
    long_text = "Water boils at a lower temperature at high altitude because the air pressure is lower there."
    assert validate(long_text) is None
    assert validate("Too short.") == "too_short"
    assert validate("I'm sorry, but I cannot write about that topic because it may be harmful to people.") == "refusal"
    prompt = "Write a short factual passage of 3 to 5 sentences that directly answers the question about water."
    assert validate(prompt, (prompt,)) == "prompt_echo"
    assert validate("", ()) == "empty"
    assert (
        validate("I'm ready to help. What's the topic you would like me to write a passage about today?")
        == "chat_reply"
    )
    assert validate("Is it hot? Is it cold? Who knows whether the weather will change again tomorrow?") == "chat_reply"
    assert validate(" ".join(["word"] * 500)) == "too_long"


def test_duplicates_within_a_list():
    a = "Bees make honey from flower nectar which they store and dehydrate inside wax honeycomb cells."
    assert duplicate_reason(a.upper(), [a]) == "exact_duplicate"
    assert duplicate_reason(a.replace("cells.", "cells, the hive."), [a]) == "near_duplicate"
    assert duplicate_reason("Glaciers carve valleys as they slowly move downhill under their own weight.", [a]) is None


def test_per_query_json_in_fences_and_prose():
    raw = 'Here you go:\n```json\n{"3": "Full answer text.", "level 2": "Partial.", "x": 5}\n```'
    assert parse_levels_json(raw, [3, 2, 1, 0]) == {3: "Full answer text.", 2: "Partial."}


# -- the judge's replies ------------------------------------------------------------------------------

GRADES = [0, 1, 2, 3]
judge_noise = st.sampled_from(
    [
        "3",
        " 2",
        "1",
        "0",
        "Grade: ",
        "The passage is ",
        "relevant",
        "-1",
        "4",
        "12",
        "2.5",
        "\n",
        "**",
        "<|im_end|>",
        "score",
        ".",
    ]
)
replies = st.lists(st.one_of(st.text(max_size=20), judge_noise), max_size=8).map("".join)
token = st.one_of(judge_noise, st.text(max_size=6))
logprob = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-50, 5))
steps = st.lists(st.tuples(token, st.dictionaries(token, logprob, max_size=6)), max_size=6)


@settings(max_examples=400, deadline=None)
@given(replies)
def test_judge_reply_parser_never_raises(reply):
    grade = parse_grade(reply, GRADES)
    assert grade is None or grade in GRADES


@settings(max_examples=400, deadline=None)
@given(replies, st.one_of(st.none(), steps, st.lists(st.integers(), max_size=3), st.text(max_size=10)))
def test_judgement_from_any_reply_and_logprobs_is_well_formed(reply, token_logprobs):
    found = judgement(reply, token_logprobs, GRADES)
    assert found["method"] in ("logprobs", "parsed", "unparsed")
    if found["method"] == "logprobs":
        probs = [found["grade_probs"][str(g)] for g in GRADES]
        assert abs(sum(probs) - 1) < 1e-3 and all(0 <= p <= 1 for p in probs)
        assert 0 <= found["expected_grade"] <= 3 and found["grade"] in GRADES
    elif found["method"] == "parsed":
        assert found["grade"] in GRADES and found["expected_grade"] == found["grade"]
    else:
        assert found["grade"] is None and found["expected_grade"] is None


def test_judge_replies_and_grade_probabilities():
    assert parse_grade("Grade: 2", GRADES) == 2
    assert parse_grade("The passage is 3/3 relevant", GRADES) == 3
    assert (
        parse_grade("4", GRADES) is None and parse_grade("2.5", GRADES) is None and parse_grade("none", GRADES) is None
    )
    import math

    steps_ = [
        ("Grade", {"Grade": -0.1}),
        (":", {":": -0.01}),
        (" 2", {" 2": math.log(0.5), "2": math.log(0.1), " 3": math.log(0.3), " 0": math.log(0.1), "x": -1.0}),
    ]
    probs = grade_distribution(steps_, GRADES)
    assert probs == pytest.approx({0: 0.1, 1: 0.0, 2: 0.6, 3: 0.3})
    found = judgement("Grade: 2", steps_, GRADES)
    assert found["grade"] == 2 and found["expected_grade"] == pytest.approx(0.6 * 2 + 0.3 * 3)
    assert grade_distribution([("Hello", {"Hello": 0.0})], GRADES) is None
