"""What a newcomer's terminal must look like after a command (issue 15): no third-party noise at default
verbosity, and one closing summary block (``rankladder.core.console.print_summary``).

Used by the tests that already run a command end to end, so checking the terminal costs no extra run.
"""

from __future__ import annotations

import re

# Lines a user should never see at default verbosity: library warnings and logs, and progress bars that
# are not the user's business (datasets' "Generating split", mteb's corpus-chunk bar, bm25s' bars).
NOISE_PATTERNS = (
    re.compile(r"\b\w*Warning\b"),  # FutureWarning, UserWarning, DeprecationWarning, ...
    re.compile(r"\b(DEBUG|INFO)\b"),
    re.compile(r"Generating \w+ split"),
    re.compile(r"pin_memory"),
    re.compile(r"Searching corpus chunks"),
    re.compile(r"Split strings|BM25S "),  # bm25s' own bars (mteb's BM25 row, mining)
    re.compile(r"Computing widget examples"),  # sentence-transformers' model-card bar, while train starts
    re.compile(r"de-quantizing GGUF"),  # transformers' GGUF loader
    re.compile(r"^Traceback", re.M),
)
SUMMARY_HEADER = re.compile(r"^── rankladder (?P<command>[\w -]+): (?P<status>\w[\w ]*) in (?P<elapsed>.+) ──$", re.M)


def noise_lines(text: str) -> list[str]:
    """Lines of ``text`` (stdout + stderr of a command) that match a noise pattern."""
    return [line for line in text.splitlines() if any(p.search(line) for p in NOISE_PATTERNS)]


def assert_quiet(text: str) -> None:
    noisy = noise_lines(text)
    assert not noisy, "third-party noise at default verbosity:\n" + "\n".join(noisy[:20])


def summary_block(stdout: str, command: str) -> dict[str, str]:
    """The rows of the command's closing summary (label → value); fails when there is none."""
    matches = [m for m in SUMMARY_HEADER.finditer(stdout) if m.group("command") == command]
    assert matches, f"no closing summary for {command!r} in:\n{stdout[-2000:]}"
    rows: dict[str, str] = {}
    label = ""
    for line in stdout[matches[-1].end() :].splitlines()[1:]:
        if not line.startswith("  "):
            break
        key, _, value = line.strip().partition("  ")
        if line[2] != " " and key:
            label = key
            rows[label] = (rows[label] + "\n" if label in rows else "") + value.strip()
        elif label:
            rows[label] += "\n" + line.strip()
    return rows
