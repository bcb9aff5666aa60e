"""The model card: sentence-transformers' automatic card, plus what it lacks.

Added between HTML-comment markers (so re-rendering replaces, never duplicates):
the training dataset repo@tag and version, the loss and its config, a usage snippet, and the
results table from ``rankladder eval`` with matching ``model-index`` YAML entries.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from rankladder.core.errors import UserError, located
from rankladder.model_cards.base_model import base_model_provenance, describe, is_local_path
from rankladder.model_cards.inputs import TRAIN_MANIFEST
from rankladder.model_cards.licenses import check_license
from rankladder.model_cards.model_sources import local_name, source_names, sources_lines
from rankladder.model_cards.portable import portable

START, END = "<!-- rankladder:start -->", "<!-- rankladder:end -->"
RES_START, RES_END = "<!-- rankladder-results:start -->", "<!-- rankladder-results:end -->"
METRICS = (
    ("ndcg_at_10", "nDCG@10"),
    ("mrr_at_10", "MRR@10"),
    ("recall_at_100", "Recall@100"),
    ("main_score", "main score"),
)
REQUIRED = ("license", "library_name", "base_model", "pipeline_tag")
SYCL_TAGS = ("sentence-transformers", "rankladder", "sycl", "graded-relevance", "list-wise")
# sentence-transformers' usage snippet loads `SentenceTransformer("<model_id>")`, with the placeholder
# "sentence_transformers_model_id" when no model_id was set: retargeted to the repo being published
ST_INTRO = "This is a [sentence-transformers](https://www.SBERT.net) model"
ST_NO_BASE = "<!-- - **Base model:** [Unknown](https://huggingface.co/unknown) -->"
ST_LOAD = re.compile(r"""SentenceTransformer\((["'])[^"'\n]*\1\)""")


def _replace_block(text: str, start: str, end: str, block: str, before: str | None = None) -> str:
    block = f"{start}\n{block.strip()}\n{end}"
    if start in text and end in text:
        return re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.DOTALL)
    if before and before in text:
        return text.replace(before, f"{block}\n\n{before}", 1)
    return text.rstrip() + f"\n\n{block}\n"


def dataset_ref(manifest: dict, dataset_repo: str | None = None, links: dict | None = None) -> tuple[str | None, str]:
    """(Hub repo id for the card's ``datasets:`` or None, the markdown naming the training dataset).

    ``links`` is what publish verified on the target Hub (``hub_claims``): a dataset is linked only when
    ``links["dataset"]`` holds it. Without ``links`` (a dry run contacts nothing) a given ``--dataset-repo``
    is named unlinked and marked unchecked; a dataset that is not on the Hub is named by its folder's name
    (never a machine path) and said to be local.
    """
    ds = manifest.get("dataset") or {}
    link = (links or {}).get("dataset")
    recorded = str(ds.get("path_or_repo") or "")
    revision = ds.get("revision") or (f"v{ds['version']}" if ds.get("version") else None)
    hub_like = bool(recorded) and not is_local_path(recorded)
    at = f" @ `{revision}`" if revision else ""
    if link is not None:
        repo, text = link.repo, f"[`{link.repo}`]({link.url}) @ `{link.revision}`"
    elif links is None and (dataset_repo or hub_like):
        repo = dataset_repo or recorded
        text = f"`{repo}`{at} (not checked against the Hub: dry run)"
    elif hub_like:  # looked up on the target Hub: not there with this content hash
        repo, text = None, f"`{recorded}`{at} (not on the target Hub with the recorded content hash: not linked)"
    else:
        repo = None
        name = Path(recorded).name if recorded else "not recorded"
        text = f"local dataset `{name}` (not published on the target Hub)"
    if ds.get("version"):
        text += f" (version {ds['version']})"
    if ds.get("content_hash"):
        text += f", content hash `{ds['content_hash'][:16]}`"
    return repo, text


def base_model_of(manifest: dict, checkpoint_dir: Path, base_model: str | None = None) -> dict:
    """Provenance of the base model (``base_model.base_model_provenance``) with a Hub id, or a UserError.

    Reads both manifest forms: ``rankladder train`` now records ``base_model`` as a Hub id with
    ``base_model_source`` (``{package, version, weights_sha256}`` or ``{local_path}`` or ``{hub}``);
    older manifests hold the local folder itself (the packaged MiniLM in site-packages). ``base_model``
    (``--base-model``) names the Hub id when the folder is not one we recognise.
    """
    name, source = str(manifest["base_model"]), manifest.get("base_model_source") or {}
    provenance = base_model_provenance(source.get("local_path") or name)
    if not provenance["hub_id"] and not is_local_path(name):
        provenance["hub_id"] = name
    if source.get("package"):
        provenance |= {
            "package": source["package"],
            "package_version": source.get("version"),
            "weights_sha256": source.get("weights_sha256") or provenance["weights_sha256"],
        }
    if base_model:
        provenance["hub_id"] = base_model
    if not provenance["hub_id"]:
        raise located(
            Path(checkpoint_dir) / TRAIN_MANIFEST,
            f"{name} is a local folder with no known Hub id; pass --base-model ORG/NAME",
            field="base_model",
        )
    return provenance


def training_section(
    manifest: dict,
    repo_id: str,
    version: str,
    dataset_repo: str | None = None,
    base: dict | None = None,
    links: dict | None = None,
) -> str:
    repo, ds_text = dataset_ref(manifest, dataset_repo, links)
    recorded = str((manifest.get("dataset") or {}).get("path_or_repo") or "")
    base_text = describe(base, (links or {}).get("base_model")) if base else f"`{manifest.get('base_model')}`"
    loss = manifest.get("loss") or {}
    args = manifest.get("training_args") or {}
    lines = [
        "## rankladder release",
        "",
        f"- **Version:** {version} (tag `v{version}`)",
        f"- **Base model:** {base_text}",
        f"- **Training dataset:** {ds_text}",
        *sources_lines(manifest, repo or (local_name(recorded) if recorded else None)),
        f"- **Loss:** `{loss.get('name', 'unknown')}`",
        f"- **Seed:** {manifest.get('seed', 'unknown')}",
        "",
        "Loss config:",
        "",
        "```json",
        json.dumps(loss.get("config") or {}, indent=2, sort_keys=True),
        "```",
        "",
    ]
    if args:
        # the Trainer records its output_dir (a folder of this machine): named portably, as in the uploaded manifest
        args = json.dumps(portable(args), indent=2, sort_keys=True)
        lines += ["Training arguments:", "", "```json", args, "```", ""]
    lines += [
        "### Usage",
        "",
        "```python",
        "from sentence_transformers import SentenceTransformer",
        "",
        f'model = SentenceTransformer("{repo_id}", revision="v{version}")',
        'query = model.encode_query(["how do plants use light?"])',
        'docs = model.encode_document(["Photosynthesis turns light into chemical energy."])',
        "print(model.similarity(query, docs))",
        "```",
    ]
    return "\n".join(lines)


def mteb_dataset(task: dict) -> dict | None:
    """mteb's ``{"path", "revision"}`` when ``task`` is the registered MTEB task of that name on that data,
    else None (a local BEIR folder or a built dataset that happens to share a name is not MTEB)."""
    import mteb

    try:
        meta = mteb.get_task(task["name"]).metadata
    except (KeyError, ValueError):
        return None
    recorded = (task.get("dataset") or {}).get("path_or_repo")
    return meta.dataset if recorded in (None, meta.dataset["path"]) else None


def task_dataset(task: dict) -> dict:
    """How a task's data is named in a card: ``{"id", "name", "revision", "mteb"}``, never a machine path.

    An MTEB task: its Hub dataset and revision. A Hub dataset (``org/name``): that id and revision. A local
    folder: ``local/<folder name>``, no revision, marked not MTEB.
    """
    ds = task.get("dataset") or {}
    known = mteb_dataset(task)
    if known:
        return {"id": known["path"], "name": f"MTEB {task['name']}", "revision": known["revision"], "mteb": True}
    recorded = str(ds.get("path_or_repo") or "")
    if recorded and not is_local_path(recorded):
        repo = recorded.split("@")[0]
        return {"id": repo, "name": f"{task['name']} (not MTEB)", "revision": ds.get("revision"), "mteb": False}
    name = Path(recorded.split("@")[0]).name if recorded else task["name"]
    return {
        "id": f"local/{name}",
        "name": f"{task['name']} (local collection, not MTEB)",
        "revision": None,
        "mteb": False,
    }


NOT_HELD_OUT = "⚠ not held out"
# why a marked row has no model-index entry (leaderboards and Papers with Code read model-index, not the table)
LEFT_OUT = (
    "These scores are left out of the card's `model-index` metadata, which leaderboards read as held-out results."
)


def results_table(tasks: list[dict], scores: dict, leaks: list[dict] = ()) -> str:
    """The card's results table. ``leaks``: eval's ``leaks`` entries for this model (a task scored on a
    collection split the model was trained or mined on): those rows are marked and explained below the table."""
    leaked = {leak["task"]: leak for leak in leaks}
    head = "| task | dataset | split | " + " | ".join(label for _, label in METRICS) + " |"
    rows, notes = [head, "|---|---|---|" + "---:|" * len(METRICS)], []
    for task in tasks:
        task_scores = scores.get(task["name"])
        if not task_scores:
            continue
        ds, named = task.get("dataset") or {}, task_dataset(task)
        cells = [f"{task_scores[k]:.4f}" if isinstance(task_scores.get(k), (int, float)) else "–" for k, _ in METRICS]
        where = named["id"] + (f"@{named['revision']}" if named["revision"] else "")
        split = ds.get("split", "test")
        if task["name"] in leaked:
            leak = leaked[task["name"]]
            split += f" {NOT_HELD_OUT}"
            notes.append(f"{named['name']} `{leak['split']}` split ({_portable_words(leak.get('via', ''))})")
        rows.append(f"| {named['name']} | {where} | {split} | " + " | ".join(cells) + " |")
    if notes:
        notes = [
            "",
            f"**{NOT_HELD_OUT}:** this model was trained on data drawn from the split it is scored on in the rows "
            "so marked, so those scores measure what it saw in training, not retrieval on unseen queries: "
            + "; ".join(notes)
            + f". {LEFT_OUT}",
        ]
    return "\n".join(
        [
            "## Evaluation results (rankladder eval)",
            "",
            *rows,
            "",
            "Scores in [0, 1], computed by `rankladder eval` through mteb (pytrec_eval); main score is the task's "
            "MTEB main score (nDCG@10 for retrieval). Rows marked *not MTEB* are collections outside the MTEB "
            "benchmark, named without their local path.",
            *notes,
        ]
    )


def _portable_words(text: str) -> str:
    """``negatives mined into /home/me/mined`` -> ``negatives mined into local:mined``: no machine path leaves."""
    from rankladder.model_cards.portable import portable

    return " ".join(portable(word) for word in text.split(" "))


def eval_results(model_name: str, tasks: list[dict], scores: dict) -> list:
    """``EvalResult`` entries (-> ``model-index`` YAML) for every evaluated task, with portable dataset names."""
    from huggingface_hub import EvalResult

    out = []
    for task in tasks:
        task_scores = scores.get(task["name"]) or {}
        ds, named = task.get("dataset") or {}, task_dataset(task)
        for key, label in METRICS:
            if isinstance(task_scores.get(key), (int, float)):
                out.append(
                    EvalResult(
                        task_type=task.get("type", "Retrieval"),
                        task_name=task["name"],
                        dataset_type=named["id"],
                        dataset_name=named["name"],
                        dataset_config="default",
                        dataset_split=ds.get("split", "test"),
                        dataset_revision=named["revision"],
                        metric_type=key,
                        metric_name=label,
                        metric_value=float(task_scores[key]),
                    )
                )
    return out


def validate(card, where: str) -> None:
    data = card.data.to_dict()
    missing = [key for key in REQUIRED if not data.get(key)]
    if missing:
        hint = " (pass --license)" if "license" in missing else ""
        raise UserError(f"{where}: model card is missing required field(s) {', '.join(missing)}{hint}")
    check_license(data["license"], f"{where}: field 'license' (or pass --license)")


def retarget_body(
    text: str, repo_id: str, local_paths: dict[str, str], base_model: str | None = None, base_url: str | None = None
) -> str:
    """The card body naming the published repo: its title, its usage snippet, Hub ids for local paths.

    sentence-transformers rendered the title from ``model_card_data.model_name``, the snippet from
    ``model_id`` and the base-model lines from ``base_model`` at save time, before the repo existed (and
    offline, where it cannot look the base model up); here they name ``repo_id`` and ``base_model``.
    """
    for path, hub_id in local_paths.items():
        text = text.replace(f'"{path}"', f'"{hub_id}"').replace(f"`{path}`", f"`{hub_id}`")
    text = ST_LOAD.sub(lambda _: f'SentenceTransformer("{repo_id}")', text)
    if base_model:  # the two lines sentence-transformers' template writes when it has no base_model
        link = f"[{base_model}]({base_url})" if base_url else f"`{base_model}`"
        # sentence-transformers links the base model on huggingface.co: the target Hub's page, or no link
        text = text.replace(f"[{base_model}](https://huggingface.co/{base_model})", link)
        text = text.replace(f"{ST_INTRO} trained", f"{ST_INTRO} finetuned from {link}", 1)
        text = text.replace(ST_NO_BASE, f"- **Base model:** {link}", 1)
    head, fence, rest = text.partition("```")  # a "# " line inside a code block is a comment, not a title
    title = re.compile(r"^# .*$", re.MULTILINE)
    if title.search(head):
        return title.sub(lambda _: f"# {repo_id}", head, count=1) + fence + rest
    return f"# {repo_id}\n\n{text.lstrip()}"


def build_model_card(
    checkpoint_dir: Path,
    manifest: dict,
    repo_id: str,
    version: str,
    license: str | None = None,
    dataset_repo: str | None = None,
    base_model: str | None = None,
    links: dict | None = None,
):
    """The checkpoint's own README.md (ST auto card) enriched with the rankladder release section.

    ``links``: what publish verified on the target Hub (``{"dataset": DatasetLink | None, "base_model": url
    | None}``); None for a dry run, which contacts nothing and so links nothing it names.

    Every name in it is a Hub id: the base model (``base_model_of``), the title and usage snippet
    (``repo_id``), the training dataset (``dataset_repo`` when given).
    """
    from huggingface_hub import ModelCard

    readme = Path(checkpoint_dir) / "README.md"
    card = ModelCard.load(readme) if readme.is_file() else ModelCard("---\nlibrary_name: sentence-transformers\n---\n")
    base = base_model_of(manifest, checkpoint_dir, base_model)
    data = card.data
    data.license = license or data.license
    data.library_name = data.library_name or "sentence-transformers"
    data.pipeline_tag = data.pipeline_tag or "sentence-similarity"
    data.base_model = base["hub_id"]
    repo, _ = dataset_ref(manifest, dataset_repo, links)
    if isinstance(data.datasets, list):  # the trainer's record may name the local folder: only Hub ids stay
        data.datasets = [d for d in data.datasets if d != str((manifest.get("dataset") or {}).get("path_or_repo"))]
    if repo:
        data.datasets = (
            [repo, *[d for d in (data.datasets or []) if d != repo]] if isinstance(data.datasets, list) else [repo]
        )
    data.tags = list(dict.fromkeys([*(data.tags or []), *SYCL_TAGS]))
    data.model_name = repo_id
    local_paths = {str(manifest["base_model"]): base["hub_id"]} if is_local_path(str(manifest["base_model"])) else {}
    if base.get("local_path"):
        local_paths[base["local_path"]] = base["hub_id"]
    recorded = str((manifest.get("dataset") or {}).get("path_or_repo") or "")
    if recorded and recorded != repo and (is_local_path(recorded) or repo is None):  # never a machine path
        local_paths[recorded] = repo or Path(recorded.split("@")[0]).name
    # each other source by its own portable name: a mined folder is not the training dataset's repo
    for path, name in source_names(manifest, repo or (local_paths.get(recorded) if recorded else None)).items():
        if path != name:
            local_paths[path] = name
    text = retarget_body(card.text, repo_id, local_paths, base["hub_id"], (links or {}).get("base_model"))
    section = training_section(manifest, repo_id, version, dataset_repo, base, links)
    text = _replace_block(text, START, END, section, before="## Model Details")
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n{text}")
    validate(card, str(readme))
    return card


def add_results(card, model_name: str, tasks: list[dict], scores: dict, leaks: list[dict] = ()):
    """Return ``card`` with the results table and model-index replaced by these results (``leaks``: see
    :func:`results_table`; a leaked score stays in the table, marked, and is left out of model-index)."""
    from huggingface_hub import ModelCard

    data = card.data
    ours = {t["name"] for t in tasks}
    kept = [r for r in (data.eval_results or []) if r.task_name not in ours]
    leaked = {leak["task"] for leak in leaks}  # marked in the table, never in the metadata leaderboards read
    data.eval_results = kept + eval_results(model_name, [t for t in tasks if t["name"] not in leaked], scores) or None
    data.model_name = data.model_name or model_name
    text = _replace_block(card.text, RES_START, RES_END, results_table(tasks, scores, leaks), before=START)
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{text}")


def check_round_trip(card, path: Path) -> None:
    from huggingface_hub import ModelCard

    card.save(path)
    if ModelCard.load(path).data.to_dict() != card.data.to_dict():
        raise UserError(f"{path}: model card metadata does not survive a save/load round trip")
