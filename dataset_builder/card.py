"""The basic dataset card written by ``build`` (``model_cards`` renders the full one for publishing).

Its YAML declares the configs so ``load_dataset(DATASET_DIR, "lists")`` and mteb's loader work on
the local folder exactly as on the Hub.
"""

from __future__ import annotations

from pathlib import Path

from rankladder.dataset_builder import schema


def configs_yaml(files: dict) -> list[dict]:
    """The ``configs:`` block of the card, rendered from the manifest's ``files`` (``config/split`` ->
    its shards): every shard listed by its content-addressed name, so the card itself changes with the
    data and ``datasets`` never serves a stale cache entry for this folder (``schema.shard_file``)."""
    entries = []
    for config, (_, splits) in schema.CONFIG_LAYOUT.items():
        data_files = [
            {"split": split, "path": [shard["path"] for shard in files[f"{config}/{split}"]["shards"]]}
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
    """Intended level × judged grade (when the runs were judged)."""
    if not figures.get("labels"):
        return ""
    from rankladder.dataset_builder.agreement import to_markdown

    judge = manifest.get("judge") or {}
    model = judge.get("model")
    model_id = (model.get("id") if isinstance(model, dict) else model) or "not recorded"
    return (
        f"## Intended vs judged relevance\n\nEach document was graded by an LLM judge (`{model_id}`, "
        f"prompt `{', '.join(judge.get('prompts', {})) or 'not recorded'}`). Rows: the level the generator was asked for; "
        f"columns: the judge's grade (`{schema.AGREEMENT_PLOT}`).\n\n" + to_markdown(figures["labels"]) + "\n"
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


def loading_snippet(load_path: str) -> str:
    """Python that loads this folder as written (tests/test_builder_build.py runs it on a built card)."""
    return f"""```python
from datasets import load_dataset

path = {load_path!r}  # this folder; once published, the Hub repo (with revision="v...")
lists = load_dataset(path, "lists")  # query, doc_ids, documents, levels: train / dev
corpus = load_dataset(path, "corpus", split="corpus")  # MTEB/BEIR layout: corpus, queries,
queries = load_dataset(path, "queries", split="queries")  # default (qrels: train / dev)
print(lists, corpus, queries)
```"""


def write_basic_card(folder: Path, manifest: dict, figures: dict, load_path: str | None = None) -> None:
    """Write ``folder/README.md``; ``load_path`` is the folder's final path as the user named it (``folder``
    itself may be a temp folder about to be renamed), used by the loading snippet."""
    from huggingface_hub import DatasetCard, DatasetCardData

    data = DatasetCardData(
        pretty_name=manifest["name"],
        language=["en"],
        task_categories=["text-retrieval"],
        tags=["synthetic", "graded-relevance", "rankladder"],
        configs=configs_yaml(manifest["files"]),
    )
    levels = "\n".join(f"| {lv['value']} | {lv['name']} | {lv['definition']} |" for lv in manifest["levels"])
    counts = figures["counts"]
    per_level = ", ".join(f"level {k}: {v}" for k, v in counts["per_level"].items())
    model = manifest["generation"]["model"]
    model_id = model.get("id") if isinstance(model, dict) else model
    body = f"""
# {manifest["name"]} (v{manifest["version"]})

Synthetic documents written by an LLM (`{model_id}`) for real queries at graded relevance levels,
built by rankladder. {counts["queries"]} queries, {counts["documents"]} documents ({per_level});
{counts["train_queries"]} train / {counts["dev_queries"]} dev queries.

| level | name | definition |
|---|---|---|
{levels}

{loading_snippet(load_path or manifest["name"])}

{_merge_section(manifest)}{_labels_section(figures, manifest)}{_filters_section(figures)}{_separability_section(figures)}{_selection_section(figures)}Content hash: `{manifest["content_hash"]}`. See `rankladder_manifest.json` and `stats.json`.
"""
    DatasetCard.from_template(data, template_str="---\n{{ card_data }}\n---\n" + body).save(folder / "README.md")
