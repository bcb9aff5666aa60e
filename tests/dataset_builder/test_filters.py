"""Degeneration filters: each rule fires on a crafted degenerate text, normal passages pass them all."""

from dataclasses import replace

import pytest

from rankladder.dataset_builder.filters import (
    FilterConfig,
    degeneration_reason,
    reason_names,
)
from rankladder.dataset_builder.parsing import validate

NORMAL = (
    "Water boils at a lower temperature at high altitude because the air pressure is lower there. "
    "At sea level it boils at 100 degrees Celsius, but on the summit of Mount Everest the boiling point "
    "drops to about 70 degrees. Cooks in mountain towns therefore boil pasta and eggs for longer, and "
    "pressure cookers raise the boiling point again by sealing the steam inside the pot."
)
QUERY = "why does water boil at a lower temperature at high altitude"

SENTENCE = "Boil an egg for ten to twenty minutes in a pot of water."
FILLER = "Hens lay eggs in spring, and farms sell them at markets across the region every week."
LOOP = "the river flows over the old stone bridge near the town hall"


def only(rule: str) -> FilterConfig:
    """A config with every rule switched off except ``rule`` (so each rule is shown to fire by itself)."""
    off = FilterConfig(
        dup_sentence_frac=None,
        dup_sentence_char_frac=None,
        top_ngram_char_frac={n: None for n in FilterConfig().top_ngram_char_frac},
        dup_ngram_char_frac={n: None for n in FilterConfig().dup_ngram_char_frac},
        min_alpha_word_frac=None,
        max_query_echo_frac=None,
    )
    defaults = FilterConfig()
    if rule.startswith("top_"):
        n = rule[4:-4]
        return replace(off, top_ngram_char_frac={**off.top_ngram_char_frac, n: defaults.top_ngram_char_frac[n]})
    if rule.startswith("dup_") and rule.endswith("gram"):
        n = rule[4:-4]
        return replace(off, dup_ngram_char_frac={**off.dup_ngram_char_frac, n: defaults.dup_ngram_char_frac[n]})
    field = {
        "dup_sentences": "dup_sentence_frac",
        "dup_sentence_chars": "dup_sentence_char_frac",
        "non_alpha": "min_alpha_word_frac",
        "query_echo": "max_query_echo_frac",
    }[rule]
    return replace(off, **{field: getattr(defaults, field)})


DEGENERATE = {
    # the quickstart's level-3 document, three times over
    "dup_sentences": "Boil an egg: 10 to 20 minutes. Boil an egg: 10 to 20 minutes. Boil an egg: 10 to 20 minutes.",
    # one long sentence repeated once among five: 1/5 of sentences, but over 20 % of the characters
    "dup_sentence_chars": f"{SENTENCE} {FILLER} Eggs keep for weeks. {FILLER} Shells are thin.",
    "top_2gram": "The egg is white. The egg is round. The egg is small. The egg is fresh. The egg is cheap.",
    "top_3gram": "Add the egg now. Boil the egg now. Peel the egg now. Salt the egg now. Eat the egg now.",
    "top_4gram": "I boil the brown egg. You boil the brown egg. They boil the brown egg, and Sam eats it.",
    **{f"dup_{n}gram": f"{LOOP}, and then {LOOP}, and then {LOOP} once more." for n in range(5, 11)},
    "non_alpha": "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 = 210 in total, the sum.",
    "query_echo": f"{QUERY}? {QUERY}. {QUERY}, people ask.",
}


def test_every_rule_has_a_crafted_case():
    assert set(DEGENERATE) == set(reason_names())


@pytest.mark.parametrize("rule", reason_names())
def test_each_filter_fires_on_its_degenerate_text(rule):
    assert degeneration_reason(DEGENERATE[rule], QUERY, only(rule)) == rule
    assert degeneration_reason(NORMAL, QUERY, only(rule)) is None


@pytest.mark.parametrize("rule", reason_names())
def test_with_all_filters_on_every_degenerate_text_is_rejected(rule):
    assert degeneration_reason(DEGENERATE[rule], QUERY) is not None


def test_normal_passages_pass_every_filter(graded_rows):
    assert degeneration_reason(NORMAL, QUERY) is None
    for row in graded_rows:  # 64 hand-written documents, levels 3..0, with their queries
        assert degeneration_reason(row["text"], row["query"]) is None, row["text"]


def test_validation_returns_the_filter_reason_and_can_switch_filters_off():
    from rankladder.dataset_builder.parsing import ValidationConfig

    assert validate(NORMAL, query=QUERY) is None
    assert validate(DEGENERATE["dup_sentences"] + " " + FILLER, query="boil an egg") == "dup_sentences"
    looping = " ".join([SENTENCE] * 4)
    assert validate(looping, config=ValidationConfig(filters=FilterConfig(enabled=False))) is None


def test_a_single_long_bigram_is_not_repetition():
    """datatrove counts the top n-gram even when it occurs once; in a short passage that rejects text
    that repeats nothing. The rule here needs two occurrences."""
    text = "Photosynthetic microorganisms dominate oceans."
    assert degeneration_reason(text, "", only("top_2gram")) is None
    assert degeneration_reason(f"{text} {text}", "", only("top_2gram")) == "top_2gram"


def test_filter_rejects_are_counted_in_stats_and_card(tmp_path, graded_rows):
    import json

    from rankladder.dataset_builder.build import build_dataset
    from rankladder.dataset_builder.runfiles import REJECTS, AppendWriter
    from tests.helpers.run_fixtures import write_run_dir

    run_dir = write_run_dir(tmp_path / "run", graded_rows[:8])
    writer = AppendWriter(run_dir / REJECTS / "shard-00000-of-00001.fixture.jsonl")
    for reason, final in (
        ("dup_sentences", False),
        ("dup_sentences", True),
        ("top_2gram", False),
        ("too_short", False),
    ):
        writer.write(
            {
                "key": "x\t3\t0",
                "query_id": "x",
                "level": 3,
                "sample": 0,
                "attempt": 0,
                "seed": 0,
                "reason": reason,
                "final": final,
                "raw": DEGENERATE.get(reason, "Hi."),
            }
        )
    writer.close()
    out = tmp_path / "rankladder-filters-dataset"
    build_dataset([run_dir], out, "0.1.0")
    stats = json.loads((out / "stats.json").read_text())
    assert stats["degeneration_filters"] == {
        "failed_attempts": 3,
        "by_filter": {"dup_sentences": 2, "top_2gram": 1},
        "rejected_keys": 1,
    }
    assert stats["counts"]["failed_attempts_by_reason"]["too_short"] == 1
    card = (out / "README.md").read_text()
    assert "| dup_sentences | degeneration filter | 2 |" in card and "| too_short | validation | 1 |" in card
