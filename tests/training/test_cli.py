"""``rankladder train``'s command line without training: the fast --help, its static Trainer flag list,
one spelling per option, and the short-run defaults (issues 15, 20)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from rankladder.training.cli import COMMON_TRAINER_FLAGS
from rankladder.training.config import DEV_EVAL_DEFAULTS, SHORT_RUN_DEFAULTS, gpu_dataloader_workers, run_defaults

HELP_SCRIPT = """
import sys

import pytest
from rankladder.cli import main
try:
    main(["train", "--help"])
except SystemExit as exc:
    assert exc.code == 0, exc.code
print("IMPORTED:" + ",".join(m for m in ("transformers", "torch", "sentence_transformers") if m in sys.modules))
"""


def test_help_lists_our_options_then_the_common_trainer_flags_without_importing_transformers():
    result = subprocess.run([sys.executable, "-c", HELP_SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.rstrip().endswith("IMPORTED:")  # seconds of imports saved: --help stays under a second
    ours, theirs = text.index("rankladder options:"), text.index("trainer options (transformers")
    assert ours < theirs < text.index("examples:")
    flat = " ".join(text.split())  # argparse wraps the help column
    assert "every other SentenceTransformerTrainingArguments flag is accepted" in flat
    assert "--group_size" in text and "--out DIR" in text
    assert "--group-size" not in text and "--output-dir" not in text and "--output_dir" not in text
    assert "G: documents per query in one training row (default: 4) --" in flat  # the default, once
    assert "(default: None)" not in flat and "default: wasserstein) (default" not in flat
    assert len(text.splitlines()) < 150


def test_static_trainer_flags_match_the_installed_training_arguments():
    """The list --help shows is checked against the real dataclass, so it follows transformers upgrades."""
    from sentence_transformers import SentenceTransformerTrainingArguments

    fields = {f.name: f for f in dataclasses.fields(SentenceTransformerTrainingArguments) if f.init}
    for name, _metavar, _help, default in COMMON_TRAINER_FLAGS:
        assert name in fields, f"--{name} is not a TrainingArguments field any more"
        if default is not None:
            assert fields[name].default == default, f"--{name}: default is {fields[name].default!r} now"
    assert set(SHORT_RUN_DEFAULTS) | set(DEV_EVAL_DEFAULTS) <= set(fields)


def test_our_options_and_the_trainers_own_flags_each_parse_once():
    """rankladder's options are declared by its parser; the rest goes to transformers' HfArgumentParser,
    which accepts the Trainer's flags as transformers spells them."""
    from rankladder.cli import build_parser
    from rankladder.core.errors import UserError
    from rankladder.training.config import parse_trainer_flags

    args, extra = build_parser().parse_known_args(
        ["train", "--out", "m", "--group_size", "3", "--per_device_train_batch_size", "2", "--bf16"]
    )
    assert (args.out, args.group_size, extra) == ("m", 3, ["--per_device_train_batch_size", "2", "--bf16"])
    assert "loss" not in vars(args)  # defaults left out: YAML values sit between them and the command line
    assert parse_trainer_flags(extra) == {"per_device_train_batch_size": 2, "bf16": True}
    assert parse_trainer_flags(["--per-device-train-batch-size", "4"]) == {"per_device_train_batch_size": 4}
    with pytest.raises(UserError, match="unrecognized arguments: --group-size 3"):
        parse_trainer_flags(["--group-size", "3"])  # ours have one spelling
    with pytest.raises(UserError, match="--learning_rate.*invalid float value: 'fast'"):
        parse_trainer_flags(["--learning_rate", "fast"])


def test_short_run_defaults_sit_under_what_the_user_gave():
    gpu_workers = {"dataloader_num_workers": gpu_dataloader_workers()}  # tokenising beside the GPU's step
    assert run_defaults({}, evaluate=False) == {"logging_steps": 0.05, "disable_tqdm": False, **gpu_workers}
    assert run_defaults({"logging_steps": 500, "disable_tqdm": True, "dataloader_num_workers": 0}, evaluate=False) == {}
    assert "dataloader_num_workers" not in run_defaults({}, evaluate=False, gpu=False)
    with_dev = run_defaults({}, evaluate=True)
    assert with_dev["eval_strategy"] == "steps" and with_dev["eval_on_start"] is True
    assert "eval_strategy" not in run_defaults({"eval_strategy": "no"}, evaluate=True)
    assert run_defaults({}, evaluate=False, gpu=False)["dataloader_pin_memory"] is False  # no pin_memory warning
    assert run_defaults({}, evaluate=False, quiet=True)["disable_tqdm"] is True  # -q: no training bar
    assert "disable_tqdm" not in run_defaults({"disable_tqdm": False}, evaluate=False, quiet=True)
    assert "dataloader_pin_memory" not in run_defaults({"dataloader_pin_memory": True}, evaluate=False, gpu=False)
