"""Prompt templates are data files (``dataset_builder/prompts/*.yaml``), hashed and recorded.

Two modes: ``per-level`` (one chat call per query × level with the level's concrete instruction,
which small models follow) and ``per-query`` (one call returns every level as a JSON object).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import random
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_json
from rankladder.core.textio import read_text
from rankladder.dataset_builder.levels import Level

PROMPTS_DIR = Path(__file__).parent / "prompts"
TOPICS_FILE = Path(__file__).parent / "data" / "unrelated_topics.txt"
MODES = ("per-level", "per-query")


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    mode: str
    system: str
    user: str
    source: str

    @property
    def hash(self) -> str:
        """Stable over file formatting: hashes the fields, not the bytes."""
        return sha256_json({"mode": self.mode, "system": self.system, "user": self.user})[:16]

    def to_dict(self) -> dict:
        return {"name": self.name, "mode": self.mode, "hash": self.hash, "system": self.system, "user": self.user}


def load_template(name_or_path: str | None = None, mode: str = "per-level") -> PromptTemplate:
    """A bundled template by name (``per_level``, ``per_query``) or a YAML file path."""
    if name_or_path is None:
        name_or_path = mode.replace("-", "_")
    path = Path(name_or_path)
    if not path.suffix:
        path = PROMPTS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise UserError(f"{path}: prompt template not found")
    try:
        data = yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: cannot parse prompt template: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path}: prompt template must be a mapping")
    for key in ("mode", "user"):
        if not isinstance(data.get(key), str):
            raise UserError(f"{path}: field '{key}' is missing or not a string")
    if data["mode"] not in MODES:
        raise UserError(f"{path}: field 'mode': unknown mode {data['mode']!r} (choose from {', '.join(MODES)})")
    return PromptTemplate(
        name=str(data.get("name", path.stem)),
        mode=data["mode"],
        system=str(data.get("system", "")).strip(),
        user=data["user"],
        source=str(path),
    )


STOPWORDS = frozenset(
    "a an and are as at be by can do does for from how i in is it its of on or the to what when where which who "
    "why with you your my we our about into vs versus so".split()
)
MIN_TOPICS = 10  # a huge run shares a word with nearly every topic: keep at least the least related ones
MIN_PREFIX = 5  # a stem this long that begins another word relates them (volcan/volcano, honey/honeybe)


def content_words(text: str) -> set[str]:
    """Lower-cased words minus stopwords, as Snowball English stems (BM25's stemmer: ``rankladder.core.bm25``),
    so ``knitting``/``knit``, ``butterflies``/``butterfly`` and ``immunization``/``immune`` meet."""
    words = [word for word in re.findall(r"[a-z0-9]+", text.lower()) if word not in STOPWORDS]
    return set(_stemmer().stemWords(words))


@functools.cache
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


class _Vocabulary:
    """The run's query stems; :meth:`related` finds a topic's stems equal to one of them, or one a prefix of
    the other (at least ``MIN_PREFIX`` letters: compounds and derivations the stemmer keeps apart)."""

    def __init__(self, words: set[str]):
        self.words, self.sorted = words, sorted(words)

    def _begins_a_word(self, stem: str) -> bool:
        at = bisect.bisect_left(self.sorted, stem)
        return at < len(self.sorted) and self.sorted[at].startswith(stem)

    def related(self, stems: set[str]) -> set[str]:
        found = set()
        for stem in stems:
            prefixes = (stem[:end] for end in range(MIN_PREFIX, len(stem)))
            if stem in self.words or any(prefix in self.words for prefix in prefixes):
                found.add(stem)
            elif len(stem) >= MIN_PREFIX and self._begins_a_word(stem):
                found.add(stem)
        return found


def load_topics(queries: list[str] | None = None) -> list[str]:
    """The bundled level-0 topics, minus those related to any of the run's ``queries`` (a shared stem, or
    one stem beginning another: :class:`_Vocabulary`).

    A level-0 document is a negative for every query of the run (they share one corpus): "growing tomatoes
    in a garden", drawn for one query, must not be about another query's tomatoes. When fewer than
    ``MIN_TOPICS`` share nothing, the least related ones are kept.
    """
    topics = [line.strip() for line in TOPICS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not queries:
        return topics
    words: set[str] = set()
    for query in queries:
        words |= content_words(query)
    vocabulary = _Vocabulary(words)
    shared = {topic: vocabulary.related(content_words(topic)) for topic in topics}
    kept = [topic for topic in topics if not shared[topic]]
    if len(kept) < MIN_TOPICS:
        kept = sorted(topics, key=lambda topic: len(shared[topic]))[:MIN_TOPICS]
        kept = [topic for topic in topics if topic in kept]  # the file's order, so draws stay stable
    return kept


def unrelated_topic(query_id: str, sample: int, attempt: int, topics: list[str]) -> str:
    """A deterministic off-topic subject for level-0 documents (no query in the prompt)."""
    seed = int(hashlib.sha256(f"{query_id}\x1f{sample}\x1f{attempt}".encode()).hexdigest()[:12], 16)
    return random.Random(seed).choice(topics)


def _messages(template: PromptTemplate, user: str) -> list[dict]:
    messages = [{"role": "system", "content": template.system}] if template.system else []
    return messages + [{"role": "user", "content": user}]


def render_per_level(template: PromptTemplate, query: str, level: Level, topic: str) -> list[dict]:
    instruction = level.instruction.format(query=query, topic=topic)
    return _messages(template, template.user.format(instruction=instruction, query=query))


def render_per_query(template: PromptTemplate, query: str, levels: list[Level]) -> list[dict]:
    block = "\n".join(f"- Level {level.value}: {level.definition}" for level in levels)
    keys = ", ".join(f'"{level.value}"' for level in levels)
    return _messages(template, template.user.format(query=query, level_block=block, level_keys=keys))
