"""``rankladder train``'s command line without training: the fast --help, its static Trainer flag list,
both flag spellings, and the short-run defaults (issue 15)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from rankladder.training.cli import COMMON_TRAINER_FLAGS
from rankladder.training.config import DEV_EVAL_DEFAULTS, SHORT_RUN_DEFAULTS, gpu_dataloader_workers, run_defaults

HELP_SCRIPT = """
import sys
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
    assert "--group_size" in text and "--group-size" in text and "--output-dir" in text
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


def test_both_spellings_parse_to_the_same_options():
    from rankladder.cli import build_parser

    dashes = ["train", "--output-dir", "m", "--group-size", "3", "--per-device-train-batch-size", "2"]
    underscores = ["train", "--output_dir", "m", "--group_size", "3", "--per_device_train_batch_size", "2"]
    parsed = [vars(build_parser().parse_known_args(argv)[0]) for argv in (dashes, underscores)]
    keys = ("output_dir", "group_size", "per_device_train_batch_size")
    assert [{k: p[k] for k in keys} for p in parsed] == [
        {"output_dir": "m", "group_size": 3, "per_device_train_batch_size": 2}
    ] * 2


def test_short_run_defaults_sit_under_what_the_user_gave():
    gpu_workers = {"dataloader_num_workers": gpu_dataloader_workers()}  # tokenising beside the GPU's step
    assert run_defaults({}, evaluate=False) == {"logging_steps": 0.05, "disable_tqdm": False, **gpu_workers}
    assert run_defaults({"logging_steps": 500, "disable_tqdm": True, "dataloader_num_workers": 0}, evaluate=False) == {}
    assert "dataloader_num_workers" not in run_defaults({}, evaluate=False, gpu=False)
    with_dev = run_defaults({}, evaluate=True)
    assert with_dev["eval_strategy"] == "steps" and with_dev["eval_on_start"] is True
    assert "eval_strategy" not in run_defaults({"eval_strategy": "no"}, evaluate=True)
    assert run_defaults({}, evaluate=False, gpu=False)["dataloader_pin_memory"] is False  # no pin_memory warning
    assert "dataloader_pin_memory" not in run_defaults({"dataloader_pin_memory": True}, evaluate=False, gpu=False)
