"""Live encoding progress for ``rankladder eval``, and quiet third-party bars while it runs.

mteb's own display while a corpus is encoded is one "Searching corpus chunks 0/1" bar that does not
move until the whole chunk (up to 50 000 documents) is encoded. Instead, ``ProgressEncoderWrapper``
shows one bar per task's corpus, labelled with the task name, that moves per encoded batch (docs/s):
a forward hook on the SentenceTransformer counts the rows of each batch as sentence-transformers
encodes it, so mteb's encode path (prompts, length sorting, post-processing) stays untouched.

``quiet_third_party`` hides the bars that are not the user's business (mteb's corpus chunks,
datasets' "Standardizing text corpus format" maps) and bm25s' DEBUG logs, for the duration of an
evaluation only, through the libraries' public switches.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from typing import Any

from mteb.models import SentenceTransformerEncoderWrapper
from mteb.types import PromptType

from rankladder.core.logs import QUIET, showing_library_output, verbosity


def corpus_sizes(task) -> dict[tuple[str, str, str], int]:
    """Documents per (task, subset, split) of a loaded retrieval task; {} when its layout is not the usual one."""
    sizes = {}
    dataset = getattr(task, "dataset", None)
    if not isinstance(dataset, dict):
        return sizes
    for subset, splits in dataset.items():
        if not isinstance(splits, dict):
            continue
        for split, data in splits.items():
            corpus = data.get("corpus") if isinstance(data, dict) else None
            if corpus is not None:
                sizes[(task.metadata.name, subset, split)] = len(corpus)
    return sizes


class ProgressEncoderWrapper(SentenceTransformerEncoderWrapper):
    """mteb's SentenceTransformer wrapper with one live bar per task's corpus (stderr, docs/s).

    ``sizes`` maps (task, subset, split) to the corpus size, so a corpus that mteb encodes in several
    chunks still shows one bar; without an entry (e.g. behind the embedding cache, which hands over only
    the documents it has not cached) each encode call shows its own bar.
    """

    def __init__(self, model, sizes: dict | None = None, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.sizes = dict(sizes or {})
        self._bars: dict[tuple[str, str, str], Any] = {}

    def encode(self, inputs, *, task_metadata, hf_split: str, hf_subset: str, prompt_type=None, **kwargs):
        if prompt_type != PromptType.document:  # queries are few and fast: no bar
            return super().encode(
                inputs,
                task_metadata=task_metadata,
                hf_split=hf_split,
                hf_subset=hf_subset,
                prompt_type=prompt_type,
                **kwargs,
            )
        from tqdm.auto import tqdm

        key = (task_metadata.name, hf_subset, hf_split)
        bar = self._bars.get(key)
        if bar is None:
            label = task_metadata.name if hf_subset == "default" else f"{task_metadata.name}/{hf_subset}"
            bar = tqdm(
                total=self.sizes.get(key) or len(inputs.dataset),
                desc=f"encode {label} corpus",
                unit="doc",
                file=sys.stderr,
                dynamic_ncols=True,
                disable=verbosity() == QUIET,  # -q: errors and the closing summary only
            )
            self._bars[key] = bar

        def count_rows(_module, _args, output):
            bar.update(len(output["sentence_embedding"]))

        hook = self.model.register_forward_hook(count_rows)
        try:
            return super().encode(
                inputs,
                task_metadata=task_metadata,
                hf_split=hf_split,
                hf_subset=hf_subset,
                prompt_type=prompt_type,
                **{**kwargs, "show_progress_bar": False},
            )
        finally:
            hook.remove()
            if key not in self.sizes or bar.n >= bar.total:
                bar.close()
                self._bars.pop(key, None)

    def close_bars(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


@contextlib.contextmanager
def quiet_third_party():
    """Silence datasets' map bars, transformers' loading bars and library INFO logs while an evaluation runs;
    restore after. Through each library's public switches; bm25s' bars (mteb runs it with its bars on) are
    hidden around the BM25 row by ``rankladder.core.logs.unswitchable_bars_hidden``.

    With ``-v`` (or, from Python, a root logger at INFO or below) nothing is silenced: the user asked to see it."""
    if showing_library_output():
        yield
        return
    from datasets.utils import logging as ds_logging
    from datasets.utils.tqdm import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from transformers.utils import logging as tf_logging

    bars_were_on = not are_progress_bars_disabled()
    disable_progress_bars()
    ds_level = ds_logging.get_verbosity()
    ds_logging.set_verbosity_error()
    tf_bars_were_on = tf_logging.is_progress_bar_enabled()
    tf_logging.disable_progress_bar()  # "Loading weights" while a model loads
    bm25s_logger = logging.getLogger("bm25s")  # bm25s sets its logger to DEBUG when it is imported
    bm25s_level = bm25s_logger.level
    bm25s_logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            # mteb's FutureWarnings (sentence-transformers renames it still calls) are not the user's business
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"mteb(\.|$)")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"mteb(\.|$)")
            # the embedding cache's notes on a new cache folder ("No existing files found") and empty documents
            warnings.filterwarnings("ignore", category=UserWarning, module=r"mteb\.models\.cache_wrappers")
            yield
    finally:
        if tf_bars_were_on:
            tf_logging.enable_progress_bar()
        bm25s_logger.setLevel(bm25s_level)
        ds_logging.set_verbosity(ds_level)
        if bars_were_on:
            enable_progress_bars()
