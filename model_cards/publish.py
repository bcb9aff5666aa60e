"""``rankladder publish dataset|model|results``: stage the exact folder, print the plan, upload, tag.

The entry is :func:`run` (``kind``, that kind's config from ``model_cards.config``, folder, repo).

Everything is checked and staged locally first (cards validated by a save/load round trip), so bad
input fails before the network is touched. ``--dry-run`` stops there and keeps the staged folder.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.fsutil import check_writable
from rankladder.dataset_builder import schema
from rankladder.model_cards import dataset_card, hub, model_card, release_rows
from rankladder.model_cards.config import (
    PUBLISH_CONFIGS,
    DatasetPublishConfig,
    ModelPublishConfig,
    PublishOptions,
    ResultsPublishConfig,
    TaggedPublishOptions,
)
from rankladder.model_cards.inputs import (
    REPO_ID,
    TRAIN_MANIFEST,
    check_dataset_version,
    check_repo_id,
    data_files,
    parse_version,
    read_checkpoint_dir,
    read_dataset_dir,
    read_results_dir,
    upload_files,
)
from rankladder.model_cards.licenses import check_license
from rankladder.model_cards.outputs import check_output_target, write_output_dir
from rankladder.model_cards.portable import write_portable_json


def _print_plan(kind: str, repo_id: str, folder: Path, message: str, tag: str | None, extra: str = "") -> None:
    files = upload_files(folder)
    total = sum((folder / f).stat().st_size for f in files)
    print(f"plan: publish {kind} to {hub.endpoint()}/{'datasets/' if kind == 'dataset' else ''}{repo_id}")
    print(f"  commit: {message!r}" + (f", then tag {tag}" if tag else "") + extra)
    for rel in files:
        print(f"  + {rel.as_posix()} ({(folder / rel).stat().st_size} bytes)")
    print(f"  {len(files)} files, {total} bytes")


def _tag_options(config: TaggedPublishOptions) -> str:
    """The plan's words for ``--force`` / ``--private`` (what the upload will do with them)."""
    words = [" (the tag is moved if it exists: --force)"] if config.force else []
    return "".join(words) + ("; the repo is created private" if config.private else "")


def _stage(output: Path | None, fill, overwrite: bool) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """Run ``fill(folder)`` into ``output`` (dry run, kept) or a temp folder (deleted after upload).

    ``output`` follows the output rule (``outputs.write_output_dir``): an existing, different, non-empty
    folder is refused unless ``overwrite``, and is replaced only once the new one is complete.
    """
    if output is not None:
        if not write_output_dir(output, fill, overwrite):
            print(f"{output}: identical folder already there, kept as it is")
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


def _dry_run_output(output, default: Path, dry_run: bool) -> Path | None:
    """The folder a dry run writes (checked now, before any work), or None for a real upload."""
    if not dry_run:
        return None
    path = Path(output or default)
    check_output_target(path, "--out")
    check_writable(path)
    return path


def run(kind: str, config: PublishOptions, folder: str | Path, repo_id: str, out=None, overwrite: bool = False) -> int:
    """Publish ``folder`` (a built dataset, a trained model or eval results, by ``kind``) to ``repo_id`` as
    ``config`` (that kind's model in :data:`PUBLISH_CONFIGS`) says; 0 when done.

    The one entry of the publish stage (``rankladder publish KIND``, ``rankladder.publish``, the release).
    ``out``: where a dry run writes the folder it would upload (default ``./release/ORG__NAME-vX.Y.Z``);
    ``overwrite``: replace a different folder already there, once the new one is complete."""
    if kind not in PUBLISH_CONFIGS:
        raise UserError(f"kind: expected one of {', '.join(PUBLISH_CONFIGS)}, got {kind!r}")
    if not isinstance(config, PUBLISH_CONFIGS[kind]):
        raise TypeError(f"publish {kind}: expected a {PUBLISH_CONFIGS[kind].__name__}, got {type(config).__name__}")
    publish = {"dataset": publish_dataset, "model": publish_model, "results": publish_results}[kind]
    return publish(config, Path(folder), repo_id, Path(out) if out is not None else None, overwrite)


def publish_dataset(
    config: DatasetPublishConfig, dataset_dir: Path, repo_id: str, output: Path | None, overwrite: bool
) -> int:
    version, repo_id = parse_version(config.version), check_repo_id(repo_id)
    license, dry_run = check_license(config.license), config.dry_run
    for model_repo in config.trained_models:
        check_repo_id(model_repo, "trained model repo")
    manifest = read_dataset_dir(dataset_dir)
    check_dataset_version(dataset_dir, manifest, version)
    output = _dry_run_output(output, _default_output(repo_id, version), dry_run)
    api = None if dry_run else hub.get_api()
    # a model repo is linked only once it is on the target Hub (a dry run contacts nothing: no links)
    models = {m: (hub.repo_url(api, m, "model") if api else None) for m in config.trained_models}
    card = dataset_card.build_dataset_card(
        dataset_dir, repo_id=repo_id, version=version, license=license, trained_models=models, endpoint=hub.endpoint()
    )

    expected: list = []  # what the tag must load (filled while staging: a bad card fails before any upload)

    def fill(folder: Path) -> None:
        for config in dataset_card.CONFIG_ORDER:
            for rel in (rel for rels in data_files(dataset_dir, config).values() for rel in rels):
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(dataset_dir / rel, folder / rel)
        for name in (schema.MANIFEST_FILE, schema.STATS_FILE, schema.STATS_PLOT, schema.AGREEMENT_PLOT):
            if (dataset_dir / name).is_file() and name.endswith(".json"):  # no machine path leaves
                write_portable_json(dataset_dir / name, folder / name)
            elif (dataset_dir / name).is_file():
                shutil.copy2(dataset_dir / name, folder / name)
        dataset_card.check_round_trip(card, folder / "README.md")
        expected[:] = [release_rows.release_expectations(folder, manifest)]

    tag, message = f"v{version}", f"Release dataset v{version}"
    description = f"rankladder dataset {version} (content hash {manifest['content_hash']})"
    folder, holder = _stage(output, fill, overwrite)
    _print_plan("dataset", repo_id, folder, message, tag, _tag_options(config))
    if dry_run:
        print(f"dry run: nothing uploaded; release folder written to {folder}")
        return 0
    try:
        release = hub.publish_folder(
            api, folder, repo_id, "dataset", message, description, tag=tag, force=config.force, private=config.private
        )
    finally:
        holder.cleanup()
    _report(release)
    _read_back(repo_id, *expected[0], release)
    return 0


def _read_back(repo_id: str, expected: list[dict], source: str, release: hub.Release) -> None:
    """``load_dataset(repo_id, config, revision=tag)`` must return exactly the rows build wrote (its manifest's
    ``readback`` record, or for an older build the rows of the files staged, ``release_rows``) before the
    release is reported as done; the upload has happened by then, so a failure says which tag is wrong and
    how to replace it."""
    from rankladder.core.readback import verify_published

    try:
        verify_published(repo_id, expected, release.tag, hub.endpoint())
    except UserError as exc:
        raise UserError(
            f"{exc}; the upload is done but tag {release.tag} (commit {release.commit_oid[:12]}) does not load "
            f"as built: fix the dataset folder (or rebuild it) and re-run with --force to move the tag"
        ) from None
    rows = sum(entry["rows"] for entry in expected)
    print(f"read back: load_dataset({repo_id!r}, revision={release.tag!r}) returns the {rows} rows written")
    print(f"  (rows and ids checked against {source})")


def publish_model(
    config: ModelPublishConfig, checkpoint_dir: Path, repo_id: str, output: Path | None, overwrite: bool
) -> int:
    version, repo_id = parse_version(config.version), check_repo_id(repo_id)
    license, dry_run = check_license(config.license), config.dry_run
    dataset_repo, results_dir, base_model = config.dataset_repo, config.results, config.base_model
    if dataset_repo is not None:
        check_repo_id(dataset_repo, "--dataset-repo")
    if base_model is not None:
        check_repo_id(base_model, "--base-model")
    manifest = read_checkpoint_dir(checkpoint_dir)
    output = _dry_run_output(output, _default_output(repo_id, version), dry_run)
    api = None if dry_run else hub.get_api()
    links = _model_links(api, manifest, checkpoint_dir, dataset_repo, base_model)
    card = model_card.build_model_card(
        checkpoint_dir, manifest, repo_id, version, license, dataset_repo, base_model, links
    )
    if results_dir is not None:
        card = _card_with_results(card, read_results_dir(Path(results_dir)), repo_id, None, checkpoint_dir)[0]

    repo_of_dataset = (card.data.datasets or [None])[0] if links is None or links.get("dataset") else None
    names = {str((manifest.get("dataset") or {}).get("path_or_repo")): repo_of_dataset} if repo_of_dataset else {}

    def fill(folder: Path) -> None:
        for rel in upload_files(checkpoint_dir):
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            if rel.as_posix() == TRAIN_MANIFEST:  # the record leaves the machine: no machine path in it
                write_portable_json(checkpoint_dir / rel, folder / rel, names)
            else:
                shutil.copy2(checkpoint_dir / rel, folder / rel)
        model_card.check_round_trip(card, folder / "README.md")

    tag, message = f"v{version}", f"Release model v{version}"
    folder, holder = _stage(output, fill, overwrite)
    _print_plan("model", repo_id, folder, message, tag, _tag_options(config))
    if dry_run:
        print(f"dry run: nothing uploaded; release folder written to {folder}")
        return 0
    try:
        release = hub.publish_folder(
            api, folder, repo_id, "model", message, tag=tag, force=config.force, private=config.private
        )
    finally:
        holder.cleanup()
    _report(release)
    return 0


def _model_links(api, manifest: dict, checkpoint_dir: Path, dataset_repo, base_model) -> dict | None:
    """What the model card may link, verified on the target Hub before anything is uploaded (``hub_claims``);
    None for a dry run (it contacts nothing, so its card links nothing it names)."""
    from rankladder.model_cards import hub_claims

    if api is None:
        print("dry run: links to the Hub (training dataset, base model) not checked; the upload checks them")
        return None
    recorded = str((manifest.get("dataset") or {}).get("path_or_repo") or "")
    candidate = dataset_repo or (recorded if REPO_ID.match(recorded) and not Path(recorded).is_dir() else None)
    dataset = hub_claims.check_dataset(api, manifest, candidate, required=bool(dataset_repo)) if candidate else None
    base = model_card.base_model_of(manifest, checkpoint_dir, base_model)["hub_id"]
    return {"dataset": dataset, "base_model": hub_claims.model_url(api, base)}


def _pick_model(summary: dict, repo_id: str, wanted: str | None, checkpoint_dir: Path | None) -> dict:
    """The summary.json entry of the model being published: by ``--model``, by its folder, or by repo name."""
    models = summary["models"]
    if wanted:
        match = [m for m in models if m["name"] == wanted]
    elif len(models) == 1:
        match = models
    else:
        match = [m for m in models if m["name"] == repo_id]
        if not match and checkpoint_dir is not None:  # eval records a local model's resolved folder
            here = Path(checkpoint_dir).resolve()
            match = [m for m in models if m.get("path") and Path(m["path"]).resolve() == here]
        if not match:
            match = [m for m in models if m["name"].split("/")[-1] == repo_id.split("/")[-1]]
    if len(match) != 1:
        names = ", ".join(m["name"] for m in models)
        hint = (
            "pass --model NAME"
            if checkpoint_dir is None
            else f"evaluate {checkpoint_dir} with `rankladder eval --model {checkpoint_dir} --name {repo_id}`"
        )
        raise UserError(f"summary.json: cannot tell which model is {repo_id} (have {names}); {hint}")
    return match[0]


def _card_with_results(card, results: dict, repo_id: str, wanted: str | None, checkpoint_dir: Path | None = None):
    summary = results["summary"]
    model = _pick_model(summary, repo_id, wanted, checkpoint_dir)
    scores = summary["scores"].get(model["name"]) or {}
    if not scores:
        raise UserError(f"summary.json: field 'scores': no scores for model {model['name']!r}")
    # eval's flag of a task on a split this model trained on travels into the card (summary.json's `leaks`)
    leaks = [leak for leak in summary.get("leaks") or [] if leak.get("model") == model["name"]]
    if leaks:
        names = ", ".join(sorted({leak["task"] for leak in leaks}))
        print(f"not held out: {names} (marked in the card's results table, left out of its model-index)")
    return model_card.add_results(card, repo_id.split("/")[-1], summary["tasks"], scores, leaks), model


def publish_results(
    config: ResultsPublishConfig, results_dir: Path, model_repo: str, output: Path | None, overwrite: bool
) -> int:
    from huggingface_hub import ModelCard

    from rankladder.model_cards.leaderboard import fill_bundle

    model_repo = check_repo_id(model_repo, "--model-repo")
    dry_run, create_pr, model, bundle_dir = config.dry_run, config.create_pr, config.model, config.bundle_dir
    results = read_results_dir(results_dir)
    output = _dry_run_output(output, _default_output(model_repo, None) / "results", dry_run)
    bundle_dir = Path(bundle_dir or Path("release") / "leaderboard" / model_repo.replace("/", "__"))
    check_output_target(bundle_dir, "--bundle-dir")
    api = hub.get_api() if not dry_run else None
    text = hub.download_text(api, model_repo, "README.md") if api else None
    card = ModelCard(text) if text else ModelCard("---\nlibrary_name: sentence-transformers\n---\n")
    card, entry = _card_with_results(card, results, model_repo, model)
    files = results["files"][entry["name"]]
    revision = entry.get("revision") or "main"
    # the leaderboard takes MTEB tasks only, under the model's revision on the Hub (not eval's local hash)
    # ... and held-out scores only: a task scored on a split the model trained on (eval's leaks) stays out
    leaked = sorted(
        {leak["task"] for leak in results["summary"].get("leaks") or [] if leak.get("model") == entry["name"]}
    )
    mteb_tasks = {t["name"] for t in results["summary"]["tasks"] if model_card.mteb_dataset(t)} - set(leaked)
    bundle_files = [path for path in files if path.stem in mteb_tasks]
    hub_revision = revision
    if revision.startswith("sha256-"):  # eval's hash of a local folder: the leaderboard needs the Hub commit
        hub_revision = api.model_info(model_repo).sha if api else None

    def fill(folder: Path) -> None:
        target = folder / "mteb_results" / entry["name"].replace("/", "__") / revision
        target.mkdir(parents=True)
        for path in files:
            shutil.copy2(path, target / path.name)
        model_card.check_round_trip(card, folder / "README.md")

    if bundle_files and hub_revision:
        meta = _model_meta(results_dir, entry, model_repo, revision, hub_revision, card)
        if not write_output_dir(
            bundle_dir, lambda folder: fill_bundle(folder, bundle_files, meta), overwrite, "--bundle-dir"
        ):
            print(f"{bundle_dir}: identical leaderboard bundle already there, kept as it is")
    else:
        why = (
            "no held-out MTEB task among the results"
            if not bundle_files
            else "the model's Hub revision is unknown in a dry run"
        )
        print(f"leaderboard bundle: {bundle_dir} not written ({why})")
    if leaked:
        print(f"leaderboard bundle: leaves out {', '.join(leaked)} (not held out)")
    message = f"Add rankladder eval results for {model_repo}@{revision}"
    folder, holder = _stage(output, fill, overwrite)
    _print_plan("model", model_repo, folder, message, None, " (as a pull request)" if create_pr else "")
    if bundle_dir.is_dir():
        print(f"leaderboard bundle: {bundle_dir}")
    if dry_run:
        print(f"dry run: nothing uploaded; folder written to {folder}")
        return 0
    try:
        release = hub.publish_folder(api, folder, model_repo, "model", message, delete_stale=False, create_pr=create_pr)
    finally:
        holder.cleanup()
    _report(release)
    return 0


def _model_meta(results_dir: Path, entry: dict, model_repo: str, revision: str, hub_revision: str, card):
    """mteb's ``ModelMeta`` for the leaderboard, from eval's model_meta.json (under eval's ``revision``) and
    the model card; named by the model's ``hub_revision``."""
    from rankladder.model_cards.leaderboard import build_model_meta

    path = results_dir / "results" / entry["name"].replace("/", "__") / revision / "model_meta.json"
    eval_meta = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data = card.data
    datasets = data.datasets if isinstance(data.datasets, list) else []
    return build_model_meta(
        eval_meta,
        name=model_repo,
        revision=hub_revision,
        license=data.license,
        training_data=datasets[0] if datasets else None,
        adapted_from=data.base_model if isinstance(data.base_model, str) else None,
        endpoint=hub.endpoint(),
    )
