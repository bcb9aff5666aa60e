"""``rankladder publish dataset|model|results``: stage the exact folder, print the plan, upload, tag.

Everything is checked and staged locally first (cards validated by a save/load round trip), so bad
input fails before the network is touched. ``--dry-run`` stops there and keeps the staged folder.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from rankladder.dataset_builder import schema
from rankladder.core.errors import UserError
from rankladder.core.fsutil import atomic_output_dir

from rankladder.model_cards import dataset_card, hub, model_card
from rankladder.model_cards.inputs import (check_repo_id, data_files, parse_version, read_checkpoint_dir,
                                read_dataset_dir, read_results_dir, upload_files)


def _print_plan(kind: str, repo_id: str, folder: Path, message: str, tag: str | None, extra: str = "") -> None:
    files = upload_files(folder)
    total = sum((folder / f).stat().st_size for f in files)
    print(f"plan: publish {kind} to {hub.endpoint()}/{'datasets/' if kind == 'dataset' else ''}{repo_id}")
    print(f"  commit: {message!r}" + (f", then tag {tag}" if tag else "") + extra)
    for rel in files:
        print(f"  + {rel.as_posix()} ({(folder / rel).stat().st_size} bytes)")
    print(f"  {len(files)} files, {total} bytes")


def _stage(output: Path | None, fill, overwrite: bool = False) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """Run ``fill(folder)`` into ``output`` (dry run, kept) or a temp folder (deleted after upload).

    An existing non-empty ``output`` is the user's: refused unless ``overwrite`` (then replaced only
    once the new folder is complete)."""
    if output is not None:
        empty = output.is_dir() and not any(output.iterdir())
        with atomic_output_dir(output, overwrite=overwrite or empty) as tmp:
            fill(tmp)
        return output, None
    holder = tempfile.TemporaryDirectory(prefix="rankladder-publish-")
    folder = Path(holder.name) / "release"
    folder.mkdir()
    fill(folder)
    return folder, holder


def _report(release: hub.Release) -> None:
    if not release.changed:
        print("nothing changed on the Hub since the last commit: reusing it")
    print(f"commit: {release.commit_url}")
    if release.pr_url:
        print(f"pull request: {release.pr_url}")
    if release.tag:
        print(f"tag: {release.tag} -> {release.commit_oid}")


def _default_output(repo_id: str, version: str | None) -> Path:
    return Path("release") / (repo_id.replace("/", "__") + (f"-v{version}" if version else ""))


def publish_dataset(dataset_dir: Path, repo_id: str, version: str, private=False, dry_run=False, force=False,
                    license=None, output=None, trained_models=None, overwrite=False) -> int:
    version, repo_id, dataset_dir = parse_version(version), check_repo_id(repo_id), Path(dataset_dir)
    manifest = read_dataset_dir(dataset_dir)
    card = dataset_card.build_dataset_card(dataset_dir, repo_id=repo_id, version=version, license=license,
                                           trained_models=trained_models)
    api = None if dry_run else hub.get_api()

    def fill(folder: Path) -> None:
        for config in dataset_card.CONFIG_ORDER:
            for rel in data_files(dataset_dir, config).values():
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(dataset_dir / rel, folder / rel)
        for name in (schema.MANIFEST_FILE, schema.STATS_FILE, schema.STATS_PLOT):
            if (dataset_dir / name).is_file():
                shutil.copy2(dataset_dir / name, folder / name)
        dataset_card.check_round_trip(card, folder / "README.md")

    tag, message = f"v{version}", f"Release dataset v{version}"
    description = f"rankladder dataset {version} (content hash {manifest['content_hash']})"
    note = "" if manifest["version"] == version else f" (manifest says version {manifest['version']})"
    folder, holder = _stage(Path(output or _default_output(repo_id, version)) if dry_run else None, fill, overwrite)
    _print_plan("dataset", repo_id, folder, message, tag, note)
    if dry_run:
        print(f"dry run: nothing uploaded; release folder written to {folder}")
        return 0
    try:
        release = hub.publish_folder(api, folder, repo_id, "dataset", message, description, tag=tag,
                                     force=force, private=private)
    finally:
        holder.cleanup()
    _report(release)
    return 0


def publish_model(checkpoint_dir: Path, repo_id: str, version: str, private=False, dry_run=False, force=False,
                  license=None, dataset_repo=None, results_dir=None, output=None, overwrite=False) -> int:
    version, repo_id, checkpoint_dir = parse_version(version), check_repo_id(repo_id), Path(checkpoint_dir)
    manifest = read_checkpoint_dir(checkpoint_dir)
    card = model_card.build_model_card(checkpoint_dir, manifest, repo_id, version, license, dataset_repo)
    if results_dir is not None:
        card = _card_with_results(card, read_results_dir(Path(results_dir)), repo_id, None)[0]
    api = None if dry_run else hub.get_api()

    def fill(folder: Path) -> None:
        for rel in upload_files(checkpoint_dir):
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(checkpoint_dir / rel, folder / rel)
        model_card.check_round_trip(card, folder / "README.md")

    tag, message = f"v{version}", f"Release model v{version}"
    folder, holder = _stage(Path(output or _default_output(repo_id, version)) if dry_run else None, fill, overwrite)
    _print_plan("model", repo_id, folder, message, tag)
    if dry_run:
        print(f"dry run: nothing uploaded; release folder written to {folder}")
        return 0
    try:
        release = hub.publish_folder(api, folder, repo_id, "model", message, tag=tag, force=force, private=private)
    finally:
        holder.cleanup()
    _report(release)
    return 0


def _pick_model(summary: dict, repo_id: str, wanted: str | None) -> dict:
    models = summary["models"]
    if wanted:
        match = [m for m in models if m["name"] == wanted]
    elif len(models) == 1:
        match = models
    else:
        match = [m for m in models if m["name"] == repo_id or m["name"].split("/")[-1] == repo_id.split("/")[-1]]
    if len(match) != 1:
        names = ", ".join(m["name"] for m in models)
        raise UserError(f"summary.json: cannot tell which model is {repo_id} (have {names}); pass --model NAME")
    return match[0]


def _card_with_results(card, results: dict, repo_id: str, wanted: str | None):
    summary = results["summary"]
    model = _pick_model(summary, repo_id, wanted)
    scores = summary["scores"].get(model["name"]) or {}
    if not scores:
        raise UserError(f"summary.json: field 'scores': no scores for model {model['name']!r}")
    return model_card.add_results(card, repo_id.split("/")[-1], summary["tasks"], scores), model


def publish_results(results_dir: Path, model_repo: str, create_pr=False, dry_run=False, model=None,
                    bundle_dir=None, output=None, overwrite=False) -> int:
    from huggingface_hub import ModelCard

    from rankladder.model_cards.leaderboard import write_bundle

    model_repo, results_dir = check_repo_id(model_repo, "--model-repo"), Path(results_dir)
    results = read_results_dir(results_dir)
    api = hub.get_api() if not dry_run else None
    text = hub.download_text(api, model_repo, "README.md") if api else None
    card = ModelCard(text) if text else ModelCard("---\nlibrary_name: sentence-transformers\n---\n")
    card, entry = _card_with_results(card, results, model_repo, model)
    files = results["files"][entry["name"]]
    revision = entry.get("revision") or "main"

    def fill(folder: Path) -> None:
        target = folder / "mteb_results" / entry["name"].replace("/", "__") / revision
        target.mkdir(parents=True)
        for path in files:
            shutil.copy2(path, target / path.name)
        model_card.check_round_trip(card, folder / "README.md")

    message = f"Add rankladder eval results for {model_repo}@{revision}"
    folder, holder = _stage(Path(output or _default_output(model_repo, None) / "results") if dry_run else None, fill, overwrite)
    _print_plan("model", model_repo, folder, message, None, " (as a pull request)" if create_pr else "")
    bundle = write_bundle(Path(bundle_dir or Path("release") / "leaderboard" / model_repo.replace("/", "__")),
                          model_repo, revision, files, _model_meta(results_dir, entry, model_repo, card))
    print(f"leaderboard bundle: {bundle}")
    if dry_run:
        print(f"dry run: nothing uploaded; folder written to {folder}")
        return 0
    try:
        release = hub.publish_folder(api, folder, model_repo, "model", message, delete_stale=False,
                                     create_pr=create_pr)
    finally:
        holder.cleanup()
    _report(release)
    return 0


def _model_meta(results_dir: Path, entry: dict, model_repo: str, card) -> dict:
    path = results_dir / entry.get("path", "") / "model_meta.json"
    meta = json.loads(path.read_text()) if path.is_file() else {}
    data = card.data
    return {
        "name": model_repo, "revision": entry.get("revision") or meta.get("revision"),
        "release_date": meta.get("release_date"), "languages": meta.get("languages") or ["eng-Latn"],
        "n_parameters": meta.get("n_parameters"), "max_tokens": meta.get("max_tokens"),
        "embed_dim": meta.get("embed_dim"), "license": data.license,
        "training_data": (data.datasets or [None])[0] if isinstance(data.datasets, list) else None,
        "training_datasets": {d: ["train"] for d in (data.datasets or [])} if isinstance(data.datasets, list) else None,
        "adapted_from": data.base_model if isinstance(data.base_model, str) else None,
    }
