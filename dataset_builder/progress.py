"""The live display of ``generate`` and ``judge``: one bar (stderr) that moves per finished request.

It counts documents (done / total, docs/s and the ETA from tqdm) and shows tokens/s and the requests in
flight. Backends that stream (vLLM, OpenAI-compatible servers) hand back each result as it finishes;
the transformers backend decodes a whole window in one ``generate`` call and returns it at once, so
it reports finished sequences through ``Backend.progress_hook`` during the call: the bar credits
such a request's documents at once and corrects the count when its result has been validated
(a rejected document that is retried is taken back off).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

REFRESH_SECONDS = 0.5


class LiveProgress:
    def __init__(
        self,
        total: int,
        desc: str,
        docs_of: Callable[[str], int],
        in_flight: Callable[[], int] = lambda: 0,
        disable: bool = False,
    ):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="doc", disable=disable, file=sys.stderr, dynamic_ncols=True)
        self.docs_of = docs_of  # request key → documents it completes if all its levels are accepted
        self.started = self.last_refresh = time.monotonic()
        self.tokens = 0
        self.in_flight = in_flight  # requests sent and not yet answered
        self.credited: dict[str, int] = {}
        self.hooked = False  # tokens come from the backend's per-step reports, not from results

    def attach(self, backend) -> None:
        backend.progress_hook = self.step

    def step(self, finished_keys: list[str], new_tokens: int) -> None:
        """Called by the backend after each decoding step of a batched ``generate``."""
        self.hooked = True
        self.tokens += new_tokens
        for key in finished_keys:
            if key not in self.credited:
                self.credited[key] = self.docs_of(key)
                self.bar.update(self.credited[key])
        if time.monotonic() - self.last_refresh >= REFRESH_SECONDS:
            self._postfix(refresh=True)

    def result(self, key: str, finished_docs: int, completion_tokens: int = 0) -> None:
        """A validated result: ``finished_docs`` of its documents are done (accepted or finally rejected)."""
        if not self.hooked:
            self.tokens += completion_tokens
        self.bar.update(finished_docs - self.credited.pop(key, 0))
        self._postfix(refresh=False)

    def _postfix(self, refresh: bool) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        self.bar.set_postfix_str(f"{self.tokens / elapsed:.0f} tok/s, {self.in_flight()} in flight", refresh=refresh)
        self.last_refresh = time.monotonic()

    def close(self, backend=None) -> None:
        if backend is not None:
            backend.progress_hook = None
        self.bar.close()
