"""Flags generated from a typed config: names, defaults from the model only, bad values name the flag."""

from __future__ import annotations

import argparse
from typing import Literal, Optional

import pytest
from pydantic import Field, PositiveInt

from rankladder.core.cli_model import add_model_arguments, cli, config_from_args
from rankladder.core.config import StrictModel
from rankladder.core.errors import UserError


class Demo(StrictModel):
    run_dirs: list[str] = Field(default_factory=list, json_schema_extra=cli(positional=True, metavar="RUN_DIR"))
    base_url: Optional[list[str]] = Field(None, description="server", json_schema_extra=cli(repeat=True))
    batch_size: PositiveInt = Field(16, description="requests")
    mode: Literal["a", "b"] = "a"
    structured: bool = Field(True, description="constrain replies")
    api_only: int = 3


def parse(argv, separator="-", bool_values=False):
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_model_arguments(parser, Demo, separator=separator, skip=("api_only",), bool_values=bool_values)
    return parser, parser.parse_args(argv)


def test_flags_named_after_fields_and_defaults_come_from_the_model():
    _, args = parse(["r1", "r2", "--base-url", "u1", "--base-url", "u2", "--no-structured"])
    config = config_from_args(Demo, args)
    assert config.run_dirs == ["r1", "r2"] and config.base_url == ["u1", "u2"]
    assert config.structured is False and config.batch_size == 16 and config.mode == "a"
    assert not hasattr(args, "batch_size")  # only what was given is in the namespace


def test_base_values_sit_between_defaults_and_flags():
    _, args = parse(["r", "--mode", "b"])
    config = config_from_args(Demo, args, base={"mode": "a", "batch_size": 4})
    assert (config.mode, config.batch_size) == ("b", 4)


def test_bad_value_names_the_flag():
    _, args = parse(["r", "--batch-size", "0"])
    with pytest.raises(UserError, match=r"^--batch-size: must be at least 1"):
        config_from_args(Demo, args)


def test_skipped_fields_have_no_flag_and_underscore_style():
    parser, args = parse(["r", "--batch_size", "2", "--structured", "false"], separator="_", bool_values=True)
    assert config_from_args(Demo, args, separator="_").structured is False
    assert "--api-only" not in parser.format_help() and "--api_only" not in parser.format_help()
    assert "(default: 16)" in parser.format_help()
