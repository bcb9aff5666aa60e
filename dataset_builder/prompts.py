"""Prompt templates are data files (``dataset_builder/prompts/*.yaml``), hashed and recorded.

Two modes: ``per-level`` (one chat call per query × level with the level's concrete instruction,
which small models follow) and ``per-query`` (one call returns every level as a JSON object).
"""

from __future__ import annotations

import hashlib
import random
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


def load_topics() -> list[str]:
    return [line.strip() for line in TOPICS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


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
