"""``rankladder train``: graded list-wise fine-tuning of a SentenceTransformer."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Fine-tune a SentenceTransformer on graded lists with a list-wise loss (ws2, wasserstein, listnet,
infonce). Every transformers/sentence-transformers Trainer flag is accepted (e.g.
--per_device_train_batch_size, --learning_rate, --num_train_epochs, --max_steps, --save_strategy,
--bf16, --deepspeed CONFIG, --resume_from_checkpoint DIR|latest). Options can also come from a YAML
file (--config); flags given on the command line win. Multi-GPU: `accelerate launch -m rankladder.cli
train ...`."""

EPILOG = """\
examples:
  rankladder train --data out/dataset --loss ws2 --output-dir out/model --max_steps 200
  rankladder train --config configs/train_ws2.yaml --learning_rate 2e-5
  accelerate launch --num_processes 4 -m rankladder.cli train --config configs/train_ws2.yaml --gather_across_devices
"""


class _LazyTrainParser(argparse.ArgumentParser):
    """Adds the ~150 Trainer options (which need transformers) only when ``train`` is parsed,
    so ``rankladder --help`` stays fast while ``rankladder train --help`` is complete."""

    _options_added = False

    def parse_known_args(self, args=None, namespace=None):
        if not self._options_added:
            from rankladder.training.config import add_arguments

            add_arguments(self)
            self._options_added = True
        return super().parse_known_args(args, namespace)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="fine-tune a retriever on graded lists (list-wise losses)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.__class__ = _LazyTrainParser
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rankladder.training.trainer import run_training

    options = {k: v for k, v in vars(args).items() if k not in ("func", "command", "verbose")}
    output = run_training(options)
    print(output)
    return 0
