"""The closing summaries of ``generate``, ``build``, ``judge`` and ``mine`` (``rankladder.core.console``).

Everything machine-readable stays in the manifests these commands write; the terminal gets what a person
needs: what was written, how big, the key numbers, and the next command.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from pathlib import Path

from rankladder.core.console import counts, print_summary, written
from rankladder.dataset_builder import schema


def _q(path) -> str:
    return shlex.quote(str(path))


def _rate(n: float, seconds: float, unit: str) -> str:
    return f"{n / seconds:.2f} {unit}/s" if seconds > 0 and n else ""


def generate(out, manifest: dict) -> int:
    """The closing summary; returns the exit code: 1 when every key of the shard was given up (no
    document to judge or build from), else 0."""
    c, run = manifest["counts"], manifest["counts"]["this_run"]
    seconds = manifest.get("last_run", {}).get("seconds") or 0.0
    shard = manifest["shard"]
    levels = len(manifest["config"].get("levels", ()))
    what = f"{c['records_all_runs']} of {c['expected_records']} documents"
    what += f" · {manifest['queries'].get('in_shard', '?')} queries · {levels} levels"
    if shard["count"] > 1:
        what += f" (shard {shard['index']}/{shard['count']})"
    accepted = run.get("accepted", 0)
    speed = ", ".join(
        x for x in (_rate(accepted, seconds, "docs"), _rate(run.get("completion_tokens", 0), seconds, "tokens")) if x
    )
    this_run = f"{accepted} documents" + (f" ({speed})" if speed else "") if accepted else "nothing left to generate"
    if not accepted and run.get("rejected"):
        this_run = f"no document passed validation ({run['rejected']} given up)"
    given_up = c["rejected_keys"]
    by_reason = c.get("rejected_keys_by_reason") or {}
    rows = [
        ("wrote", written(out, what)),
        ("this run", this_run),
        ("retried", counts(c["failed_attempts_by_reason"], empty="")),
        (
            "gave up",
            f"{given_up} of {c['expected_records']} documents after every attempt failed"
            + (" (last reasons: " + ", ".join(f"{r} {n}" for r, n in by_reason.items()) + ")" if by_reason else "")
            if given_up
            else "",
        ),
    ]
    name = Path(out).resolve().name
    steps = []
    if c["records_all_runs"] + given_up < c["expected_records"]:
        steps.append("re-run the same command to finish (finished documents are kept)")
    if given_up:
        steps.append(f"re-run the same command with --retry-rejected to try the {given_up} given-up documents again")
    if not c["records_all_runs"]:  # nothing to judge or build: say so, and fail when nothing is left to try
        print_summary("generate", rows, next_steps=steps, status="gave up" if given_up else "done")
        return 1 if given_up else 0
    steps += [
        f"rankladder judge {_q(out)}   # optional: grade the documents with an LLM judge",
        f"rankladder build {_q(out)} --out datasets/{name} --version 0.1.0",
    ]
    print_summary("generate", rows, next_steps=steps)
    return 0


def _config_rows(out: Path, manifest: dict) -> str:
    """``corpus 64 · queries 16 · default train 48 / dev 16 · lists ...``: rows per config and split (as read back)."""
    per_config: dict[str, list[str]] = {}
    for key, entry in manifest.get("files", {}).items():  # key: CONFIG/SPLIT
        config, _, split = key.partition("/")
        rows = entry["rows"]
        per_config.setdefault(config, []).append(str(rows) if split == config else f"{split} {rows}")
    return " · ".join(f"{config} {' / '.join(parts)}" for config, parts in per_config.items())


def build(out, manifest: dict, run_dirs) -> None:
    from rankladder.dataset_builder.merge import summary_line

    out = Path(out)
    c = manifest["counts"]
    names = {str(level["value"]): level.get("name", "") for level in manifest.get("levels", [])}
    per_level = " · ".join(
        f"{value} {names.get(value, '')}: {n}".replace("  ", " ") for value, n in c["per_level"].items()
    )
    labels = manifest["build"]["labels"]
    rows = [
        ("wrote", written(out, f"{c['documents']} documents · {c['queries']} queries · {len(c['per_level'])} levels")),
        ("version", f"{manifest['version']} (content hash {manifest['content_hash'][:12]})"),
        ("configs", _config_rows(out, manifest)),
        ("levels", per_level),
        ("split", f"{c['train_queries']} train / {c['dev_queries']} dev queries"),
        ("retried", counts(c["failed_attempts_by_reason"], empty="")),
        ("gave up", f"{c['rejected_keys']} documents after every attempt failed" if c["rejected_keys"] else ""),
        ("merged", f"{c['duplicate_keys_merged']} duplicate keys" if c["duplicate_keys_merged"] else ""),
        ("runs", summary_line(manifest.get("merge") or {})),
        ("labels", labels),
    ]
    stats = json.loads((out / schema.STATS_FILE).read_text(encoding="utf-8"))
    agreement = stats.get("labels")
    if agreement:
        kept = agreement["documents_kept_by_policy"]
        rows.append(
            (
                "judge",
                f"weighted κ {agreement['kappa_quadratic']}, exact agreement {agreement['exact_agreement']}; "
                f"kept {', '.join(f'{k} {v}' for k, v in kept.items())}",
            )
        )
    name = manifest.get("name") or out.name
    steps = [
        f"rankladder train --data {_q(out)} --out models/{name}",
        f"rankladder publish dataset {_q(out)} --repo ORG/{name} --version {manifest['version']} --dry-run",
    ]
    print_summary("build", rows, next_steps=steps)


def judge(results: list[tuple[str, dict]]) -> int:
    """``results``: (RUN_DIR, judge manifest) per judged run. Returns the exit code: 1 when no document of
    any run got a grade (every reply unparsed: nothing a judged label could come from), else 0."""
    from rankladder.dataset_builder.agreement import confusion_of_counts, weighted_kappa
    from rankladder.dataset_builder.judge import run_levels
    from rankladder.dataset_builder.label_guard import recommend_policy
    from rankladder.dataset_builder.runfiles import iter_kind

    # (intended, judged) -> documents: counts, not a list
    rows, all_pairs, all_scale, graded = [], Counter(), set(), 0
    for run_dir, manifest in results:
        c = manifest["counts"]
        grades, pairs = Counter(), Counter()
        for row in iter_kind(Path(run_dir), schema.JUDGEMENTS):  # each row carries the intended level too
            grades["no grade" if row.get("grade") is None else str(row["grade"])] += 1
            if row.get("grade") is not None and row.get("level") is not None:
                pairs[row["level"], row["grade"]] += 1
        levels = [level["value"] for level in run_levels(Path(run_dir))]
        scale = sorted(set(levels) | {g for pair in pairs for g in pair}, reverse=True)
        model = (manifest.get("model") or {}).get("id") or "?"
        prefix = f"{run_dir}: " if len(results) > 1 else ""
        rows += [
            ("judged", f"{prefix}{c['judged_all_runs']} of {c['records_in_shard']} documents by {model}"),
            ("method", prefix + counts(c["by_method"])),
            (
                "grades",
                prefix
                + " · ".join(
                    f"{g}: {grades[g]}"
                    for g in sorted(grades, key=lambda g: (not g.isdigit(), -int(g) if g.isdigit() else 0))
                ),
            ),
        ]
        all_pairs.update(pairs)
        all_scale |= set(scale)
        graded += sum(n for g, n in grades.items() if g != "no grade")
        if pairs:
            exact = sum(n for (a, b), n in pairs.items() if a == b) / sum(pairs.values())
            kappa = weighted_kappa(confusion_of_counts(pairs, scale), scale, 2)
            rows.append(("agreement", f"{prefix}exact {exact:.2f}, weighted κ {kappa} (judge vs intended level)"))
    dirs = " ".join(_q(run_dir) for run_dir, _ in results)
    name = Path(results[0][0]).resolve().name
    scale = sorted(all_scale, reverse=True)
    kappa = weighted_kappa(confusion_of_counts(all_pairs, scale), scale, 2) if all_pairs else None
    policy, why = recommend_policy(all_pairs, kappa)  # never a policy the agreement figures argue against
    steps = [f"rankladder build {dirs} --out datasets/{name} --version 0.1.0 --labels {policy}   # {why}"]
    if not graded:  # "judged N of N" and exit 0 read as success: no reply named a grade
        steps.insert(0, "no reply named a grade (see 'reply' in RUN_DIR/judgements/*.jsonl): try another judge model")
        print_summary("judge", rows, next_steps=steps, status="graded nothing")
        return 1
    print_summary("judge", rows, next_steps=steps)
    return 0


def mine(out, manifest: dict, k: int) -> None:
    c = manifest["counts"]
    method = manifest["parameters"]["method"] + (f" with {manifest['model']}" if manifest.get("model") else "")
    rows = [
        ("wrote", written(out, f"{c['negatives']} negatives for {c['queries']} queries ({method})")),
        ("short", f"{c['queries_short']} queries got fewer than {k} negatives" if c["queries_short"] else ""),
        (
            "skipped",
            f"{c['queries_without_positive']} queries without a judged positive"
            if c.get("queries_without_positive")
            else "",
        ),
        ("speed", f"{manifest['queries_per_second']} queries/s" if manifest.get("queries_per_second") else ""),
    ]
    sources = _q(json.dumps([{"path": str(out)}]))
    steps = [
        f"rankladder train --sources {sources} --out models/{Path(out).resolve().name}"
        "   # mix with other sources: configs/train_synth_real.yaml"
    ]
    print_summary("mine", rows, next_steps=steps)
