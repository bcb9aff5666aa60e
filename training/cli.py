"""``rankladder train``: graded list-wise fine-tuning of a SentenceTransformer."""

from __future__ import annotations

import argparse

from rankladder.core.clihelp import HelpFormatter

DESCRIPTION = """\
Fine-tune a SentenceTransformer on graded lists with a list-wise loss (ws2, wasserstein, listnet,
infonce). rankladder's options come first; every transformers/sentence-transformers TrainingArguments
flag is accepted too (the common ones are listed last). Options can also come from a YAML file
(--config); flags given on the command line win. The model goes to --out DIR, the Trainer's
checkpoints to DIR.checkpoints/.
Short runs: the loss is logged every ~5% of the steps, and with a dev split the dev nDCG@10 is
evaluated before training, every quarter of the run and at the end (unless --logging_steps /
--eval_strategy say otherwise). Multi-GPU: `accelerate launch -m rankladder.cli train ...`."""

EPILOG = """\
examples:
  rankladder train --data out/dataset --loss ws2 --out out/model --max_steps 200
  rankladder train --config configs/train_ws2.yaml --learning_rate 2e-5
  accelerate launch --num_processes 4 -m rankladder.cli train --config configs/train_ws2.yaml --gather_across_devices
"""

# The Trainer flags people reach for, shown by --help without importing transformers (seconds): name,
# metavar, help, default as transformers sets it. tests/training/test_cli.py checks every entry against
# the installed SentenceTransformerTrainingArguments, so the list cannot drift from the real flags.
COMMON_TRAINER_FLAGS = (
    ("per_device_train_batch_size", "N", "training lists per batch per device", 8),
    ("gradient_accumulation_steps", "N", "batches per optimizer step", 1),
    ("learning_rate", "LR", "peak learning rate (AdamW)", 5e-05),
    ("num_train_epochs", "E", "passes over the training lists", 3.0),
    ("max_steps", "N", "stop after N optimizer steps (overrides --num_train_epochs)", -1),
    ("warmup_steps", "N|R", "linear warm-up: N steps, or a fraction R < 1 of the run", 0),
    ("lr_scheduler_type", "NAME", "linear, cosine, constant, ...", "linear"),
    ("weight_decay", "W", "AdamW weight decay", 0.0),
    ("seed", "N", "seed of the run (groups, batches, init)", 42),
    ("logging_steps", "N", "log loss/grad norm every N steps (default: every ~5%% of the steps)", None),
    ("eval_strategy", "WHEN", "no, steps, epoch (default: steps when --data has a dev split, else no)", None),
    ("save_strategy", "WHEN", "no, steps, epoch, best", "steps"),
    ("save_steps", "N", "checkpoint every N steps", 500),
    ("resume_from_checkpoint", "DIR|latest", "continue an interrupted run", None),
    ("bf16", "BOOL", "bfloat16 mixed precision", False),
    ("fp16", "BOOL", "float16 mixed precision", False),
    ("use_cpu", "BOOL", "train on the CPU even when a GPU is present", False),
    ("report_to", "NAME", "tensorboard, wandb, ... or none", "none"),
    ("disable_tqdm", "BOOL", "no progress bar (default: the bar is shown, whatever the log level)", None),
    ("deepspeed", "CONFIG", "DeepSpeed JSON config", None),
)


def trainer_flags_help() -> str:
    """The common Trainer flags as a help section (argparse's own layout), without importing transformers."""
    listing = argparse.ArgumentParser(add_help=False, usage=argparse.SUPPRESS, formatter_class=HelpFormatter)
    group = listing.add_argument_group(
        "trainer options (transformers / sentence-transformers)",
        "The common ones; every other SentenceTransformerTrainingArguments flag is accepted as well, spelled "
        "as transformers spells it (see the transformers TrainingArguments documentation).",
    )
    for name, metavar, text, default in COMMON_TRAINER_FLAGS:
        shown = f" (default: {default})" if default is not None else ""
        group.add_argument(f"--{name}", metavar=metavar, help=text + shown)
    return listing.format_help().strip("\n")


def register(subparsers) -> None:
    from rankladder.core.cli_model import add_model_arguments
    from rankladder.training.config import TrainConfig

    parser = subparsers.add_parser(
        "train",
        help="fine-tune a retriever on graded lists (list-wise losses)",
        usage="rankladder train --data DATASET_DIR --out DIR [options] (or --config FILE.yaml)",
        description=DESCRIPTION,
        epilog=trainer_flags_help() + "\n\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # an abbreviation of one of ours must not swallow a Trainer flag
    )
    add_model_arguments(parser.add_argument_group("rankladder options"), TrainConfig, separator="_", bool_values=True)
    # the Trainer's flags are not declared here (importing transformers takes seconds): what this parser
    # does not know goes to args.trainer_args, parsed by transformers' HfArgumentParser when train runs
    parser.set_defaults(func=run, extra_args_to="trainer_args", output_arg="out")


def run(args: argparse.Namespace) -> int:
    from rankladder.core.cli_model import given_options
    from rankladder.core.console import print_summary
    from rankladder.training import trainer
    from rankladder.training.config import TrainConfig, parse_trainer_flags, split_options
    from rankladder.training.distributed import is_writer
    from rankladder.training.summary import next_steps, summary_rows

    # only training options: the global flags (-v, -q, ...) share the namespace
    options = given_options(TrainConfig, args)
    options.update(parse_trainer_flags(getattr(args, "trainer_args", None) or []))
    output = trainer.run(*split_options(options))
    if is_writer():  # one closing summary per launch, not one per process
        print_summary("train", summary_rows(output), next_steps=next_steps(output))
    return 0
