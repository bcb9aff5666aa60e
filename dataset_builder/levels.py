"""Relevance levels: the grades an LLM writes documents for, and how they are described to it.

``definition`` is the abstract meaning (cards, per-query prompts for large models); ``instruction``
is the concrete writing task a small model can follow (per-level prompts). ``query_in_prompt=False``
keeps the query out of the prompt entirely: the only way a 135M model reliably writes off-topic text.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from rankladder.core.errors import UserError
from rankladder.core.textio import read_text

DEFAULT_LEVELS_FILE = Path(__file__).parent / "data" / "levels.yaml"


@dataclass(frozen=True)
class Level:
    value: int
    name: str
    definition: str
    instruction: str
    query_in_prompt: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


_REQUIRED = ("value", "name", "definition", "instruction")


def load_levels(path: str | Path | None = None) -> list[Level]:
    """Levels from a YAML/JSON file (a list, or a mapping with a ``levels`` list); highest first."""
    path = Path(path) if path else DEFAULT_LEVELS_FILE
    if not path.is_file():
        raise UserError(f"{path}: levels file not found")
    try:
        text = read_text(path)
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: cannot parse levels config: {str(exc).splitlines()[0]}") from exc
    if isinstance(data, dict):
        data = data.get("levels")
    if not isinstance(data, list) or not data:
        raise UserError(f"{path}: expected a non-empty list of levels (or a mapping with 'levels')")
    levels = []
    for index, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise UserError(f"{path}: levels[{index}] must be a mapping")
        for key in _REQUIRED:
            if key not in entry:
                raise UserError(f"{path}: levels[{index}]: field '{key}' is missing")
        unknown = set(entry) - set(_REQUIRED) - {"query_in_prompt"}
        if unknown:
            raise UserError(f"{path}: levels[{index}]: unknown field '{sorted(unknown)[0]}'")
        if not isinstance(entry["value"], int) or entry["value"] < 0:
            raise UserError(f"{path}: levels[{index}]: field 'value' must be a non-negative integer")
        levels.append(Level(**entry))
    values = [level.value for level in levels]
    if len(set(values)) != len(values):
        raise UserError(f"{path}: duplicate level value in {values}")
    return sorted(levels, key=lambda level: -level.value)


def select_levels(levels: list[Level], wanted: list[int] | None, source: str = "--levels") -> list[Level]:
    """Restrict to the wanted level values; an unknown value is an error naming it."""
    if not wanted:
        return levels
    by_value = {level.value: level for level in levels}
    for value in wanted:
        if value not in by_value:
            raise UserError(f"{source}: unknown level {value} (defined: {sorted(by_value)})")
    return [by_value[value] for value in sorted(set(wanted), reverse=True)]
