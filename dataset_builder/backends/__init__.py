"""LLM backends behind one interface (:class:`~dataset_builder.backends.base.Backend`)."""

from __future__ import annotations

from rankladder.dataset_builder.backends.base import Backend, GenerationRequest, GenerationResult, Sampling

BACKENDS = ("transformers", "vllm", "openai")
#: options that say where a backend runs and how hard it pushes, not what it generates: a run (or its
#: judgements) resumes with other values, e.g. with other servers after all of its servers went down
PLACEMENT_OPTIONS = frozenset({"base_url", "concurrency", "max_retries", "timeout", "recheck_seconds"})
#: each backend's own defaults: an option recorded at its default is the same run as one not recorded (the
#: release YAML used to record ``{}`` where the CLI recorded ``{"device": "auto"}``: both resume either way)
BACKEND_DEFAULTS = {
    "transformers": {"device": "auto", "gguf_file": None},
    "vllm": {"tensor_parallel_size": 1, "pipeline_parallel_size": 1, "data_parallel_size": 1, "dtype": "auto"},
}


def resumable_identity(identity: dict) -> dict:
    """A run's or judgement's identity as compared on resume: ``backend_options`` without API keys, without
    :data:`PLACEMENT_OPTIONS` and without options at the backend's default (the manifest records them all)."""
    options = identity.get("backend_options")
    if not isinstance(options, dict):
        return identity
    defaults = BACKEND_DEFAULTS.get(identity.get("backend"), {})
    kept = {
        k: v
        for k, v in options.items()
        if "key" not in k.lower() and k not in PLACEMENT_OPTIONS and (k not in defaults or defaults[k] != v)
    }
    return {**identity, "backend_options": kept}


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


__all__ = [
    "BACKENDS",
    "PLACEMENT_OPTIONS",
    "Backend",
    "GenerationRequest",
    "GenerationResult",
    "Sampling",
    "create_backend",
    "resumable_identity",
]
