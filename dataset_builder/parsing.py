"""Turning raw LLM output into a clean document, and deciding whether it is usable.

Everything here is total: any string in, a string or a reason out — never an exception (fuzzed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from rankladder.dataset_builder.filters import FilterConfig, degeneration_reason
from rankladder.dataset_builder.schema import normalize_text

_SPECIAL_TOKENS = re.compile(r"<\|[^|>]{1,40}\|>|</?s>|\[/?INST\]|<\|?(?:assistant|user|system)\|?>", re.I)
_ROLE_PREFIX = re.compile(r"^\s*(?:assistant|ai|answer|response|output)[ \t]*(?::|\n)\s*", re.I)
_PREAMBLE = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|absolutely|okay|ok|great|here you go)\b[^\n]*?(?:[:.!]\s*|\n)"
    r"|here(?:'s| is| are)\b[^\n]*?:\s*"
    r"|(?:\*\*|#+\s*)?(?:passage|document|text|title|paragraph)(?:\s*\d+)?\s*:?\s*(?:\*\*)?\s*\n"
    r"|(?:\*\*|#+\s*)?(?:passage|document|text|paragraph)(?:\s*\d+)?\s*:\s*(?:\*\*)?)",
    re.I,
)
_CLOSER = re.compile(r"\n\s*(?:i hope (?:this|that) helps|let me know if|feel free to|note:|\(note:)[^\n]*$", re.I)
_REFUSAL = re.compile(
    r"\b(?:i(?:'m| am) (?:sorry|unable|not able)|i cannot|i can't|i can not|as an ai\b|as a language model"
    r"|i do not have (?:access|the ability)|i won't be able)\b",
    re.I,
)
_CHAT_REPLY = re.compile(
    r"^\s*(?:i(?:'m| am) (?:ready|happy|glad)|i(?:'d| would) be (?:happy|glad)|how can i help|"
    r"(?:what|which) (?:is|are) (?:your|the) (?:question|topic)|please (?:provide|give|tell))\b",
    re.I,
)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class ValidationConfig:
    min_words: int = 12
    max_words: int = 400
    near_duplicate_threshold: float = 0.8  # Jaccard over word 3-shingles
    filters: FilterConfig = field(default_factory=FilterConfig)  # degeneration filters (``filters.py``)


def clean_generation(raw: object) -> str:
    """Strip chat artifacts, preambles ("Sure, here is..."), closers and wrapping quotes."""
    if not isinstance(raw, str):
        return ""
    text = _SPECIAL_TOKENS.sub(" ", raw).replace("\r\n", "\n").strip()
    for _ in range(3):  # preambles can stack: "Sure! Here is a passage:\n**Passage:**"
        before = text
        text = _ROLE_PREFIX.sub("", text, count=1)
        text = _PREAMBLE.sub("", text, count=1).strip()
        if text == before:
            break
    text = _CLOSER.sub("", text).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    text = re.sub(r"^#+\s*", "", text)
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    return re.sub(r"[ \t]+", " ", re.sub(r"\n{2,}", "\n", text)).strip()


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def shingles(text: str, size: int = 3) -> set[tuple[str, ...]]:
    words = _WORD.findall(normalize_text(text))
    if len(words) < size:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def validate(
    text: str, prompt_texts: tuple[str, ...] = (), config: ValidationConfig = ValidationConfig(), query: str = ""
) -> str | None:
    """``None`` when usable, else a short reason: empty, too_short, too_long, refusal, chat_reply,
    prompt_echo, or a degeneration filter's name (``filters.reason_names``)."""
    if not text:
        return "empty"
    words = word_count(text)
    if words < config.min_words:
        return "too_short"
    if words > config.max_words:
        return "too_long"
    if _REFUSAL.search(text[:300]):
        return "refusal"
    if _CHAT_REPLY.search(text) or text.count("?") > max(1, text.count(".")):
        return "chat_reply"  # talks to the user ("I'm ready to help. What's ...?") instead of writing
    normalized = normalize_text(text)
    for prompt_text in prompt_texts:
        prompt_norm = normalize_text(prompt_text)
        if prompt_norm and len(prompt_norm) > 20 and (prompt_norm in normalized or normalized in prompt_norm):
            return "prompt_echo"
        if prompt_norm and jaccard(shingles(prompt_norm), shingles(normalized)) > 0.5:
            return "prompt_echo"
    return degeneration_reason(text, query, config.filters)


def duplicate_reason(text: str, accepted: list[str], config: ValidationConfig = ValidationConfig()) -> str | None:
    """``exact_duplicate`` / ``near_duplicate`` against the documents already kept for the query."""
    normalized = normalize_text(text)
    grams = shingles(normalized)
    for other in accepted:
        if normalize_text(other) == normalized:
            return "exact_duplicate"
        if jaccard(grams, shingles(other)) >= config.near_duplicate_threshold:
            return "near_duplicate"
    return None


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)


def parse_levels_json(raw: object, level_values: list[int]) -> dict[int, str]:
    """Per-query mode: the passages per level from a JSON object, tolerant of fences and prose."""
    if not isinstance(raw, str):
        return {}
    candidates = [m.group(1) for m in _FENCE.finditer(raw)]
    start, end = raw.find("{"), raw.rfind("}")
    if start != -1 and end > start:
        candidates.append(raw[start : end + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except (json.JSONDecodeError, RecursionError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        found = {}
        for key, value in data.items():
            match = re.search(r"\d+", str(key))
            if match and int(match.group()) in level_values and isinstance(value, str):
                found[int(match.group())] = clean_generation(value)
        if found:
            return found
    return {}
