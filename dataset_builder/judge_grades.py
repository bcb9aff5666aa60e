"""From a judge's reply to a judgement: the grade (from token log-probabilities where the backend returns
them, else the first integer of the reply), the expected grade, and the record written to ``judgements/``."""

from __future__ import annotations

import math
import re

from rankladder.core.manifest import utc_now

_INTEGER = re.compile(r"(?<![\d.])-?\d+(?!\.\d)")  # an integer, not part of a decimal


def parse_grade(reply: object, grades: list[int]) -> int | None:
    """The first integer of the reply when it is a grade of the scale, else None (total: never raises)."""
    if not isinstance(reply, str):
        return None
    match = _INTEGER.search(reply[:2000])
    if match is None:
        return None
    try:
        value = int(match.group())
    except ValueError:
        return None
    return value if value in grades else None


def grade_distribution(token_logprobs: object, grades: list[int]) -> dict[int, float] | None:
    """Probability of each grade at the first generated token that is a grade digit, renormalised over
    the grades (variants such as ``"2"`` and ``" 2"`` add up); None when no generated token is a grade."""
    if not isinstance(token_logprobs, list):
        return None
    names = {str(g): g for g in grades}
    for step in token_logprobs:
        if not (isinstance(step, (list, tuple)) and len(step) == 2 and isinstance(step[1], dict)):
            continue
        token, alternatives = step
        if not isinstance(token, str) or token.strip() not in names:
            continue
        mass = dict.fromkeys(grades, 0.0)
        for text, logprob in alternatives.items():
            grade = names.get(text.strip()) if isinstance(text, str) else None
            if grade is not None and isinstance(logprob, (int, float)) and math.isfinite(logprob):
                mass[grade] += math.exp(min(logprob, 0.0))
        total = sum(mass.values())
        if total <= 0:
            return {g: float(g == names[token.strip()]) for g in grades}
        return {g: p / total for g, p in mass.items()}
    return None


def judgement(reply: str, token_logprobs, grades: list[int]) -> dict:
    """grade, expected_grade, grade_probs and method (``logprobs`` / ``parsed`` / ``unparsed``)."""
    probs = grade_distribution(token_logprobs, grades)
    if probs is not None:
        grade = max(probs, key=lambda g: (probs[g], -g))
        return {
            "grade": grade,
            "expected_grade": round(sum(g * p for g, p in probs.items()), 4),
            "grade_probs": {str(g): round(p, 6) for g, p in probs.items()},
            "method": "logprobs",
        }
    grade = parse_grade(reply, grades)
    return {
        "grade": grade,
        "expected_grade": None if grade is None else float(grade),
        "grade_probs": None,
        "method": "parsed" if grade is not None else "unparsed",
    }


def judgement_record(row: dict, found: dict, reply: str, run_id: str) -> dict:
    """The line ``judge`` appends to ``judgements/`` for one record ``row`` (key, query_id, doc_id, level)
    judged as ``found`` (:func:`judgement`)."""
    return {
        "key": row["key"],
        "query_id": row["query_id"],
        "doc_id": row["doc_id"],
        "level": row["level"],
        **found,
        "reply": reply[:200],
        "run_id": run_id,
        "created": utc_now(),
    }
