"""Regenerate ``docs/CARD_FACTS.md``: one published dataset card and one published model card, rendered by the
commands themselves, and the source of every fact they state.

It runs the card audits' mixed-source shape (``tests/card_fixtures.py``: build a synthetic dataset, mine BM25
negatives from a Cranfield slice, train 1 step on both with ``--sources``, evaluate), publishes the dataset and
the model to the loopback Hub (``tests/hubserver``) with ``rankladder publish``, reads both cards back with
huggingface_hub, audits them (``tests/card_audit.py``, ``tests/card_audit_model.py``: it stops if a fact is
false) and writes the page. Offline, CPU, a few minutes::

    .venv/bin/python -m tools.card_facts            # writes docs/CARD_FACTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DATASET_FACTS = """\
| fact | where in the card | source | checked by `audit_dataset_card` against |
|---|---|---|---|
| version, tag | YAML `rankladder.version`; release line | dataset manifest `version`; tag from `publish --version` | the tag in the Hub's `list_repo_refs` |
| content hash | YAML `rankladder.content_hash`; "Statistics" | dataset manifest `content_hash` | each parquet file downloaded from the Hub: sha256 = manifest `files.*.shards[].sha256` |
| release link, licence | release line; YAML `license` | `HF_ENDPOINT` + repo + tag; `publish --license` | link starts with the target Hub, never huggingface.co |
| queries / documents, per level, train / dev | first paragraph | stats.json `counts` | rows of the `queries`, `corpus`, `lists/*` parquet files on the Hub; `levels` column |
| what the grades are | first paragraph | manifest `build.labels` (+ `judge.model`, `build.max_disagreement`) | policy wording; judge id; for `agree`, max \\|`intended_levels` − `judge_grades`\\| in the files ≤ the K stated |
| level ladder | table after the first paragraph | manifest `levels` (the runs' `levels.yaml`) | manifest `levels`: value and name per row |
| queries file, sha256, used / available, duplicates dropped | "Queries" | run manifests `queries` | run manifests; no folder of this machine |
| generators (model, backend, revision, sampling), prompt | "Generators" | run manifests `model`, `config`, `prompt_template` | the set of run manifests' `model.id`; no `None` |
| `configs:` data files | YAML | manifest `files` | the Hub's file list |
| config table: rows, columns per file | "Configs" | parquet metadata (`num_rows`, schema) | each file read back from the Hub |
| loading snippet | "How to load" | repo, tag | repo@tag; configs the YAML declares |
| merged runs: rule, model, records read / kept | "Merged runs" (several RUN_DIRs) | manifest `merge` | records in each RUN_DIR's files; kept sum = corpus rows; keep-all keeps all |
| judge: model, backend, prompt hash, matrix, κ, plot | "Intended vs judged relevance" | manifest `judge` (judge manifests); stats.json `labels` | manifest `judge`; stats.json matrix rows and κ; `agreement.png` on the Hub |
| failed attempts by reason | "Validation and degeneration filters" | stats.json `counts.failed_attempts_by_reason` | not audited |
| "levels are ordered" | "Level separability" (with `--separability`) | stats.json `separability` | `tests/test_cards_claims.py` |
"""

MODEL_FACTS = """\
| fact | where in the card | source | checked by `audit_model_card` against |
|---|---|---|---|
| version, tag | "rankladder release"; usage snippet | `publish --version` | the tag in the Hub's refs; snippet loads repo@tag |
| base model | YAML `base_model`; "Base model" lines | train manifest `base_model`, `base_model_source` (package, version, weights sha256) | train manifest |
| training dataset: repo, tag, version, content hash | YAML `datasets`; "Training dataset" | train manifest `dataset`, verified on the Hub by `publish` (`hub_claims`) | the dataset repo's tags and its `rankladder_manifest.json` on the Hub (content hash, version) |
| training sources (mixed) | "Training sources" | train manifest `sources`, `inputs[].content_hash`, `collection_splits` | train manifest; names portable (`local:<folder>`), one per source |
| loss, loss config, seed, training arguments | "rankladder release" | train manifest `loss`, `seed`, `training_args` (`output_dir` named portably) | train manifest, key by key |
| model-index entries: task, dataset id, revision, split, metric values | YAML `model-index` | eval `summary.json` (`tasks`, `scores`), held-out scores only | summary scores (±1e-5); MTEB task → mteb's registry; local folder → `local/<name>`, no revision, "not MTEB"; no score of a task in eval's `leaks` for this model |
| results table | "Evaluation results" | eval `summary.json` | summary scores to 4 decimals, same dataset names; a row in eval's `leaks` marked "⚠ not held out", with the note saying it is left out of model-index |
| provenance block | "rankladder training provenance" | train manifest (written by `train`), paths made portable by `publish` | one name per distinct source |
| model files, uploaded manifest | (repo files) | the checkpoint folder | sha256 of each Hub file = the checkpoint's; uploaded manifest = portable copy |
| sentence-transformers' own sections (widget, hyperparameters, logs, versions) | body | sentence-transformers' card | only: no machine path, links to the target Hub or documentation |
"""


def _fence(text: str) -> str:
    return "````markdown\n" + text.rstrip() + "\n````"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "CARD_FACTS.md"))
    shared = os.environ.get("RANKLADDER_SHARED_DATASETS", str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--cranfield", default=str(Path(shared) / "cranfield"))
    args = parser.parse_args(argv)

    from tests.helpers.hubserver.client import TOKEN
    from tests.helpers.hubserver.server import HubServer

    with tempfile.TemporaryDirectory(prefix="card-facts-") as tmp, HubServer(Path(tmp) / "hub") as hub:
        work = Path(tmp) / "work"
        work.mkdir()
        # huggingface_hub reads these at import: set before anything imports it
        os.environ.update(
            HF_ENDPOINT=hub.endpoint,
            HF_HUB_DISABLE_XET="1",
            HF_HUB_OFFLINE="0",
            HF_TOKEN=TOKEN,
            HF_HOME=str(Path(tmp) / "hf_home"),
            HF_DATASETS_CACHE=str(Path(tmp) / "datasets_cache"),
        )
        from huggingface_hub import HfApi

        from rankladder.cli import main as rankladder
        from rankladder.dataset_builder.runfiles import manifests
        from tests.helpers.card_audit import audit_dataset_card
        from tests.helpers.card_audit_model import audit_model_card
        from tests.helpers.card_fixtures import mixed_sources

        os.chdir(work)
        made = mixed_sources(work, Path(args.cranfield))
        publish = ["publish", "dataset", str(made["ladder"]), "--repo", "org/ladder", "--version", "0.1.0"]
        assert rankladder([*publish, "--license", "mit"]) == 0
        publish = ["publish", "model", str(made["model"]), "--repo", "org/mixed", "--version", "0.1.0"]
        assert (
            rankladder(
                [*publish, "--license", "mit", "--dataset-repo", "org/ladder", "--results", str(made["results"])]
            )
            == 0
        )

        api = HfApi(endpoint=hub.endpoint, token=TOKEN)
        runs = [json.loads(p.read_text()) for p in manifests(work / "run")]
        problems = audit_dataset_card(api, hub.endpoint, "org/ladder", "v0.1.0", runs)
        problems += audit_model_card(api, hub.endpoint, "org/mixed", "v0.1.0", made["model"], made["results"])
        if problems:
            print("card audit failed:\n" + "\n".join(problems), file=sys.stderr)
            return 1
        cards = [
            Path(api.hf_hub_download(repo, "README.md", repo_type=kind, revision="v0.1.0")).read_text()
            for repo, kind in (("org/ladder", "dataset"), ("org/mixed", "model"))
        ]
        endpoint = hub.endpoint

    port_free = [card.replace(endpoint, "http://127.0.0.1:PORT") for card in cards]
    page = f"""# Card facts: what a published card states, and where each fact comes from

Generated by `tools/card_facts.py` (do not edit by hand; re-run it). It builds a synthetic dataset from
`tests/data/graded_documents.jsonl`, mines BM25 negatives from a 3-query slice of Cranfield, trains
all-MiniLM-L6-v2 for 1 step on both (`rankladder train --sources`), evaluates it, publishes the dataset
(`rankladder publish dataset ... --repo org/ladder --version 0.1.0`) and the model (`rankladder publish model
... --repo org/mixed --version 0.1.0 --dataset-repo org/ladder --results EVAL_DIR`) to the loopback Hub of the
tests, reads both README.md files back at tag `v0.1.0`, and audits every fact (`tests/card_audit.py`,
`tests/card_audit_model.py`): both audits found nothing false. The cards are pasted as the Hub served them; only
the loopback Hub's port is written `PORT`.

## Dataset card facts

{DATASET_FACTS}
## Model card facts

{MODEL_FACTS}
## The published dataset card (`org/ladder`, tag `v0.1.0`)

{_fence(port_free[0])}

## The published model card (`org/mixed`, tag `v0.1.0`)

{_fence(port_free[1])}
"""
    Path(args.out).write_text(page, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
