"""The license identifiers the Hugging Face Hub accepts in a card's ``license:`` field.

huggingface_hub ships no such constant, so the list is embedded. Source: the table between the
``region licenses`` markers of https://huggingface.co/docs/hub/repositories-licenses
(github.com/huggingface/hub-docs, docs/hub/repositories-licenses.md at commit 242f4a1, 2026-08-22).
``other`` needs a ``license_name`` (and a LICENSE file) in the card.
"""

from __future__ import annotations

import difflib

from rankladder.core.errors import UserError

HUB_LICENSES = frozenset(
    {
        "apache-2.0",
        "mit",
        "openrail",
        "bigscience-openrail-m",
        "creativeml-openrail-m",
        "bigscience-bloom-rail-1.0",
        "bigcode-openrail-m",
        "afl-3.0",
        "artistic-2.0",
        "bsl-1.0",
        "bsd",
        "bsd-2-clause",
        "bsd-3-clause",
        "bsd-3-clause-clear",
        "c-uda",
        "cc",
        "cc0-1.0",
        "cc-by-2.0",
        "cc-by-2.5",
        "cc-by-3.0",
        "cc-by-4.0",
        "cc-by-sa-3.0",
        "cc-by-sa-4.0",
        "cc-by-nc-2.0",
        "cc-by-nc-3.0",
        "cc-by-nc-4.0",
        "cc-by-nd-4.0",
        "cc-by-nc-nd-3.0",
        "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0",
        "cc-by-nc-sa-3.0",
        "cc-by-nc-sa-4.0",
        "cdla-sharing-1.0",
        "cdla-permissive-1.0",
        "cdla-permissive-2.0",
        "wtfpl",
        "ecl-2.0",
        "epl-1.0",
        "epl-2.0",
        "etalab-2.0",
        "eupl-1.1",
        "eupl-1.2",
        "agpl-3.0",
        "gfdl",
        "gpl",
        "gpl-2.0",
        "gpl-3.0",
        "lgpl",
        "lgpl-2.1",
        "lgpl-3.0",
        "isc",
        "h-research",
        "intel-research",
        "lppl-1.3c",
        "ms-pl",
        "apple-ascl",
        "apple-amlr",
        "mpl-2.0",
        "odc-by",
        "odbl",
        "openmdw-1.0",
        "openmdw-1.1",
        "openrail++",
        "osl-3.0",
        "postgresql",
        "ofl-1.1",
        "ncsa",
        "unlicense",
        "zlib",
        "pddl",
        "lgpl-lr",
        "deepfloyd-if-license",
        "fair-noncommercial-research-license",
        "llama2",
        "llama3",
        "llama3.1",
        "llama3.2",
        "llama3.3",
        "llama4",
        "grok2-community",
        "gemma",
        "unknown",
        "other",
    }
)


def license_problem(license: str) -> str | None:
    """What is wrong with a license id (with the closest Hub ids as a hint), or None when the Hub accepts it."""
    if isinstance(license, str) and license in HUB_LICENSES:
        return None
    close = difflib.get_close_matches(str(license).lower(), sorted(HUB_LICENSES), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return (
        "not a Hugging Face Hub license identifier (e.g. apache-2.0, mit, "
        f"cc-by-4.0; list: https://huggingface.co/docs/hub/repositories-licenses){hint}"
    )


def check_license(license, where: str = "--license"):
    """``license`` unchanged when the Hub accepts it (None passes: "not given"; a card may list several);
    else a one-line UserError."""
    if isinstance(license, list):
        return [check_license(each, where) for each in license]
    problem = None if license is None else license_problem(license)
    if problem:
        raise UserError(f"{where} {license!r}: {problem}")
    return license
