"""The basic dataset card written by ``build`` (``model_cards`` renders the full one for publishing).

Its YAML declares the configs so ``load_dataset(DATASET_DIR, "lists")`` and mteb's loader work on
the local folder exactly as on the Hub.
"""

from __future__ import annotations

from pathlib import Path

from rankladder.dataset_builder import schema


def _one_or_list(paths: list[str]) -> str | list[str]:
    return paths[0] if len(paths) == 1 else paths  # one file: a plain path, as the Hub's own cards write it


def configs_yaml(files: dict) -> list[dict]:
    """The ``configs:`` block of the card, rendered from the manifest's ``files`` (``config/split`` ->
    its shards): every shard listed by its content-addressed name, so the card itself changes with the
    data and ``datasets`` never serves a stale cache entry for this folder (``schema.shard_file``)."""
    entries = []
    for config, (_, splits) in schema.CONFIG_LAYOUT.items():
        data_files = [
            {"split": split, "path": _one_or_list([shard["path"] for shard in files[f"{config}/{split}"]["shards"]])}
            for split in splits
            if f"{config}/{split}" in files
        ]
        if data_files:
            entries.append({"config_name": config, "data_files": data_files})
    return entries


def generation_summary(run_manifests: list[dict]) -> dict:
    """Backend, model, sampling and prompt templates of the runs (distinct values only)."""
    models, prompts, sampling, backends = [], {}, [], []
    for manifest in run_manifests:
        if manifest.get("model") and manifest["model"] not in models:
            models.append(manifest["model"])
        template = manifest.get("prompt_template")
        if template:
            text = (
                f"[system]\n{template['system']}\n\n" if template.get("system") else ""
            ) + f"[user]\n{template['user']}"
            prompts[template["name"]] = {**template, "template": text}
        if manifest["config"]["sampling"] not in sampling:
            sampling.append(manifest["config"]["sampling"])
        if manifest["config"]["backend"] not in backends:
            backends.append(manifest["config"]["backend"])
    return {
        "backend": backends[0] if len(backends) == 1 else backends,
        "model": models[0] if len(models) == 1 else models,
        "sampling": sampling[0] if len(sampling) == 1 else sampling,
        "samples_per_level": run_manifests[0]["config"].get("samples_per_level", 1),
        "prompts": prompts,
    }


def judge_summary(judge_manifests: list[dict]) -> dict | None:
    """Model, prompt and sampling of the judge runs (distinct values only); None when nothing was judged."""
    if not judge_manifests:
        return None
    models, prompts, sampling = [], {}, []
    for manifest in judge_manifests:
        if manifest.get("model") and manifest["model"] not in models:
            models.append(manifest["model"])
        template = manifest.get("prompt_template") or {}
        if template.get("name"):
            prompts[template["name"]] = template
        if manifest["config"]["sampling"] not in sampling:
            sampling.append(manifest["config"]["sampling"])
    return {
        "backend": manifest["config"]["backend"],
        "model": models[0] if len(models) == 1 else models,
        "prompts": prompts,
        "sampling": sampling[0] if len(sampling) == 1 else sampling,
        "logprobs": manifest["config"].get("logprobs"),
    }


def _filters_section(figures: dict) -> str:
    """Failed generation attempts by reason: validation and degeneration filters (``filters.py``)."""
    from rankladder.dataset_builder.filters import reason_names

    failed = figures["counts"].get("failed_attempts_by_reason") or {}
    filters = set(reason_names())
    rows = "\n".join(
        f"| {reason} | {'degeneration filter' if reason in filters else 'validation'} | {n} |"
        for reason, n in failed.items()
    )
    removed = sum(n for reason, n in failed.items() if reason in filters)
    return (
        "## Validation and degeneration filters\n\nEvery generation passes validation and the Gopher-style "
        "degeneration filters (repetition, non-alphabetic words, query echo); a failed attempt is retried. "
        f"{figures['counts'].get('failed_attempts', 0)} failed attempts, {removed} of them by a degeneration "
        f"filter; {figures['counts'].get('rejected_keys', 0)} documents given up.\n\n"
        + ("| reason | kind | failed attempts |\n|---|---|---|\n" + rows + "\n" if rows else "")
        + "\n"
    )


def _labels_section(figures: dict, manifest: dict) -> str:
    """Intended level × judged grade (when the runs were judged): the judge, its prompt, the matrix, κ, the plot."""
    if not figures.get("labels"):
        return ""
    from rankladder.dataset_builder.agreement import to_markdown
    from rankladder.dataset_builder.card_sections import model_text

    judge = manifest.get("judge") or {}
    model = judge.get("model")
    models = model if isinstance(model, list) else [model]
    judges = " and ".join(model_text(m if isinstance(m, dict) else {"id": m}) for m in models if m) or "not recorded"
    prompts = ", ".join(
        f"`{name}` (sha256 `{str(p.get('hash'))[:16]}…`)" for name, p in judge.get("prompts", {}).items()
    )
    return (
        f"## Intended vs judged relevance\n\nEach document was graded by an LLM judge ({judges} via "
        f"`{judge.get('backend')}`, prompt {prompts or 'not recorded'}). Rows: the level the generator was asked "
        f"for; columns: the judge's grade.\n\n"
        + to_markdown(figures["labels"])
        + f"\n![intended x judged]({schema.AGREEMENT_PLOT})\n\n"
    )


def _merge_section(manifest: dict) -> str:
    """Which run gave how many records (when several RUN_DIRs were merged)."""
    runs = (manifest.get("merge") or {}).get("runs") or []
    if len(runs) < 2:
        return ""
    rows = "\n".join(
        f"| `{r['path']}` | `{r['generator']['model']}` | `{r['generator']['prompt_hash']}` | {r['records_read']} | "
        f"{r['records_kept']} |"
        for r in runs
    )
    return (
        f"## Merged runs\n\nMerge rule: `{manifest['merge']['rule']}`.\n\n| run | model | prompt hash | records read "
        f"| records kept |\n|---|---|---|---|---|\n{rows}\n\n"
    )


def _selection_section(figures: dict) -> str:
    """How the kept samples were chosen (when the build selected among several per level)."""
    sel = figures.get("selection")
    if not sel or not sel.get("applied"):
        return ""
    from rankladder.dataset_builder.selection import to_markdown

    return "## Level selection\n\n" + to_markdown(sel) + "\n"


def _separability_section(figures: dict) -> str:
    """Per-level separability (when the build computed it), so users see whether the ladder is usable."""
    if not figures.get("separability"):
        return ""
    from rankladder.dataset_builder.separability import to_markdown

    return "## Level separability\n\n" + to_markdown(figures["separability"]) + "\n"


LOAD_START, LOAD_END = "<!-- rankladder:load:start -->", "<!-- rankladder:load:end -->"
RELEASE_MARK = "<!-- rankladder:release -->"  # publish puts the release (repo, tag, licence) here


def loading_snippet(load_path: str) -> str:
    """Python that loads this folder as written (tests/dataset_builder/test_build.py runs it on a built card).

    The folder's absolute path, so the snippet runs from any working directory; ``publish`` replaces the
    whole block (``LOAD_START``…``LOAD_END``) with the Hub repo and tag.
    """
    return f"""```python
from datasets import load_dataset

path = {load_path!r}  # this folder; once published, the Hub repo (with revision="v...")
lists = load_dataset(path, "lists")  # query, doc_ids, documents, levels: train / dev
corpus = load_dataset(path, "corpus", split="corpus")  # MTEB/BEIR layout: corpus, queries,
queries = load_dataset(path, "queries", split="queries")  # default (qrels: train / dev)
print(lists, corpus, queries)
```"""


def _level_table(manifest: dict) -> str:
    rows = "\n".join(f"| {lv['value']} | {lv['name']} | {lv.get('definition', '')} |" for lv in manifest["levels"])
    return (
        "| level | name | definition |\n|---|---|---|\n" + rows + "\n\nHigher is more relevant; 0 means unrelated.\n\n"
    )


def card_metadata(folder: Path, manifest: dict, figures: dict) -> dict:
    """The card's YAML fields that come from the build (publish adds licence and release)."""
    from rankladder.dataset_builder.card_sections import manifest_queries_sources, size_category

    sources = [s.get("source") for s in manifest_queries_sources(manifest) if s.get("source")]
    hub_sources = [s for s in sources if s.count("/") == 1 and not s.startswith("bundled:")]
    counts = figures["counts"]
    return {
        "pretty_name": manifest["name"],
        "language": ["en"],
        "task_categories": ["text-retrieval"],
        "task_ids": ["document-retrieval"],
        "size_categories": [size_category(max(counts.get("documents", 0), counts.get("queries", 0)))],
        "source_datasets": [f"extended|{s}" for s in hub_sources] or ["original"],
        "annotations_creators": ["machine-generated"],
        "language_creators": ["machine-generated"],
        "multilinguality": ["monolingual"],
        "tags": ["synthetic", "graded-relevance", "rankladder"],
    }


def write_basic_card(folder: Path, manifest: dict, figures: dict, load_path: str | None = None) -> None:
    """Write ``folder/README.md``, the dataset card: every fact from ``manifest``, ``figures`` (stats.json)
    or the parquet files in ``folder``. ``load_path`` is the folder's final path as the user named it
    (``folder`` itself may be a temp folder about to be renamed), used by the loading snippet."""
    from huggingface_hub import DatasetCard, DatasetCardData

    from rankladder.dataset_builder.card_sections import (
        configs_section,
        generator_names,
        generators_section,
        labels_text,
        queries_section,
    )

    data = DatasetCardData(**card_metadata(folder, manifest, figures), configs=configs_yaml(manifest["files"]))
    counts = figures["counts"]
    per_level = ", ".join(f"level {k}: {v}" for k, v in counts["per_level"].items())
    load_path = str(Path(load_path or manifest["name"]).resolve())
    plot = f"![dataset statistics]({schema.STATS_PLOT})\n\n" if (Path(folder) / schema.STATS_PLOT).is_file() else ""
    body = f"""
# {manifest["name"]} (v{manifest["version"]})

{RELEASE_MARK}

Synthetic documents written by {generator_names(manifest)} for real queries at graded relevance levels,
built by rankladder. {counts["queries"]} queries, {counts["documents"]} documents ({per_level});
{counts["train_queries"]} train / {counts["dev_queries"]} dev queries. {labels_text(manifest, figures)}

{_level_table(manifest)}{queries_section(manifest)}{generators_section(manifest)}{configs_section(folder, manifest["files"])}## How to load

{LOAD_START}
{loading_snippet(load_path)}

{LOAD_END}

{_merge_section(manifest)}{_labels_section(figures, manifest)}{_filters_section(figures)}{_separability_section(figures)}{_selection_section(figures)}## Statistics

{plot}Content hash: `{manifest["content_hash"]}` (sha256 of the data files' hashes). See `{schema.MANIFEST_FILE}` and
`{schema.STATS_FILE}`.
"""
    # the body is plain text, not a template: a prompt may hold braces
    DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}").save(folder / "README.md")
