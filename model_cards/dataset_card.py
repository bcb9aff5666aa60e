"""The dataset card of a DATASET_DIR: ``DatasetCardData`` YAML + a body rendered from the manifest.

``render_dataset_card(dataset_dir)`` is what ``rankladder build`` calls; ``build_dataset_card`` adds
the release (repo, version, licence). Fields the existing README.md already sets (licence, language,
pretty_name, ...) are kept unless overridden.
"""

from __future__ import annotations

import json
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.dataset_builder import schema
from rankladder.model_cards.inputs import data_files, read_dataset_dir
from rankladder.model_cards.licenses import check_license

TEMPLATE = Path(__file__).parent / "templates" / "dataset_card.md"
REQUIRED = ("pretty_name", "license", "language", "task_categories", "task_ids", "size_categories", "configs")
CONFIG_ORDER = (schema.CORPUS_CONFIG, schema.QUERIES_CONFIG, schema.QRELS_CONFIG, schema.LISTS_CONFIG)


def size_category(n: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if n < limit:
            return label
    return "n>1M"


def _existing_metadata(dataset_dir: Path) -> dict:
    readme = dataset_dir / "README.md"
    if not readme.is_file():
        return {}
    import yaml
    from huggingface_hub import DatasetCard

    from rankladder.core.textio import read_text

    try:
        return DatasetCard(read_text(readme)).data.to_dict()
    except (ValueError, yaml.YAMLError) as exc:
        raise UserError(f"{readme}: card metadata is not a valid YAML block: {str(exc).splitlines()[0]}") from None


def _source(manifest: dict) -> tuple[str, list[str]]:
    """(human text, source_datasets YAML) for where the queries came from."""
    src = manifest.get("queries_source")
    name = src.get("name") or src.get("repo") or src.get("path") if isinstance(src, dict) else src
    if not name:
        return "unspecified queries", ["original"]
    return f"`{name}`", [f"extended|{Path(str(name)).name}"]


def _flat_stats(stats: dict, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    rows = []
    for key, value in stats.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and depth < 1:
            rows += _flat_stats(value, name + ".", depth + 1)
        elif isinstance(value, (int, float, str, bool)):
            rows.append((name, f"{value:.4g}" if isinstance(value, float) else str(value)))
    return rows[:60]


def _num_rows(path: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows
    except (OSError, pa.ArrowException) as exc:
        raise UserError(f"{path}: not a readable parquet file ({str(exc).splitlines()[0]})") from None


def validate_card_data(data: dict, where: str) -> None:
    missing = [key for key in REQUIRED if not data.get(key)]
    if missing:
        hint = " (pass --license)" if "license" in missing else ""
        raise UserError(f"{where}: dataset card is missing required field(s) {', '.join(missing)}{hint}")
    check_license(data["license"], f"{where}: field 'license' (or pass --license)")


def build_dataset_card(
    dataset_dir: Path,
    repo_id: str | None = None,
    version: str | None = None,
    license: str | None = None,
    language: str | list[str] | None = None,
    pretty_name: str | None = None,
    trained_models: list[str] | None = None,
):
    """The full ``huggingface_hub.DatasetCard`` for ``dataset_dir`` (validated; raises UserError).

    ``trained_models``: model repos released from this dataset (linked from the card body).
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    dataset_dir = Path(dataset_dir)
    manifest = read_dataset_dir(dataset_dir)
    version = version or manifest["version"]
    meta = _existing_metadata(dataset_dir)
    gen = manifest.get("generation") or {}
    model = gen.get("model") or {}
    source_text, source_datasets = _source(manifest)

    configs, config_rows, sizes = [], [], []
    for config in CONFIG_ORDER:
        files = data_files(dataset_dir, config)
        configs.append(
            {
                "config_name": config,
                "data_files": [{"split": s, "path": p[0] if len(p) == 1 else p} for s, p in files.items()],
            }
        )
        for split, rels in files.items():
            rows = sum(_num_rows(dataset_dir / rel) for rel in rels)
            rel = rels[0] if len(rels) == 1 else f"{rels[0]} (+{len(rels) - 1} shards)"
            sizes.append(rows)
            columns = ", ".join(f"`{c}`" for c in _columns(config))
            config_rows.append({"config": config, "split": split, "rows": rows, "path": rel, "columns": columns})

    tags = list(dict.fromkeys([*(meta.get("tags") or []), "synthetic", "graded-relevance", "rankladder", "mteb"]))
    name = pretty_name or meta.get("pretty_name") or (repo_id.split("/")[-1] if repo_id else dataset_dir.name)
    language = language or meta.get("language") or manifest.get("language") or "en"
    data = DatasetCardData(
        pretty_name=name,
        license=license or meta.get("license") or manifest.get("license"),
        language=[language] if isinstance(language, str) else list(language),
        task_categories=["text-retrieval"],
        task_ids=["document-retrieval"],
        size_categories=[size_category(max(sizes, default=0))],
        source_datasets=source_datasets,
        annotations_creators=["machine-generated"],
        language_creators=["machine-generated"],
        multilinguality=["monolingual"],
        tags=tags,
        configs=configs,
        rankladder={"version": version, "content_hash": manifest["content_hash"]},
    )
    validate_card_data(data.to_dict(), str(dataset_dir / "README.md"))

    stats_path = dataset_dir / schema.STATS_FILE
    stats = json.loads(stats_path.read_text()) if stats_path.is_file() else {}
    counts = manifest.get("counts") or {}
    prompts = [
        {"name": k, "mode": v.get("mode", "?"), "hash": v.get("hash", "?"), "template": v.get("template", "")}
        for k, v in (gen.get("prompts") or {}).items()
        if isinstance(v, dict)
    ]
    card = DatasetCard.from_template(
        data,
        template_path=str(TEMPLATE),
        repo_id=repo_id,
        version=version,
        content_hash=manifest["content_hash"],
        created=manifest.get("created", "unknown"),
        queries_source=source_text,
        levels=manifest["levels"],
        config_rows=config_rows,
        model_id=model.get("id", "unknown"),
        model_revision=model.get("revision", "unknown"),
        model_sha=model.get("file_sha256"),
        backend=gen.get("backend", "unknown"),
        sampling=gen.get("sampling") or {},
        prompts=prompts,
        counts={k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in counts.items()},
        stats=_flat_stats(stats) or [(k, str(v)) for k, v in counts.items() if not isinstance(v, dict)],
        has_plot=(dataset_dir / schema.STATS_PLOT).is_file(),
        trained_models=list(trained_models or []),
    )
    return card


def _columns(config: str) -> tuple[str, ...]:
    return {
        schema.CORPUS_CONFIG: schema.CORPUS_COLUMNS,
        schema.QUERIES_CONFIG: schema.QUERIES_COLUMNS,
        schema.QRELS_CONFIG: schema.QRELS_COLUMNS,
        schema.LISTS_CONFIG: schema.LISTS_COLUMNS,
    }[config]


def render_dataset_card(dataset_dir: Path):
    """Hook for ``rankladder build``: the card of a freshly built folder (licence from its README)."""
    dataset_dir = Path(dataset_dir)
    license = _existing_metadata(dataset_dir).get("license") or read_dataset_dir(dataset_dir).get("license")
    return build_dataset_card(dataset_dir, license=license or "unknown")


def check_round_trip(card, path: Path) -> None:
    """Write ``card`` to ``path`` and make sure ``DatasetCard.load`` reads the same metadata back."""
    from huggingface_hub import DatasetCard

    card.save(path)
    loaded = DatasetCard.load(path)
    if loaded.data.to_dict() != card.data.to_dict():
        raise UserError(f"{path}: dataset card metadata does not survive a save/load round trip")
