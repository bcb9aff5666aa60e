"""A submission bundle for the MTEB leaderboard, in the embeddings-benchmark/results repo layout.

::

    BUNDLE/
      results/<org>__<name>/<revision>/<Task>.json   # mteb TaskResult files, unchanged
      results/<org>__<name>/<revision>/model_meta.json  # ModelMeta.to_dict(), as mteb's ResultCache writes it
      model_meta_snippet.py                           # ModelMeta.to_python(): the entry for mteb/models/
      README.md                                       # how to submit

The ``ModelMeta`` is built and validated by mteb itself (a bad license, language or name fails here,
not in the leaderboard's review), starting from the ``model_meta.json`` that ``rankladder eval`` wrote.
"""

from __future__ import annotations

import json
import shutil
import typing
from pathlib import Path

from rankladder.core.errors import UserError

TRAINING_CODE = "https://github.com/rankladder/rankladder"
SNIPPET_HEADER = """from mteb.models.model_meta import ModelMeta, ScoringFunction
from mteb.models.sentence_transformer_wrapper import sentence_transformers_loader

"""


def mteb_license(license: str | None) -> str | None:
    """``license`` if mteb's ``ModelMeta`` accepts it, else "not specified" (mteb knows fewer than the Hub)."""
    from mteb.types import Licenses

    if license is None:
        return None
    return license if license in typing.get_args(Licenses) else "not specified"


def build_model_meta(
    eval_meta: dict,
    name: str,
    revision: str,
    license: str | None,
    training_data: str | None,
    adapted_from: str | None,
    endpoint: str = "https://huggingface.co",
):
    """mteb's ``ModelMeta`` for the published model: eval's measured fields + the release's names."""
    from mteb.models import ModelMeta
    from mteb.models.sentence_transformer_wrapper import sentence_transformers_loader
    from pydantic import ValidationError

    known = set(ModelMeta.model_fields) - {"loader"}
    data = {key: value for key, value in eval_meta.items() if key in known}
    for key in ("release_date", "n_parameters", "memory_usage_mb", "max_tokens", "embed_dim"):
        data.setdefault(key, None)
    data.setdefault("languages", ["eng-Latn"])
    data.setdefault("similarity_fn_name", "cosine")
    data |= {
        "loader": sentence_transformers_loader,
        "name": name,
        "revision": revision,
        "license": mteb_license(license),
        "open_weights": True,
        "public_training_code": TRAINING_CODE,
        "public_training_data": f"{endpoint}/datasets/{training_data}" if training_data else None,
        "framework": ["Sentence Transformers", "PyTorch"],
        "reference": f"{endpoint}/{name}",
        "use_instructions": False,
        # mteb task names only: the synthetic training set is none, the base model's own come via adapted_from
        "training_datasets": set(data.get("training_datasets") or ()),
        "adapted_from": adapted_from,
    }
    try:
        return ModelMeta.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise UserError(f"leaderboard ModelMeta: field {field!r}: {error['msg']}") from None


def model_meta_snippet(meta) -> str:
    """Python source that rebuilds ``meta`` (mteb's own ``to_python``), ready for mteb/models/."""
    var = "".join(c if c.isalnum() else "_" for c in meta.name.split("/")[-1]).lower()
    return SNIPPET_HEADER + f"{var} = {meta.to_python()}\n"


def fill_bundle(bundle_dir: Path, result_files: list[Path], meta) -> None:
    """Write the bundle for ``meta`` (name, revision) into the (empty) folder ``bundle_dir``."""
    folder = Path(bundle_dir) / "results" / meta.name.replace("/", "__") / meta.revision
    folder.mkdir(parents=True, exist_ok=True)
    for path in result_files:
        if path.name != "model_meta.json":
            shutil.copy2(path, folder / path.name)
    (folder / "model_meta.json").write_text(json.dumps(meta.to_dict(), default=str, indent=4) + "\n")
    (Path(bundle_dir) / "model_meta_snippet.py").write_text(model_meta_snippet(meta))
    (Path(bundle_dir) / "README.md").write_text(
        f"# MTEB submission: {meta.name}\n\n"
        "1. Copy `results/` into a fork of https://github.com/embeddings-benchmark/results and open a PR.\n"
        "2. Add `model_meta_snippet.py`'s `ModelMeta` to `mteb/models/` in a fork of "
        "https://github.com/embeddings-benchmark/mteb and open a PR.\n"
        "3. `training_datasets` lists mteb task names only: add the tasks whose training data you used "
        "(e.g. MSMARCO when the queries came from MS MARCO train).\n"
    )
