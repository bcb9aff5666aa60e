"""Options renamed since an earlier release: the one table, read wherever an option can be given.

On the command line an option has one spelling, so an old one is refused, with one line naming the
option's current spelling (``--batch-size is now --window``) instead of argparse's bare "unrecognized
arguments". Where the old key was still read (the release YAML, the Python API), it is read through
this same table (``rankladder.release.RENAMED``, the config field's alias).
"""

from __future__ import annotations

# command (as in ``rankladder COMMAND``) -> {old flag: current flag}
RENAMED_FLAGS: dict[str, dict[str, str]] = {
    "generate": {"--batch-size": "--window"},  # requests in flight: a window refilled as each one finishes
    "mine": {"--margin": "--absolute-margin"},  # beside --relative-margin
}


def field_name(flag: str) -> str:
    """The config field (API keyword, YAML key) of a ``--flag-name``."""
    return flag.removeprefix("--").replace("-", "_")


def old_field_names(command: str, field: str) -> tuple[str, ...]:
    """The former names of ``command``'s config field ``field`` (``("batch_size",)`` for generate's window)."""
    return tuple(field_name(old) for old, new in RENAMED_FLAGS.get(command, {}).items() if field_name(new) == field)


def renamed_hints(command: str, extra: list[str], known: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """``"--old is now --new"`` for each old spelling of ``command``'s options among the unparsed ``extra``: a
    renamed option (``RENAMED_FLAGS``), or the other of ``-``/``_`` in a flag of ``known`` (the command's flags;
    until each option got one spelling, ``--dev_fraction`` and ``--dev-fraction`` were both read)."""
    renamed = RENAMED_FLAGS.get(command, {})
    hints = []
    for arg in extra:
        old = arg.split("=", 1)[0]
        new = renamed.get(old)
        if new is None and old.startswith("--"):
            other = [f"--{old[2:].replace(a, b)}" for a, b in (("_", "-"), ("-", "_"))]
            new = next((flag for flag in other if flag != old and flag in known), None)
        if new is not None and f"{old} is now {new}" not in hints:
            hints.append(f"{old} is now {new}")
    return hints
