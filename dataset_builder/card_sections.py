"""The facts of a dataset card, each rendered from the manifest, stats.json or the parquet files.

``rankladder build`` is the one writer of a dataset card's facts (``card.write_basic_card``); ``publish``
only adds the release (repo, tag, licence) and swaps the local loading snippet for the Hub one. Every
function here states what its numbers are and prints nothing the manifest does not hold: a field that
was not recorded is left out, never written as ``None`` or "unknown".

``generators`` and ``queries_sources`` are also what ``build`` records in the manifest: one entry per
distinct generator / queries file over all runs and shards (a multi-run dataset is a first-class case).
"""

from __future__ import annotations

import json
from pathlib import Path

from rankladder.dataset_builder import schema


def _portable_source(source: str | None) -> str | None:
    """A queries source as it may leave the machine: a file's name, a Hub id or ``bundled:...`` as is."""
    if not source:
        return None
    text = str(source)
    if text.startswith("bundled:") or (text.count("/") == 1 and not Path(text).exists() and not text.startswith(".")):
        return text
    return Path(text).name


def queries_sources(run_manifests: list[dict]) -> list[dict]:
    """Distinct queries sources of the runs (a run's shards once), each with how many run manifests used it."""
    out: dict[str, dict] = {}
    for manifest in run_manifests:
        desc = dict(manifest.get("queries") or {})
        if not desc:
            continue
        # the shards of one run share a description (but for ``in_shard``); separate runs may differ
        key = json.dumps({k: v for k, v in desc.items() if k != "in_shard"}, sort_keys=True, default=str)
        entry = out.setdefault(
            key,
            {k: v for k, v in desc.items() if k not in ("in_shard", "source")}
            | {"source": _portable_source(desc.get("source")), "runs": 0},
        )
        entry["runs"] += 1
    return list(out.values())


def generators(run_manifests: list[dict]) -> list[dict]:
    """Distinct (backend, model, sampling) of the runs, each with how many run manifests used it."""
    out: list[dict] = []
    for manifest in run_manifests:
        config = manifest.get("config") or {}
        model = manifest.get("model")
        model = model if isinstance(model, dict) else {"id": model}
        entry = {"backend": config.get("backend"), "model": model, "sampling": config.get("sampling") or {}}
        match = next((g for g in out if {k: g[k] for k in entry} == entry), None)
        if match is None:
            out.append(match := entry | {"runs": 0})
        match["runs"] += 1
    return out


def manifest_generators(manifest: dict) -> list[dict]:
    """``generators`` of a dataset manifest; older manifests held one ``generation`` whose fields were a
    value for one run and a list of values for several."""
    if manifest.get("generators"):
        return manifest["generators"]
    gen = manifest.get("generation") or {}
    models = gen.get("model") if isinstance(gen.get("model"), list) else [gen.get("model")]
    backends = gen.get("backend") if isinstance(gen.get("backend"), list) else [gen.get("backend")]
    sampling = gen.get("sampling") if isinstance(gen.get("sampling"), list) else [gen.get("sampling")]
    out = []
    for i, model in enumerate(m for m in models if m):
        model = model if isinstance(model, dict) else {"id": model}
        backend = backends[i] if i < len(backends) else backends[-1]
        out.append({"backend": backend, "model": model, "sampling": sampling[min(i, len(sampling) - 1)] or {}})
    return out


def model_text(model: dict) -> str:
    """``id`` (revision ..., file sha256 ...): only the fields that were recorded."""
    text = f"`{model.get('id') or 'not recorded'}`"
    extra = [f"revision `{model['revision']}`"] if model.get("revision") else []
    if model.get("file_sha256"):
        extra.append(f"file sha256 `{model['file_sha256'][:16]}…`")
    return text + (f" ({', '.join(extra)})" if extra else "")


def generator_names(manifest: dict) -> str:
    """The generator models in one phrase, for the card's first line."""
    names = [f"`{g['model'].get('id')}`" for g in manifest_generators(manifest) if g["model"].get("id")]
    return " and ".join(dict.fromkeys(names)) or "an LLM (not recorded)"


def generators_section(manifest: dict) -> str:
    lines = ["## Generators", ""]
    for gen in manifest_generators(manifest):
        sampling = ", ".join(f"`{k}={v}`" for k, v in (gen.get("sampling") or {}).items())
        runs = f"; {gen['runs']} run manifest(s)" if gen.get("runs") else ""
        lines.append(
            f"- {model_text(gen['model'])} via `{gen.get('backend')}`{runs}" + (f"; {sampling}" if sampling else "")
        )
    prompts = (manifest.get("generation") or {}).get("prompts") or {}
    for name, prompt in prompts.items():
        if isinstance(prompt, dict):
            lines += ["", f"Prompt `{name}` (mode `{prompt.get('mode')}`, sha256 `{prompt.get('hash')}`):", ""]
            lines += ["```text", str(prompt.get("template", "")).strip(), "```"]
    return "\n".join(lines) + "\n\n"


def queries_text(source: dict) -> str:
    """One line: which file, its sha256, how many queries were available / sampled / dropped."""
    name = source.get("source") or "not recorded"
    parts = [f"`{name}`"]
    if source.get("format"):
        parts.append(f"format {source['format']}")
    if source.get("sha256"):
        parts.append(f"sha256 `{source['sha256'][:16]}…`")
    if source.get("config") or source.get("split"):
        parts.append(f"config {source.get('config')}, split {source.get('split')}")
    if source.get("qrels_split"):
        parts.append(f"queries judged in qrels split {source['qrels_split']}")
    text = ", ".join(parts)
    facts = []
    if "count" in source and "available" in source:
        sampled = f" (sampled with seed {source.get('seed')})" if source.get("limit") else ""
        facts.append(f"{source['count']} of {source['available']} queries used{sampled}")
    elif "count" in source:
        facts.append(f"{source['count']} queries used")
    if source.get("duplicates_dropped") is not None:
        facts.append(f"{source['duplicates_dropped']} duplicate ids with identical text dropped")
    if source.get("runs"):  # shards of one run, or runs with the very same query selection
        facts.append(f"the same in each of {source['runs']} run manifests" if source["runs"] > 1 else "1 run manifest")
    return text + (f": {'; '.join(facts)}" if facts else "")


def manifest_queries_sources(manifest: dict) -> list[dict]:
    if manifest.get("queries_sources"):
        return manifest["queries_sources"]
    src = manifest.get("queries_source")
    if isinstance(src, dict) and src:
        return [src | {"source": _portable_source(src.get("source") or src.get("path") or src.get("name"))}]
    return []


def queries_section(manifest: dict) -> str:
    sources = manifest_queries_sources(manifest)
    if not sources:
        return "## Queries\n\nThe runs did not record where their queries came from.\n\n"
    return "## Queries\n\n" + "\n".join(f"- {queries_text(s)}" for s in sources) + "\n\n"


def _max_disagreement(build: dict) -> int:
    """The K of ``--max-disagreement`` the build kept documents by (0 is a value, not a missing one)."""
    value = build.get("max_disagreement")
    return 1 if value is None else int(value)


def labels_text(manifest: dict, figures: dict) -> str:
    """What the grades in ``levels``/``score`` are, from the build's label policy (never "known by
    construction": they are the level the generator was asked for, or a judge's grade)."""
    build = manifest.get("build") or {}
    policy = build.get("labels") or "intended"
    judge = manifest.get("judge") or {}
    judge_id = (judge.get("model") or {}).get("id") if isinstance(judge.get("model"), dict) else judge.get("model")
    if policy == "judged":
        return (
            f"The grades (`lists.levels`, qrels `score`) are the LLM judge's (`{judge_id}`); documents it did "
            "not grade are left out. `intended_levels` keeps the level the generator was asked for."
        )
    if policy == "agree":
        return (
            f"The grades are the level the generator was asked for, kept only where the judge's (`{judge_id}`) "
            f"grade is within {_max_disagreement(build)} of it (|intended − judged| ≤ {_max_disagreement(build)})."
        )
    text = (
        "The grades (`lists.levels`, qrels `score`) are the level the generator was *asked* to write "
        "(intended), not a human's or a judge's grade"
    )
    if figures.get("labels"):
        return text + "; how far a judge agrees with them is shown below."
    return text + "; no judge checked them."


def configs_section(folder: Path, files: dict) -> str:
    """One row per parquet file (``files``: the manifest's ``config/split`` -> shards): config, split, rows and
    the columns actually in the file (read from it)."""
    import pyarrow.parquet as pq

    lines = ["## Configs", "", "| config | split | rows | file | columns |", "|---|---|---:|---|---|"]
    for config, (_, splits) in schema.CONFIG_LAYOUT.items():
        for split in splits:
            for shard in (files.get(f"{config}/{split}") or {}).get("shards", []):
                meta = pq.read_metadata(Path(folder) / shard["path"])
                columns = ", ".join(f"`{name}`" for name in meta.schema.to_arrow_schema().names)
                lines.append(f"| `{config}` | {split} | {meta.num_rows} | `{shard['path']}` | {columns} |")
    return "\n".join(lines) + "\n\n"


def size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M" if n < 10_000_000 else "n>1M"
