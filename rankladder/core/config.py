"""The config base: typed, strict (unknown keys are errors), ranges checked, one line per mistake.

Every stage declares its options as a pydantic model derived from :class:`StrictModel`. The CLI flags,
the release and study YAML files and the Python API all build those models through :func:`validate`,
so a value is checked once, before any model loads or any file is written, and a mistake reads
``file:line: key 'generation.batch_size': Input should be greater than or equal to 1 (got 0)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from rankladder.core.errors import UserError
from rankladder.core.textio import read_text

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every rankladder config: unknown keys rejected, assignments validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


class KeyLines(dict):
    """``{("generation", "batch_size"): 12}``: the YAML line of every key, for error messages."""

    def line_of(self, path: tuple) -> int | None:
        while path:
            if path in self:
                return self[path]
            path = path[:-1]
        return None


def load_yaml(path: str | Path, what: str = "config") -> tuple[dict, KeyLines]:
    """A YAML mapping and the line of each of its keys; one-line errors for every kind of bad file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: {what} not found")
    text = read_text(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise UserError(
            f"{where}: not valid YAML: {getattr(exc, 'problem', None) or str(exc).splitlines()[0]}"
        ) from None
    if data is None:
        return {}, KeyLines()
    if not isinstance(data, dict):
        raise UserError(f"{path}: a {what} file is a mapping of key: value")
    lines = KeyLines()
    _collect_lines(node, (), lines)
    return data, lines


def _collect_lines(node, prefix: tuple, lines: KeyLines) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            here = prefix + (str(key_node.value),)
            lines[here] = key_node.start_mark.line + 1
            _collect_lines(value_node, here, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[prefix + (index,)] = item.start_mark.line + 1
            _collect_lines(item, prefix + (index,), lines)


def validate(
    model: type[M], data: dict[str, Any], source: str | None = None, lines: KeyLines | None = None, prefix: tuple = ()
) -> M:
    """``model(**data)`` with a :class:`UserError` naming the first bad key (and ``file:line``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UserError(describe(exc, source, lines, prefix)) from None


def validate_flags(
    model: type[M], data: dict[str, Any], flags: dict[str, str] | None = None, separator: str = "-"
) -> M:
    """Like :func:`validate` for command-line values: the error names the flag (``--batch-size: ...``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        message = "unknown option" if error["type"] == "extra_forbidden" else _message(error)
        if not name:  # a check across options: its message names them
            raise UserError(message) from None
        flag = (flags or {}).get(name) or "--" + name.replace("_", separator)
        raise UserError(f"{flag}: {message}") from None


def default(model: type[BaseModel], name: str) -> Any:
    """A field's default (argparse flags take theirs from the config model: one set of defaults)."""
    return model.model_fields[name].get_default(call_default_factory=True)


def describe(exc: ValidationError, source: str | None = None, lines: KeyLines | None = None, prefix: tuple = ()) -> str:
    """The first error of a pydantic ``ValidationError`` as one line."""
    error = exc.errors(include_url=False)[0]
    path = prefix + tuple(error["loc"])
    key = ".".join(str(part) for part in path) or "(top level)"
    message = "unknown key" if error["type"] == "extra_forbidden" else _message(error)
    where = source or "config"
    line = lines.line_of(path) if lines is not None and source else None
    if line is not None:
        where += f":{line}"
    return f"{where}: key '{key}': {message}"


def _message(error: dict) -> str:
    """A pydantic error in plain words: ranges as "must be at least 1", plus the value given."""
    ctx, kind, given = error.get("ctx") or {}, error["type"], error.get("input")
    if kind == "greater_than" and ctx.get("gt") == 0 and isinstance(given, int) and not isinstance(given, bool):
        message = "must be at least 1"
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        words = {
            "greater_than": "greater than",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "less_than_equal": "at most",
        }[kind]
        message = f"must be {words} {next(iter(ctx.values()))}"
    elif kind == "literal_error":
        message = f"unknown value, choose from {ctx.get('expected', '')}"
    else:
        message = error["msg"].replace("Value error, ", "")
        message = message[0].lower() + message[1:] if message else message
    if given is not None and not isinstance(given, (dict, list)):
        message += f" (got {given!r})"
    return message


def dump(model: BaseModel) -> dict[str, Any]:
    """Plain JSON-ready data (what manifests record and what hashes are taken of)."""
    return model.model_dump(mode="json")
