"""Issue 20: the project uses other packages through their public APIs only. A private name (``_x``) of
argparse, transformers, datasets, ... breaks silently on the next release of that package; this test finds
one in the code (comments and strings are not code: a docstring may say what it avoids)."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_FOLDERS = ("rankladder", "dataset_builder", "training", "eval", "model_cards", "benchmarks", "tools")
PACKAGES = (
    "argparse|logging|transformers|datasets|huggingface_hub|tqdm|mteb|sentence_transformers|bm25s|torch|"
    "accelerate|vllm|openai|pydantic|yaml|pytrec_eval|importlib|sys"
)
# `transformers.utils.logging._default_handler`, `from mteb.types._metadata import X`
DOTTED = re.compile(rf"\b(?:{PACKAGES})(?:\.\w+)*\._[a-z]\w*")
FROM_PRIVATE = re.compile(rf"\bfrom\s+(?:{PACKAGES})(?:\.\w+)*\s+import\s+[^#\n]*\b_[a-z]\w*")
IMPORT_AS = re.compile(rf"\b(?:from\s+(?:{PACKAGES})[\w.]*\s+)?import\s+[\w.]+\s+as\s+(\w+)")
FROM_IMPORT = re.compile(rf"\bfrom\s+(?:{PACKAGES})[\w.]*\s+import[ \t]+(?:\(([\w\s,]+)\)|([\w \t,]+))")


def code_only(text: str) -> str:
    """The source with comments and string literals blanked (tokenize knows where they are)."""
    lines = text.splitlines(keepends=True)
    out = [list(line) for line in lines]
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in (tokenize.COMMENT, tokenize.STRING):
            continue
        (row, col), (end_row, end_col) = token.start, token.end
        for r in range(row, end_row + 1):
            start = col if r == row else 0
            stop = end_col if r == end_row else len(out[r - 1])
            for c in range(start, stop):
                if out[r - 1][c] != "\n":
                    out[r - 1][c] = " "
    return "".join("".join(chars) for chars in out)


# any object's private attribute but our own (self/cls): `parser._actions`, `module._default_handler`
ANY_PRIVATE_ATTRIBUTE = re.compile(r"(?<![\w.])(?!self\b|cls\b)[A-Za-z]\w*(?:\.\w+)*\._[A-Za-z]\w*")
GETATTR_PRIVATE = re.compile(r"\b(?:getattr|setattr|hasattr)\(\s*[\w.]+\s*,\s*[\"']_[A-Za-z]\w*")
# the project's own objects, reached from outside their class on purpose (a benchmark times the backend's step)
OWN_PRIVATE_USES = {"engine._params"}


def private_uses(text: str) -> list[str]:
    code = code_only(text)
    found = [m.group(0) for m in DOTTED.finditer(code)] + [m.group(0) for m in FROM_PRIVATE.finditer(code)]
    found += [m.group(0) for m in ANY_PRIVATE_ATTRIBUTE.finditer(code) if m.group(0) not in OWN_PRIVATE_USES]
    found += [m.group(0) for m in GETATTR_PRIVATE.finditer(text)]
    # names bound to another package's module or class: `from transformers.utils import logging as tf_logging`
    names = {m.group(1) for m in IMPORT_AS.finditer(code)}
    for m in FROM_IMPORT.finditer(code):
        names |= {n.split()[-1] for n in (m.group(1) or m.group(2)).split(",") if n.strip()}
    names -= {"annotations"}
    for name in names:
        found += [m.group(0) for m in re.finditer(rf"(?<![\w.]){re.escape(name)}\._[a-z]\w*", code)]
    return sorted(set(found))


def test_no_private_name_of_another_package_in_the_code():
    offenders = []
    for folder in SOURCE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for use in private_uses(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(ROOT)}: {use}")
    assert not offenders, "private names of other packages:\n" + "\n".join(offenders)


def test_the_check_finds_what_it_is_for():
    planted = (
        "import argparse\n"
        "from transformers.utils import logging as tf_logging\n"
        "from mteb.types._metadata import Licenses\n"
        "parser._option_string_actions = {}\n"
        "tf_logging._configure_library_root_logger()\n"
        "x = argparse._SubParsersAction\n"
        "handler = getattr(module, '_default_handler', None)\n"
        "y = '''argparse._ignored_in_a_string'''  # and argparse._in_a_comment\n"
    )
    found = private_uses(planted)
    assert "tf_logging._configure_library_root_logger" in found
    assert any("mteb.types._metadata" in use for use in found)
    assert {"parser._option_string_actions", "argparse._SubParsersAction"} <= set(found)
    assert any("_default_handler" in use for use in found)
    assert not any("ignored" in use or "comment" in use for use in found)
