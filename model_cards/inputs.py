"""Read and check the folders the other stages write, before anything touches the network.

Every problem is a ``rankladder.core.errors.UserError`` naming the file and field at fault.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from rankladder.core.errors import UserError, located
from rankladder.core.textio import read_text
from rankladder.dataset_builder import schema

SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
TRAIN_MANIFEST = "rankladder_train_manifest.json"
SKIP_PARTS = ("checkpoint-", "runs", ".")  # trainer leftovers and hidden files never go to the Hub


def parse_version(version: str) -> str:
    """``1.2.3`` or ``v1.2.3`` -> ``1.2.3``; anything else is an error."""
    if not SEMVER.match(version or ""):
        raise UserError(f"--version {version!r}: not a semantic version (expected X.Y.Z, e.g. 1.0.0)")
    return version.removeprefix("v")


def check_repo_id(repo_id: str, flag: str = "--repo") -> str:
    """``ORG/NAME`` as the Hub accepts it (huggingface_hub's own validator), else a one-line UserError."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise UserError(f"{flag} {repo_id!r}: expected ORG/NAME")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        reason = str(exc).split(":")[0].rstrip(".")
        raise UserError(f"{flag} {repo_id!r}: not a valid Hub repo id ({reason}); expected ORG/NAME") from None
    return repo_id


def check_dataset_version(dataset_dir: Path, manifest: dict, version: str) -> None:
    """A release is tagged with the version the dataset was built as: the tag and the manifest must agree."""
    built = str(manifest["version"]).removeprefix("v")
    if built != version:
        raise UserError(
            f"--version {version}: {Path(dataset_dir) / schema.MANIFEST_FILE} says the dataset was built as version "
            f"{built}; publish it with --version {built}, or re-version it by rebuilding "
            f"(`rankladder build RUN_DIR... --out NEW_DIR --version {version}`)"
        )


def read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise located(path, f"missing ({what})")
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise located(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from exc
    if not isinstance(data, dict):
        raise located(path, "expected a JSON object")
    return data


def read_dataset_dir(dataset_dir: Path) -> dict:
    """The dataset manifest, after checking the folder was written by ``rankladder build``."""
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise UserError(f"{dataset_dir}: dataset folder not found")
    manifest_path = dataset_dir / schema.MANIFEST_FILE
    if not manifest_path.is_file():
        raise located(manifest_path, "missing: not a dataset folder built by `rankladder build`")
    manifest = read_json(manifest_path, "dataset manifest")
    if manifest.get("kind") != schema.DATASET_KIND:
        raise located(manifest_path, f"expected {schema.DATASET_KIND!r}, got {manifest.get('kind')!r}", field="kind")
    for key in ("version", "levels", "content_hash"):
        if not manifest.get(key):
            raise located(manifest_path, "required field is missing or empty", field=key)
    for i, level in enumerate(manifest["levels"]):
        if not isinstance(level, dict) or not {"value", "name"} <= set(level):
            raise located(manifest_path, "each level needs 'value' and 'name'", field=f"levels[{i}]")
    for config in (schema.CORPUS_CONFIG, schema.QUERIES_CONFIG, schema.QRELS_CONFIG, schema.LISTS_CONFIG):
        if not data_files(dataset_dir, config):
            folder = schema.CONFIG_LAYOUT[config][0]
            raise located(dataset_dir / folder, f"no parquet file for config {config!r}")
    return manifest


def data_files(dataset_dir: Path, config: str) -> dict[str, list[str]]:
    """split -> relative parquet paths (its shards), for the splits of ``config`` present in ``dataset_dir``."""
    out = {}
    for split in schema.CONFIG_LAYOUT[config][1]:
        files = [p for p in schema.split_files(dataset_dir, config, split) if p.is_file()]
        if files:
            out[split] = [p.relative_to(dataset_dir).as_posix() for p in files]
    return out


def read_checkpoint_dir(checkpoint_dir: Path) -> dict:
    """The train manifest, after checking the SentenceTransformer folder is complete."""
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        raise UserError(f"{checkpoint_dir}: checkpoint folder not found")
    for name in ("modules.json", "config_sentence_transformers.json", "config.json"):
        if not (checkpoint_dir / name).is_file():
            raise located(checkpoint_dir / name, "missing: incomplete SentenceTransformer checkpoint")
    try:
        modules = json.loads(read_text(checkpoint_dir / "modules.json"))
    except json.JSONDecodeError as exc:
        raise located(checkpoint_dir / "modules.json", f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise located(checkpoint_dir / "modules.json", "expected a list of modules")
    for module in modules:
        if module.get("type", "").endswith("Normalize"):  # stateless: saves no folder
            continue
        if not (checkpoint_dir / module.get("path", "")).is_dir():
            raise located(
                checkpoint_dir / "modules.json", f"module folder {module.get('path')!r} is missing", field="path"
            )
    weights = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json")
    if not any((checkpoint_dir / name).is_file() for name in weights):
        raise UserError(f"{checkpoint_dir}: no model weights (model.safetensors or pytorch_model.bin)")
    if not any((checkpoint_dir / name).is_file() for name in ("tokenizer.json", "vocab.txt", "tokenizer.model")):
        raise UserError(f"{checkpoint_dir}: no tokenizer files")
    manifest_path = checkpoint_dir / TRAIN_MANIFEST
    manifest = read_json(manifest_path, "written by `rankladder train`")
    if manifest.get("kind") != "rankladder-model":
        raise located(manifest_path, f"expected 'rankladder-model', got {manifest.get('kind')!r}", field="kind")
    for key in ("base_model", "dataset", "loss"):
        if not manifest.get(key):
            raise located(manifest_path, "required field is missing or empty", field=key)
    return manifest


def upload_files(folder: Path) -> list[Path]:
    """Files of ``folder`` worth publishing (relative paths), skipping trainer leftovers."""
    folder = Path(folder)
    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if any(part.startswith(SKIP_PARTS) for part in rel.parts) or rel.parts[0] == "logs":  # the commands' logs
            continue
        out.append(rel)
    return out


def read_results_dir(results_dir: Path) -> dict:
    """``summary.json`` plus the mteb result files per model: {"summary", "files": {model: [Path]}}."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UserError(f"{results_dir}: results folder not found")
    summary_path = results_dir / "summary.json"
    if not summary_path.is_file():
        raise located(summary_path, "missing: not a results folder written by `rankladder eval`")
    summary = read_json(summary_path, "eval summary")
    for key in ("models", "tasks", "scores"):
        if not summary.get(key):
            raise located(summary_path, "required field is missing or empty (results folder is empty)", field=key)
    files = {}
    for model in summary["models"]:
        # mteb's ResultCache layout: results/<name with / as __>/<revision>/<Task>.json
        folder = results_dir / "results" / str(model.get("name", "")).replace("/", "__") / str(model.get("revision"))
        jsons = sorted(p for p in folder.glob("*.json") if p.is_file())
        if not any(p.name != "model_meta.json" for p in jsons):
            raise located(folder, f"no mteb result JSON for model {model.get('name')!r}")
        files[model["name"]] = jsons
    return {"summary": summary, "files": files}
