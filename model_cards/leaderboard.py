"""A submission bundle for the MTEB leaderboard, in the embeddings-benchmark/results repo layout.

::

    BUNDLE/
      results/<org>__<name>/<revision>/<Task>.json   # mteb TaskResult files, unchanged
      results/<org>__<name>/<revision>/model_meta.json
      model_meta_snippet.py                           # the ModelMeta to add to mteb/models/
      README.md                                       # how to submit
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

SNIPPET = '''from mteb.models.model_meta import ModelMeta
from mteb.models.sentence_transformer_wrapper import sentence_transformers_loader

{var} = ModelMeta(
    loader=sentence_transformers_loader,
    name={name!r},
    revision={revision!r},
    release_date={release_date!r},
    languages={languages!r},
    n_parameters={n_parameters!r},
    memory_usage_mb=None,
    max_tokens={max_tokens!r},
    embed_dim={embed_dim!r},
    license={license!r},
    open_weights=True,
    public_training_code="https://github.com/rankladder/rankladder",
    public_training_data={training_data!r},
    framework=["Sentence Transformers", "PyTorch"],
    reference="https://huggingface.co/{name}",
    similarity_fn_name="cosine",
    use_instructions=False,
    training_datasets={training_datasets!r},
    adapted_from={adapted_from!r},
)
'''


def model_meta_snippet(meta: dict) -> str:
    var = "".join(c if c.isalnum() else "_" for c in meta["name"].split("/")[-1]).lower()
    return SNIPPET.format(var=var, **meta)


def write_bundle(bundle_dir: Path, model_name: str, revision: str, result_files: list[Path], meta: dict) -> Path:
    """Copy the result JSONs into the results-repo layout and write the ModelMeta snippet."""
    bundle_dir = Path(bundle_dir)
    folder = bundle_dir / "results" / model_name.replace("/", "__") / revision
    folder.mkdir(parents=True, exist_ok=True)
    for path in result_files:
        if path.name != "model_meta.json":
            shutil.copy2(path, folder / path.name)
    file_meta = {k: meta[k] for k in ("name", "revision", "release_date", "languages", "n_parameters",
                                      "max_tokens", "embed_dim", "license")}
    file_meta |= {"framework": ["Sentence Transformers", "PyTorch"], "open_weights": True,
                  "similarity_fn_name": "cosine", "use_instructions": False}
    (folder / "model_meta.json").write_text(json.dumps(file_meta, indent=2) + "\n")
    (bundle_dir / "model_meta_snippet.py").write_text(model_meta_snippet(meta))
    (bundle_dir / "README.md").write_text(
        f"# MTEB submission: {model_name}\n\n"
        "1. Copy `results/` into a fork of https://github.com/embeddings-benchmark/results and open a PR.\n"
        "2. Add `model_meta_snippet.py`'s `ModelMeta` to `mteb/models/` in a fork of "
        "https://github.com/embeddings-benchmark/mteb and open a PR.\n")
    return bundle_dir
