"""Audit a published model card: every fact it states (README.md YAML with its ``model-index``, and the
body), checked against the train manifest, the eval results (``summary.json``), the training dataset's
repo on the Hub (repo, tag, content hash) and the model files on the Hub. ``audit_model_card`` returns the
list of false or missing facts (empty: the card tells the truth).

The expectations are derived here from the records, not from rankladder's card code: a Hub dataset is named
by its repo and linked on the target Hub; an MTEB task by mteb's registry; a local collection as
``local/<folder name>``; nothing of this machine leaves it.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from rankladder.core.fsutil import sha256_file
from rankladder.model_cards.model_card import NOT_HELD_OUT

TRAIN_MANIFEST = "rankladder_train_manifest.json"
METRICS = {"ndcg_at_10": "nDCG@10", "mrr_at_10": "MRR@10", "recall_at_100": "Recall@100", "main_score": "main score"}
# documentation links sentence-transformers' own card template writes (not claims about this model)
DOC_LINKS = ("https://www.SBERT.net", "https://sbert.net", "https://github.com/", "https://arxiv.org/")
DOC_LINKS_HF = ("https://huggingface.co/blog/", "https://huggingface.co/models?library=")


def _json_block(text: str, after: str) -> dict | None:
    match = re.search(re.escape(after) + r"\s*```json\n(.*?)\n```", text, re.S)
    return json.loads(match.group(1)) if match else None


def machine_paths(*records) -> set[str]:
    """Every absolute path recorded in these JSON-like values (the strings that must not leave the machine)."""
    found: set[str] = set()

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            found.update(p.rstrip("/") for p in re.findall(r"(?:^|(?<=\s))(/[^\s'\",)`]+)", value) if len(p) > 4)

    for record in records:
        walk(record)
    return found


def expected_dataset(task: dict) -> dict:
    """How a task's data must be named: mteb's registry for an MTEB task, else the Hub id or ``local/<name>``."""
    import mteb

    ds = task.get("dataset") or {}
    recorded = str(ds.get("path_or_repo") or "")
    try:
        meta = mteb.get_task(task["name"]).metadata.dataset
    except (KeyError, ValueError):
        meta = None
    if meta and recorded in ("", meta["path"]):
        return {"type": meta["path"], "revision": meta["revision"], "mteb": True}
    if recorded and not recorded.startswith(("/", ".", "~")) and recorded.count("/") == 1:
        return {"type": recorded, "revision": ds.get("revision"), "mteb": False}
    return {"type": f"local/{Path(recorded).name if recorded else task['name']}", "revision": None, "mteb": False}


def audit_model_card(
    api, endpoint: str, repo: str, tag: str, checkpoint_dir: Path, results_dir: Path | None, card=None
) -> list[str]:
    from huggingface_hub import ModelCard

    problems: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    checkpoint_dir = Path(checkpoint_dir)
    manifest = json.loads((checkpoint_dir / TRAIN_MANIFEST).read_text())
    summary = json.loads((Path(results_dir) / "summary.json").read_text()) if results_dir else None
    card = card or ModelCard.load(api.hf_hub_download(repo, "README.md", revision=tag))
    text, meta = card.text, card.data.to_dict()
    tags = {t.name for t in api.list_repo_refs(repo).tags}
    check(tag in tags, f"tag {tag} not on the Hub ({sorted(tags)})")

    # the model files: each one on the Hub is the checkpoint's own (the manifest: its portable copy)
    files = set(api.list_repo_files(repo, revision=tag))
    for name in ("model.safetensors", "config.json", "modules.json", "tokenizer.json", TRAIN_MANIFEST):
        check(name in files, f"{name} not on the Hub")
    for rel in sorted(files - {"README.md", ".gitattributes", TRAIN_MANIFEST}):
        local = checkpoint_dir / rel
        same = local.is_file() and sha256_file(Path(api.hf_hub_download(repo, rel, revision=tag))) == sha256_file(local)
        check(same, f"{rel} on the Hub is not the checkpoint's file")
    uploaded = json.loads(Path(api.hf_hub_download(repo, TRAIN_MANIFEST, revision=tag)).read_text())
    for key in ("loss", "seed", "base_model", "group"):
        check(uploaded.get(key) == manifest.get(key), f"uploaded manifest's {key} differs from the checkpoint's")

    # nothing of this machine in the card or the uploaded records
    leaving = card.content + json.dumps(uploaded)
    for path in machine_paths(manifest, summary or {}):
        check(path not in leaving, f"machine path {path} leaves the machine")

    # release, base model, loss, seed, usage
    version = tag.removeprefix("v")
    check(f"- **Version:** {version} (tag `{tag}`)" in text, "version line")
    check(meta.get("base_model") == manifest["base_model"], f"base_model {meta.get('base_model')}")
    check(f"- **Base model:** `{manifest['base_model']}`" in text or f"[{manifest['base_model']}](" in text, "base")
    weights = (manifest.get("base_model_source") or {}).get("weights_sha256")
    if weights:
        check(f"weights sha256 `{weights[:16]}`" in text, "base model weights hash not stated")
    check(f"- **Loss:** `{manifest['loss']['name']}`" in text, "loss name")
    check(_json_block(text, "Loss config:") == manifest["loss"]["config"], "loss config differs from the manifest")
    check(f"- **Seed:** {manifest['seed']}" in text, "seed")
    args = _json_block(text, "Training arguments:") or {}
    check(set(args) == set(manifest.get("training_args") or {}), "training arguments: other keys than the manifest")
    for key, value in (manifest.get("training_args") or {}).items():
        if not (isinstance(value, str) and value.startswith("/")):
            check(args.get(key) == value, f"training argument {key}: card {args.get(key)!r}, manifest {value!r}")
    check(f'SentenceTransformer("{repo}", revision="{tag}")' in text, "usage snippet does not load this repo@tag")

    # the training dataset: named in the YAML, on the Hub with the stated tag and the recorded content hash
    ds = manifest.get("dataset") or {}
    line = re.search(
        r"^- \*\*Training dataset:\*\* \[`(\S+)`\]\((\S+)\) @ `(\S+)` \(version (\S+)\), content hash `(\w+)`",
        text,
        re.M,
    )
    check(bool(line), "no linked training dataset line")
    if line:
        ds_repo, url, revision, ds_version, digest = line.groups()
        check(meta.get("datasets") == [ds_repo], f"YAML datasets {meta.get('datasets')} != [{ds_repo}]")
        check(url == f"{endpoint}/datasets/{ds_repo}/tree/{revision}", f"dataset link {url}")
        ds_tags = {t.name for t in api.list_repo_refs(ds_repo, repo_type="dataset").tags}
        check(revision in ds_tags, f"dataset tag {revision} not on the Hub ({sorted(ds_tags)})")
        if revision in ds_tags:
            hub_manifest = json.loads(
                Path(
                    api.hf_hub_download(ds_repo, "rankladder_manifest.json", repo_type="dataset", revision=revision)
                ).read_text()
            )
            check(hub_manifest["content_hash"] == ds["content_hash"], "dataset on the Hub has another content hash")
            check(hub_manifest["version"] == ds_version == ds["version"], f"dataset version {ds_version}")
        check(digest == ds["content_hash"][:16], f"dataset content hash {digest} != manifest's")

    # every source of a mixed training set named, portably, with its content hash; the provenance block too
    sources = manifest.get("sources") or []
    if len(sources) > 1:
        part = text[text.find("- **Training sources:**") :].split("\n- **Loss:**")[0]
        check(f"**Training sources:** {len(sources)}," in text, "the training sources are not all stated")
        dataset_name = (meta.get("datasets") or [None])[0]
        for index, (source, recorded) in enumerate(zip(sources, manifest.get("inputs") or []), 1):
            is_dataset = source["path"] == ds.get("path_or_repo") and dataset_name
            name = dataset_name if is_dataset else f"local:{Path(source['path']).name}"
            digest = (recorded.get("content_hash") or recorded.get("sha256") or "")[:16]
            check(f"  {index}. `{name}`, split `{source['split']}`" in part, f"source {index} not named {name}")
            check(f"content hash `{digest}`" in part, f"source {index}: content hash {digest} not stated")
        for split in manifest.get("collection_splits") or []:
            check(f"`{split['split']}` split of `local:{Path(split['collection']).name}`" in part, "mined from")
    provenance = _json_block(text, "full record in `rankladder_train_manifest.json`.") or {}
    named = [s["path"] for s in provenance.get("sources") or []]
    check(len(set(named)) == len({s["path"] for s in sources}), f"provenance names sources as {named}")

    # model-index and the results table: every held-out score of this model, its task's data named as it is
    if summary:
        model = next(m["name"] for m in summary["models"] if m.get("path") and Path(m["path"]) == checkpoint_dir)
        problems += audit_results(card, summary, model)

    # links: to the target Hub, or sentence-transformers' documentation; never a repo on huggingface.co
    for url in re.findall(r"\]\((\S+?)\)", text):
        ok = url.startswith(endpoint) or url.startswith(DOC_LINKS + DOC_LINKS_HF) or url in files
        check(ok, f"link {url} is neither on {endpoint} nor documentation nor a file of the repo")
    return problems


def audit_results(card, summary: dict, model: str) -> list[str]:
    """The card's ``model-index`` and results table against eval's ``summary.json`` for ``model``: every score
    on a held-out split is in model-index with its data named as it is; a score on a split the model trained on
    (eval's ``leaks``) is only in the table, marked, with the reason it is not in model-index."""
    problems: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    text, scores = card.text, summary["scores"][model]
    leaked = {leak["task"] for leak in summary.get("leaks") or [] if leak.get("model") == model}
    stated = {(result.task_name, result.metric_type): result for result in card.data.eval_results or []}
    in_index = sorted({name for name, _ in stated if name in leaked})
    check(not in_index, f"model-index holds not-held-out scores of {in_index} (eval's leaks)")
    wanted = {
        (t["name"], k)
        for t in summary["tasks"]
        if t["name"] not in leaked
        for k in METRICS
        if k in (scores.get(t["name"]) or {})
    }
    held_out = {key for key in stated if key[0] not in leaked}
    check(held_out == wanted, f"model-index holds {sorted(held_out ^ wanted)} wrongly")
    table = text[text.find("## Evaluation results") :]
    if leaked:
        check(
            "left out of the card's `model-index`" in table,
            "the table does not say why marked rows are not in model-index",
        )
    for task in summary["tasks"]:
        named, split = expected_dataset(task), (task.get("dataset") or {}).get("split", "test")
        for key in METRICS:
            result = stated.get((task["name"], key))
            if result is None or key not in scores.get(task["name"], {}):
                continue
            check(math.isclose(result.metric_value, scores[task["name"]][key], abs_tol=1e-5), f"{task['name']} {key}")
            check(result.dataset_type == named["type"], f"{task['name']}: dataset {result.dataset_type}")
            check(result.dataset_revision == named["revision"], f"{task['name']}: revision {result.dataset_revision}")
            check(result.dataset_split == split, f"{task['name']}: split {result.dataset_split}")
            check(("not MTEB" in result.dataset_name) != named["mteb"], f"{task['name']}: MTEB claim")
        where = named["type"] + (f"@{named['revision']}" if named["revision"] else "")
        row = " | ".join(f"{scores[task['name']][k]:.4f}" for k in METRICS)
        # a score on a split this model trained on (eval's `leaks`) is marked as such, and only then
        shown = f"{split} {NOT_HELD_OUT}" if task["name"] in leaked else split
        check(f"| {where} | {shown} | {row} |" in table, f"results table row of {task['name']}")
    return problems
