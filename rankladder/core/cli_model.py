"""Command-line flags generated from a stage's typed config: one declaration per option.

A stage declares its options once, as a :class:`rankladder.core.config.StrictModel`. This module turns
that model into argparse arguments (:func:`add_model_arguments`) and the parsed flags back into the
model (:func:`config_from_args`), so the CLI, the Python API (keyword arguments) and the YAML sections
share names, defaults, ranges and help. Per-field CLI details (positional, metavar, help group,
repeatable) live in the field's ``json_schema_extra={"cli": {...}}`` (see :func:`cli`).

Spelling: ``--base-url`` for ``base_url`` (separator ``-``, argparse's and the ``hf`` CLI's
convention); the training stage passes ``separator="_"`` because the Trainer's flags are spelled
the transformers way (``--max_steps``) and rankladder's sit beside them.

Defaults stay out of the namespace (``argparse.SUPPRESS``): it holds only the flags actually given,
so a YAML file's values can sit between the model's defaults and the command line, and the model
(not argparse) is the one place a default lives. The help text shows it, taken from the model.
"""

from __future__ import annotations

import argparse
import types
import typing
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from rankladder.core.config import validate_flags

M = TypeVar("M", bound=BaseModel)


def cli(
    *,
    positional: bool = False,
    metavar: str | None = None,
    group: str | None = None,
    repeat: bool = False,
    hidden: bool = False,
    short: str | None = None,
    const: Any = None,
) -> dict[str, Any]:
    """``json_schema_extra`` of a field: how its flag looks.

    ``positional``: an argument without ``--`` (a list field takes one or more values);
    ``repeat``: a list field given as the flag repeated (``--base-url A --base-url B``);
    ``group``: the help section it is listed under; ``hidden``: accepted but not listed
    (API/YAML-only fields are simply not given a flag: see ``skip`` of :func:`add_model_arguments`);
    ``short``: a one-letter spelling beside the long one (``-k``); ``const``: the flag's value may be left
    out, and then is ``const`` (``--separability`` = ``True``, ``--separability MODEL`` = that model).
    """
    meta = {"positional": positional, "metavar": metavar, "group": group, "repeat": repeat, "hidden": hidden}
    if short:
        meta["short"] = short
    if const is not None:
        meta["const"] = const
    return {"cli": meta}


def flag_name(name: str, separator: str = "-") -> str:
    """The one spelling of a field's flag."""
    return "--" + name.replace("_", separator)


def option_label(name: str, separator: str = "-") -> str:
    """How messages name an option so they read right from the CLI, the API and YAML: ``base_url (--base-url)``."""
    return f"{name} ({flag_name(name, separator)})"


def cli_meta(info) -> dict[str, Any]:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return dict(extra.get("cli") or {})


def _base_type(annotation):
    """``Optional[X]`` → ``X``, ``Annotated[X, ...]`` (``PositiveInt``) → ``X``; other annotations unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = members[0] if len(members) == 1 else annotation
    if typing.get_origin(annotation) is typing.Annotated:
        return typing.get_args(annotation)[0]
    return annotation


def _default_text(value: Any) -> str:
    if value is None or value is False or value == [] or value == {}:
        return ""
    return f" (default: {value})"


def parse_bool(text: str) -> bool:
    lowered = str(text).lower()
    if lowered in ("1", "true", "yes", "y"):
        return True
    if lowered in ("0", "false", "no", "n"):
        return False
    raise ValueError(text)


def add_model_arguments(
    parser: argparse.ArgumentParser,
    model: type[BaseModel],
    separator: str = "-",
    skip: tuple[str, ...] = (),
    bool_values: bool = False,
) -> None:
    """One argument per field of ``model`` (fields in ``skip`` get none: API/YAML only, or declared by hand).

    Booleans: ``--name`` / ``--no-name`` (``bool_values=True``: ``--name [BOOL]`` and ``--no_name``, the
    transformers style used beside the Trainer's flags). ``Literal`` fields get ``choices``; ``int`` and
    ``float`` fields a ``type``; list fields ``nargs="+"`` or, with ``repeat``, the flag repeated.
    """
    groups: dict[str | None, Any] = {None: parser}
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        meta = cli_meta(info)
        target = groups.get(meta.get("group"))
        if target is None:
            target = groups[meta["group"]] = parser.add_argument_group(meta["group"])
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        shown = " (required)" if info.is_required() else _default_text(default)
        help_text = argparse.SUPPRESS if meta.get("hidden") else (info.description or "") + shown
        base = _base_type(info.annotation)
        kwargs: dict[str, Any] = {"help": help_text, "default": argparse.SUPPRESS}
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        if "const" in meta:  # ``--flag`` alone, or ``--flag VALUE``
            kwargs.update(nargs="?", const=meta["const"])
        elif typing.get_origin(base) is Literal:
            kwargs["choices"] = list(typing.get_args(base))
        elif base in (int, float):
            kwargs["type"] = base
            kwargs.setdefault("metavar", "N" if base is int else "X")
        elif typing.get_origin(base) is list:
            item = (typing.get_args(base) or (str,))[0]
            if item in (int, float):
                kwargs["type"] = item
            if meta.get("repeat"):
                kwargs["action"] = "append"
            else:
                kwargs["nargs"] = "+"
        if meta.get("positional"):
            kwargs.pop("default")
            if typing.get_origin(base) is list:
                kwargs["nargs"] = "+"
            kwargs.setdefault("metavar", name.upper())
            target.add_argument(name, **kwargs)
            continue
        flag = flag_name(name, separator)
        if base is bool:
            no_flag = flag_name("no_" + name, separator)
            if bool_values:
                kwargs.update(nargs="?", const=True, type=parse_bool, metavar="BOOL")
                target.add_argument(flag, dest=name, **kwargs)
                target.add_argument(
                    no_flag, dest=name, action="store_false", help=argparse.SUPPRESS, default=argparse.SUPPRESS
                )
            else:
                off = "" if help_text == argparse.SUPPRESS else f" ({no_flag}: off)"
                kwargs["help"] = help_text if help_text == argparse.SUPPRESS else help_text + off
                target.add_argument(flag, dest=name, action="store_true", **kwargs)
                target.add_argument(
                    no_flag, dest=name, action="store_false", help=argparse.SUPPRESS, default=argparse.SUPPRESS
                )
            continue
        target.add_argument(*([meta["short"]] if meta.get("short") else []), flag, dest=name, **kwargs)


def given_options(model: type[BaseModel], args: argparse.Namespace) -> dict[str, Any]:
    """The fields of ``model`` that were given on the command line (defaults are not in the namespace)."""
    return {name: getattr(args, name) for name in model.model_fields if hasattr(args, name)}


def config_from_args(
    model: type[BaseModel], args: argparse.Namespace, separator: str = "-", base: dict[str, Any] | None = None
):
    """``model`` from the given flags over ``base`` (e.g. a YAML file's values); errors name the flag."""
    values = {**(base or {}), **given_options(model, args)}
    flags = {name: flag_name(name, separator) for name in model.model_fields}
    return validate_flags(model, values, flags, separator=separator)


def config_from_options(model: type[M], options: dict[str, Any], separator: str = "-") -> M:
    """``model`` from keyword arguments (the Python API) or a YAML section given as a mapping; a mistake is
    one :class:`UserError` naming the option as key and flag (``window (--window): must be at least 1``)."""
    names = {*model.model_fields, *options}  # a missing required field is named too
    flags = {name: option_label(name, separator) if name in model.model_fields else name for name in names}
    return validate_flags(model, options, flags, separator=separator)
