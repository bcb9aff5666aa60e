"""The judge prompt (``prompts/judge.yaml``): data, hashed like the generation prompts, and rendered into the
chat messages of one judgement (the run's own level ladder, example turns, then the query and passage)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_json
from rankladder.dataset_builder.prompts import PROMPTS_DIR


@dataclass(frozen=True)
class JudgePrompt:
    """The judge prompt (``prompts/judge.yaml``): system, user template and example turns, hashed."""

    name: str
    system: str
    user: str
    examples: tuple = ()  # ({"query", "passage", "grade": "max" | "min" | int}, ...)
    source: str = ""

    @property
    def hash(self) -> str:
        return sha256_json(
            {"mode": "judge", "system": self.system, "user": self.user, "examples": [dict(e) for e in self.examples]}
        )[:16]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "mode": "judge",
            "hash": self.hash,
            "system": self.system,
            "user": self.user,
            "examples": [dict(e) for e in self.examples],
        }


def load_judge_template(path: str | Path | None = None) -> JudgePrompt:
    path = Path(path) if path else PROMPTS_DIR / "judge.yaml"
    if not path.is_file():
        raise UserError(f"{path}: judge prompt template not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: cannot parse judge prompt: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("user"), str):
        raise UserError(f"{path}: judge prompt needs a string field 'user'")
    for placeholder in ("{query}", "{passage}"):
        if placeholder not in data["user"]:
            raise UserError(f"{path}: field 'user' lacks the placeholder {placeholder}")
    examples = data.get("examples") or []
    for index, example in enumerate(examples if isinstance(examples, list) else [None]):
        if not (
            isinstance(example, dict)
            and isinstance(example.get("query"), str)
            and isinstance(example.get("passage"), str)
            and (example.get("grade") in ("max", "min") or isinstance(example.get("grade"), int))
        ):
            raise UserError(f"{path}: examples[{index}] needs 'query', 'passage' and 'grade' (max, min or an integer)")
    return JudgePrompt(
        name=str(data.get("name", path.stem)),
        system=str(data.get("system", "")).strip(),
        user=data["user"],
        examples=tuple(dict(e) for e in examples),
        source=str(path),
    )


def render(template: JudgePrompt, query: str, passage: str, levels: list[dict]) -> list[dict]:
    """Chat messages for one judgement; ``levels`` as in the run manifest (highest first)."""
    block = "\n".join(f"{lv['value']} = {lv['definition']}" for lv in sorted(levels, key=lambda lv: -lv["value"]))
    values = [lv["value"] for lv in levels]

    def user(q: str, p: str) -> dict:
        return {
            "role": "user",
            "content": template.user.format(
                query=q, passage=p, level_block=block, min_grade=min(values), max_grade=max(values)
            ),
        }

    messages = [{"role": "system", "content": template.system}] if template.system else []
    for example in template.examples:
        grade = {"max": max(values), "min": min(values)}.get(example["grade"], example["grade"])
        messages += [user(example["query"], example["passage"]), {"role": "assistant", "content": str(grade)}]
    return messages + [user(query, passage)]
