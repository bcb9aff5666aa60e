"""Test support: a loopback Hugging Face Hub (``server``) and tiny stage outputs (``inputs``)."""

from .server import HubServer  # noqa: F401
