"""Degeneration filters: Gopher-style repetition and quality rules for one generated document.

Each rule is a small named check that returns its reject reason (``dup_sentences``, ``top_2gram``,
``dup_5gram``, ``non_alpha``, ``query_echo``, ...) or ``None``. ``validate`` in ``parsing`` runs them
after the cheap checks, so a looping or junk generation is retried like any other rejected attempt
and counted by reason in the run manifest, ``stats.json`` and the dataset card.

Thresholds are the ones of Gopher (Rae et al. 2021, "Scaling Language Models: Methods, Analysis &
Insights from Training Gopher", Table A1; the same defaults as datatrove's ``GopherRepetitionFilter``
and ``GopherQualityFilter``). Written locally rather than depending on datatrove: datatrove 0.10.1's
wheel is 17 MB with eight runtime dependencies (dill, fsspec, huggingface-hub, humanize, loguru,
multiprocess, numpy, tqdm), and its English word splitter needs nltk and regex from the ``processing``
extra (13 more packages, fasttext and trafilatura among them), all for ~100 lines of counting.

Two adaptations for short documents (rankladder's are 40-200 words, Gopher's web pages are longer),
each measured on SmolLM2 output in ``benchmarks/bench_judge.py``:

- ``build`` collapses blank lines, so a document has no paragraphs; the line rules run on *sentences*
  (lines split at sentence ends), which is where a looping short generation repeats itself.
- the "most frequent n-gram" share counts only an n-gram that occurs at least twice. datatrove counts
  the top n-gram even when it occurs once, which in a 12-40 word passage lets one pair of long words
  ("photosynthetic organisms") pass 20 % of the characters: a rule about repetition firing on none.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from rankladder.dataset_builder.schema import normalize_text

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class FilterConfig:
    """Thresholds of the degeneration filters (a value of 0 or None switches that rule off)."""

    enabled: bool = True
    # Gopher Table A1 (as "duplicate line fraction" / "duplicate line character fraction"), on sentences
    dup_sentence_frac: float | None = 0.3
    dup_sentence_char_frac: float | None = 0.2
    # Gopher Table A1: share of characters in the most frequent n-gram, n = 2..4
    top_ngram_char_frac: dict = field(default_factory=lambda: {"2": 0.2, "3": 0.18, "4": 0.16})
    # Gopher Table A1: share of characters in duplicated n-grams, n = 5..10
    dup_ngram_char_frac: dict = field(
        default_factory=lambda: {"5": 0.15, "6": 0.14, "7": 0.13, "8": 0.12, "9": 0.11, "10": 0.10}
    )
    # Gopher quality rule: at least 80 % of words contain an alphabetic character
    min_alpha_word_frac: float | None = 0.8
    # rankladder's own: the query's words, verbatim, may cover at most this share of the document's words
    max_query_echo_frac: float | None = 0.4


def reason_names(config: FilterConfig = FilterConfig()) -> list[str]:
    """Every reject reason these filters can return, in the order they are checked."""
    return (
        ["dup_sentences", "dup_sentence_chars"]
        + [f"top_{n}gram" for n in config.top_ngram_char_frac]
        + [f"dup_{n}gram" for n in config.dup_ngram_char_frac]
        + ["non_alpha", "query_echo"]
    )


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _duplicates(items: list[str]) -> tuple[int, int]:
    """How many items repeat an earlier one, and their characters (datatrove's ``find_duplicates``)."""
    seen, count, chars = set(), 0, 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


def top_ngram_chars(words: list[str], n: int) -> int:
    """Characters in all occurrences of the most frequent n-gram, when it occurs at least twice."""
    grams = Counter(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    if not grams:
        return 0
    gram, count = grams.most_common(1)[0]
    return len(gram) * count if count >= 2 else 0


def duplicated_ngram_chars(words: list[str], n: int) -> int:
    """Characters in n-grams that repeat an earlier one, skipping past each repeat (datatrove's
    ``find_all_duplicate``: overlapping repeats are not counted twice)."""
    seen, chars, index = set(), 0, 0
    while index < len(words) - n + 1:
        gram = "".join(words[index : index + n])
        if gram in seen:
            chars += len(gram)
            index += n
        else:
            seen.add(gram)
            index += 1
    return chars


def query_echo_frac(words: list[str], query: str) -> float:
    """Share of the document's words inside verbatim copies of the whole query."""
    query_words = _WORD.findall(normalize_text(query))
    n = len(query_words)
    if not n or not words:
        return 0.0
    covered, index = 0, 0
    while index <= len(words) - n:
        if words[index : index + n] == query_words:
            covered += n
            index += n
        else:
            index += 1
    return covered / len(words)


def degeneration_reason(text: str, query: str = "", config: FilterConfig = FilterConfig()) -> str | None:
    """The first filter ``text`` fails, or ``None``. Total: any string in, never an exception."""
    if not config.enabled or not text or not text.strip():
        return None
    chars = len(text)
    units = [normalize_text(s) for s in sentences(text)]
    if units:
        count, dup_chars = _duplicates(units)
        if config.dup_sentence_frac and count / len(units) > config.dup_sentence_frac:
            return "dup_sentences"
        if config.dup_sentence_char_frac and dup_chars / chars > config.dup_sentence_char_frac:
            return "dup_sentence_chars"
    words = _WORD.findall(normalize_text(text))
    for n, limit in config.top_ngram_char_frac.items():
        if limit and top_ngram_chars(words, int(n)) / chars > limit:
            return f"top_{n}gram"
    for n, limit in config.dup_ngram_char_frac.items():
        if limit and duplicated_ngram_chars(words, int(n)) / chars > limit:
            return f"dup_{n}gram"
    tokens = text.split()
    if config.min_alpha_word_frac and tokens:
        alpha = sum(any(ch.isalpha() for ch in token) for token in tokens)
        if alpha / len(tokens) < config.min_alpha_word_frac:
            return "non_alpha"
    if config.max_query_echo_frac and query and query_echo_frac(words, query) > config.max_query_echo_frac:
        return "query_echo"
    return None
