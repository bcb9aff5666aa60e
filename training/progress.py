"""What training shows while it runs: one tqdm bar (steps, ETA) with the latest loss and dev nDCG on it.

transformers' own ``ProgressCallback`` writes every log as a raw dict under the bar, and its
``PrinterCallback`` (``--disable_tqdm``) prints them to stdout; at default verbosity both are replaced by
:func:`progress_callbacks`: the numbers go on the bar's postfix and into the log (``-v`` shows them).
"""

from __future__ import annotations

import contextlib
import logging

logger = logging.getLogger("rankladder.training")

# log keys shown on the bar, in this order, under these short names
POSTFIX_KEYS = (("loss", "loss"), ("grad_norm", "grad norm"))


def compact(logs: dict) -> str:
    """``step 5: loss 0.4123 · grad_norm 1.02 · learning_rate 2.5e-05`` (one line, 4 significant digits)."""
    parts = [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in logs.items() if k != "total_flos"]
    return " · ".join(parts)


def progress_callbacks(trainer) -> None:
    """Swap the Trainer's dict-printing callbacks for the compact ones (call before ``train``)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class CompactProgressCallback(ProgressCallback):
        """The Trainer's bar (steps, rate, ETA), with the latest loss / grad norm / dev nDCG as its postfix."""

        postfix: dict[str, str]

        def on_train_begin(self, args, state, control, **kwargs):
            self.postfix = {}
            super().on_train_begin(args, state, control, **kwargs)
            if self.training_bar is not None:
                self.training_bar.set_description("training")

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            logger.info("step %d: %s", state.global_step, compact(logs))
            if self.training_bar is None or not state.is_world_process_zero:
                return
            for key, short in POSTFIX_KEYS:
                if isinstance(logs.get(key), (int, float)):
                    self.postfix[short] = f"{logs[key]:.4g}"
            for key, value in logs.items():  # the evaluator's nDCG@10 (eval_dev_ndcg@10 for the dev split), x100
                if key.startswith("eval_") and key.endswith("_ndcg@10") and isinstance(value, (int, float)):
                    self.postfix[key[len("eval_") : -len("_ndcg@10")] + " nDCG@10"] = f"{value * 100:.1f}"
            if self.postfix:  # loss first, whatever was logged first (the dev evaluation before training)
                shown = [short for _, short in POSTFIX_KEYS if short in self.postfix]
                ordered = {k: self.postfix[k] for k in shown + [k for k in self.postfix if k not in shown]}
                self.training_bar.set_postfix(ordered, refresh=True)

    class LogPrinterCallback(PrinterCallback):
        """``--disable_tqdm``: the logs go to the log (``-v``, the log file), not as dicts to stdout."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_local_process_zero and logs:
                logger.info("step %d: %s", state.global_step, compact(logs))

    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(CompactProgressCallback)
    if trainer.pop_callback(PrinterCallback) is not None:
        trainer.add_callback(LogPrinterCallback)


@contextlib.contextmanager
def datasets_bars_off():
    """datasets' "Generating train split" bars while training reads its lists: not the user's business."""
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
