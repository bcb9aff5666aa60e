"""Mined real data mixed with synthetic, audited end to end: ``rankladder mine`` on a slice of Cranfield, a
synthetic dataset built and published to the loopback Hub, a model trained on both (``train --sources``),
evaluated, published with ``publish model --dataset-repo --results``; the mined card and the model card (YAML
with model-index, and body) read back and every fact checked (``card_audit``, ``card_audit_model``).

``build`` takes RUN_DIRs only, so mined and synthetic data mix in training (``--sources``), not in a dataset:
the mined folder's own card is audited, and the model card must name both sources.
"""

from __future__ import annotations

import json

import pytest

from rankladder.cli import main
from tests.helpers.card_audit import audit_mined_card
from tests.helpers.card_audit_model import audit_model_card
from tests.helpers.card_fixtures import mixed_sources
from tests.helpers.hubserver.client import TOKEN

pytestmark = pytest.mark.slow  # mine + train + eval with MiniLM: minutes; .ci/run runs it (make test-slow)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, shared_datasets):
    """Synthetic dataset + mined Cranfield slice → a model trained on both (1 step) → its eval results."""
    return mixed_sources(tmp_path_factory.mktemp("mixed"), shared_datasets / "cranfield")


def test_mined_card_states_only_what_its_files_hold(mixed):
    """The mined card used to name its collection by the user's absolute path, and stated no counts or hashes."""
    assert audit_mined_card(mixed["mined"], mixed["collection"]) == []


def _api(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=TOKEN)


def test_model_trained_on_synthetic_and_mined_sources_card_tells_the_truth(hub, hub_env, mixed):
    """Published model card audited against the train manifest, eval's summary, the dataset repo on the Hub and
    the model files. It used to rename the mined source as the dataset repo (``org/ladder`` twice), name only one
    of the two sources, and carry the Trainer's ``output_dir`` (a path of this machine) in the training arguments."""
    from huggingface_hub import ModelCard

    publish = ["publish", "dataset", str(mixed["ladder"]), "--repo", "org/ladder", "--version", "0.1.0"]
    assert main([*publish, "--license", "mit"]) == 0
    argv = ["publish", "model", str(mixed["model"]), "--repo", "org/mixed", "--version", "0.1.0", "--license", "mit"]
    assert main([*argv, "--dataset-repo", "org/ladder", "--results", str(mixed["results"])]) == 0
    api = _api(hub)
    audit = (api, hub.endpoint, "org/mixed", "v0.1.0", mixed["model"], mixed["results"])
    assert audit_model_card(*audit) == []

    # a false fact planted in the card on the Hub (public API: upload, move the tag) fails the audit
    card = ModelCard.load(api.hf_hub_download("org/mixed", "README.md", revision="v0.1.0"))
    seed = json.loads((mixed["model"] / "rankladder_train_manifest.json").read_text())["seed"]
    planted = card.content.replace(f"- **Seed:** {seed}", f"- **Seed:** {seed + 1}", 1)
    assert planted != card.content
    commit = api.upload_file(path_or_fileobj=planted.encode(), path_in_repo="README.md", repo_id="org/mixed")
    api.delete_tag("org/mixed", tag="v0.1.0")
    api.create_tag("org/mixed", tag="v0.1.0", revision=commit.oid)
    assert audit_model_card(*audit) == ["seed"]

    # more planted facts, one at a time: YAML model-index, the dataset's tag and hash, a source, a link
    first = card.data.eval_results[0]
    for true, false in (
        (f"value: {round(first.metric_value, 5)}", f"value: {round(first.metric_value + 0.01, 5)}"),
        ("@ `v0.1.0` (version 0.1.0)", "@ `v0.2.0` (version 0.1.0)"),
        ("`local:mined`, split `train`", "`org/ladder`, split `train`"),
        ("split of `local:cranfield-slice`", "split of `local:scifact`"),
        (f"({hub.endpoint}/datasets/org/ladder/tree/v0.1.0)", "(https://huggingface.co/datasets/org/ladder)"),
        ("type: local/ladder", "type: mteb/ladder"),  # cranfield-slice is not held out: not in model-index
    ):
        assert true in card.content, true
        wrong = ModelCard(card.content.replace(true, false, 1))
        assert audit_model_card(*audit, card=wrong), false


def test_each_source_keeps_its_own_portable_name():
    """A pinned Hub source stays pinned; a local folder is ``local:<name>``; only the training dataset's own
    folder takes the dataset's repo (the mined folder used to be renamed to it)."""
    from rankladder.model_cards.model_sources import source_names

    manifest = {
        "dataset": {"path_or_repo": "/home/me/ladder"},
        "sources": [{"path": "/home/me/ladder"}, {"path": "/home/me/mined"}, {"path": "org/real@v2.0.0"}],
    }
    assert source_names(manifest, "org/ladder") == {
        "/home/me/ladder": "org/ladder",
        "/home/me/mined": "local:mined",
        "org/real@v2.0.0": "org/real@v2.0.0",
    }
