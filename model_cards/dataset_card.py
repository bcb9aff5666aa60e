"""The Hub card of a DATASET_DIR: the card ``rankladder build`` wrote, plus the release.

``rankladder build`` is the one writer of a dataset card's facts (``dataset_builder/card.py`` renders
them from the manifest, stats.json and the parquet files, for every shape: several runs, several
generators, judged, selected). Publishing only *augments* that card, so nothing is re-derived here:

- YAML: the licence, the release (``rankladder: {version, content_hash}``); the ``configs:`` block
  stays as build wrote it;
- body: the release line (repo, tag) where build left ``RELEASE_MARK``, the Hub loading snippet in
  place of the local one (``LOAD_START``…``LOAD_END``), and the release notes (models trained on it,
  intended use, limitations, citation).

The card is read as text and the markers are plain strings, so ``model_cards`` imports nothing of
``dataset_builder`` but the data contract.
"""

from __future__ import annotations

import re
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.dataset_builder import schema
from rankladder.model_cards.inputs import read_dataset_dir
from rankladder.model_cards.licenses import check_license

REQUIRED = ("pretty_name", "license", "language", "task_categories", "task_ids", "size_categories", "configs")
CONFIG_ORDER = (schema.CORPUS_CONFIG, schema.QUERIES_CONFIG, schema.QRELS_CONFIG, schema.LISTS_CONFIG)
# the markers build's card holds (dataset_builder/card.py writes them; they are part of the card format)
RELEASE_MARK = "<!-- rankladder:release -->"
LOAD_START, LOAD_END = "<!-- rankladder:load:start -->", "<!-- rankladder:load:end -->"
NOTES_START, NOTES_END = "<!-- rankladder:notes:start -->", "<!-- rankladder:notes:end -->"
CITATION = """```bibtex
@inproceedings{sycl2025,
  title     = {Beyond Contrastive Learning: Synthetic Data Enables List-wise Training with Multiple Levels of Relevance},
  booktitle = {Findings of the Association for Computational Linguistics: EMNLP 2025},
  year      = {2025}
}
```"""


def _read_card(dataset_dir: Path):
    readme = dataset_dir / "README.md"
    if not readme.is_file():
        raise UserError(f"{readme}: missing; rebuild the dataset with `rankladder build` (it writes the card)")
    import yaml
    from huggingface_hub import DatasetCard

    from rankladder.core.textio import read_text

    try:
        card = DatasetCard(read_text(readme))
    except (ValueError, yaml.YAMLError) as exc:
        raise UserError(f"{readme}: card metadata is not a valid YAML block: {str(exc).splitlines()[0]}") from None
    if RELEASE_MARK not in card.text or LOAD_START not in card.text or LOAD_END not in card.text:
        raise UserError(
            f"{readme}: not the card `rankladder build` writes (no rankladder markers: built by an older "
            "rankladder, or edited); rebuild the dataset with `rankladder build` to render its card"
        )
    return card


def validate_card_data(data: dict, where: str) -> None:
    missing = [key for key in REQUIRED if not data.get(key)]
    if missing:
        hint = " (pass --license)" if "license" in missing else ""
        raise UserError(f"{where}: dataset card is missing required field(s) {', '.join(missing)}{hint}")
    check_license(data["license"], f"{where}: field 'license' (or pass --license)")


def hub_snippet(repo_id: str | None, version: str) -> str:
    repo = repo_id or "ORG/NAME"
    return f"""```python
from datasets import load_dataset

lists = load_dataset("{repo}", "lists", revision="v{version}")  # list-wise training
corpus = load_dataset("{repo}", "corpus", revision="v{version}")  # MTEB/BEIR corpus
queries = load_dataset("{repo}", "queries", revision="v{version}")
qrels = load_dataset("{repo}", "default", revision="v{version}")  # graded qrels
```

Pin `revision` to a version tag: later releases may change the data."""


def _notes(trained_models: dict[str, str | None], version: str) -> str:
    lines = []
    if trained_models:
        lines += ["## Models trained on this dataset", ""]
        for model, url in trained_models.items():
            lines.append(
                f"- [`{model}`]({url}) (tag `v{version}`)" if url else f"- `{model}` (released with this version)"
            )
        lines.append("")
    lines += [
        "## Intended use",
        "",
        "Training and evaluating retrievers with graded relevance (list-wise losses, nDCG). Not a substitute for",
        "human-judged test collections: report results on real benchmarks as well.",
        "",
        "## Limitations and biases",
        "",
        "- All documents are **synthetic text** written by the generator(s) named above: they can be fluent but",
        "  wrong, repetitive, or stylistically uniform; the grades are what the labels section above says they",
        "  are (the level asked for, or a judge's grade), not human judgement.",
        "- The LLM's own biases (topics, viewpoints, language and culture) carry over into the documents.",
        "- The queries inherit their source's domain and licence conditions.",
        "",
        "## Citation",
        "",
        CITATION,
    ]
    return "\n".join(lines)


def _replace(text: str, start: str, end: str, block: str) -> str:
    return re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{block}\n{end}", text, flags=re.S)


def build_dataset_card(
    dataset_dir: Path,
    repo_id: str | None = None,
    version: str | None = None,
    license: str | None = None,
    language: str | list[str] | None = None,
    pretty_name: str | None = None,
    trained_models: dict[str, str | None] | list[str] | None = None,
    endpoint: str | None = None,
):
    """The Hub card of ``dataset_dir``: build's card with the release added (validated; raises UserError).

    ``trained_models``: model repo -> its URL on the target Hub, or None when it is not there (yet): only
    a repo that exists is linked (a list means none was checked: none is linked).
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    dataset_dir = Path(dataset_dir)
    manifest = read_dataset_dir(dataset_dir)
    version = version or manifest["version"]
    card = _read_card(dataset_dir)
    meta = card.data.to_dict()
    name = pretty_name or (repo_id.split("/")[-1] if repo_id else meta.get("pretty_name") or dataset_dir.name)
    language = language or meta.get("language") or "en"
    meta |= {
        "pretty_name": name,
        "license": license or meta.get("license") or manifest.get("license"),
        "language": [language] if isinstance(language, str) else list(language),
        "rankladder": {"version": version, "content_hash": manifest["content_hash"]},
    }
    validate_card_data(meta, str(dataset_dir / "README.md"))
    text = card.text
    if repo_id:
        url = f"{endpoint}/datasets/{repo_id}/tree/v{version}" if endpoint else None
        where = f"[`{repo_id}`]({url})" if url else f"`{repo_id}`"
        release = f"{RELEASE_MARK}\n\n**Release:** version {version}, tag `v{version}` of {where}; licence `{meta['license']}`."
        text = text.replace(RELEASE_MARK, release, 1)
    text = _replace(text, LOAD_START, LOAD_END, hub_snippet(repo_id, version))
    models = trained_models if isinstance(trained_models, dict) else dict.fromkeys(trained_models or [])
    if NOTES_START in text:
        text = _replace(text, NOTES_START, NOTES_END, _notes(models, version))
    else:
        text = text.rstrip() + f"\n\n{NOTES_START}\n{_notes(models, version)}\n{NOTES_END}\n"
    return DatasetCard(f"---\n{DatasetCardData(**meta).to_yaml()}\n---\n{text}")


def render_dataset_card(dataset_dir: Path):
    """The card as a dry run would stage it without a repo (licence from its README)."""
    dataset_dir = Path(dataset_dir)
    license = _read_card(dataset_dir).data.to_dict().get("license") or read_dataset_dir(dataset_dir).get("license")
    return build_dataset_card(dataset_dir, license=license or "unknown")


def check_round_trip(card, path: Path) -> None:
    """Write ``card`` to ``path`` and make sure ``DatasetCard.load`` reads the same metadata back."""
    from huggingface_hub import DatasetCard

    card.save(path)
    loaded = DatasetCard.load(path)
    if loaded.data.to_dict() != card.data.to_dict():
        raise UserError(f"{path}: dataset card metadata does not survive a save/load round trip")
