"""The live display of ``generate`` and ``judge``: one bar (stderr) that counts only durable work.

It counts documents (done / total, docs/s and the ETA from tqdm) and shows tokens/s and the requests in
flight. A document is counted when its result has been validated and its line handed to the OS
(accepted, or finally rejected): what the bar shows at a Ctrl-C is on disk. Backends that decode a
whole batch in one call (transformers) report tokens through ``Backend.progress_hook`` after each
decoding step, so tokens/s moves while no result has come back yet; the document count never moves
from the hook.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

REFRESH_SECONDS = 0.5


class LiveProgress:
    def __init__(self, total: int, desc: str, in_flight: Callable[[], int] = lambda: 0, disable: bool = False):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="doc", disable=disable, file=sys.stderr, dynamic_ncols=True)
        self.started = self.last_refresh = time.monotonic()
        self.tokens = 0
        self.in_flight = in_flight  # requests sent and not yet answered
        self.hooked = False  # tokens come from the backend's per-step reports, not from results

    def attach(self, backend) -> None:
        backend.progress_hook = self.step

    def step(self, finished_keys: list[str], new_tokens: int) -> None:
        """Called by the backend after each decoding step of a batched ``generate`` (tokens only)."""
        self.hooked = True
        self.tokens += new_tokens
        if time.monotonic() - self.last_refresh >= REFRESH_SECONDS:
            self._postfix(refresh=True)

    def result(self, finished_docs: int, completion_tokens: int = 0) -> None:
        """``finished_docs`` documents are written (accepted, or rejected after their last attempt)."""
        if not self.hooked:
            self.tokens += completion_tokens
        self._postfix(refresh=False)  # first, so the line ``update`` prints shows the requests in flight now
        self.bar.update(finished_docs)

    def _postfix(self, refresh: bool) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        self.bar.set_postfix_str(f"{self.tokens / elapsed:.0f} tok/s, {self.in_flight()} in flight", refresh=refresh)
        self.last_refresh = time.monotonic()

    def close(self, backend=None) -> None:
        if backend is not None:
            backend.progress_hook = None
        self.bar.close()
