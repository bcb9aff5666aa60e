"""LLM backends behind one interface (:class:`~dataset_builder.backends.base.Backend`)."""

from __future__ import annotations

from rankladder.dataset_builder.backends.base import Backend, GenerationRequest, GenerationResult, SamplingConfig

BACKENDS = ("transformers", "vllm", "openai")


def create_backend(name: str, **options) -> Backend:
    """Instantiate a backend by name; options are the backend's own keyword arguments."""
    from rankladder.core.errors import UserError

    if name == "transformers":
        from rankladder.dataset_builder.backends.transformers_backend import TransformersBackend as cls
    elif name == "vllm":
        from rankladder.dataset_builder.backends.vllm_backend import VLLMBackend as cls
    elif name == "openai":
        from rankladder.dataset_builder.backends.openai_backend import OpenAIBackend as cls
    else:
        raise UserError(f"unknown backend {name!r} (choose from {', '.join(BACKENDS)})")
    return cls(**options)


__all__ = ["BACKENDS", "Backend", "GenerationRequest", "GenerationResult", "SamplingConfig", "create_backend"]
