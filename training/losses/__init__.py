"""Graded list-wise losses for SentenceTransformer bi-encoders, one per file.

Every loss takes rows ``(query, doc_0, ..., doc_{G-1})`` with float ``labels`` of shape ``(batch, G)``
and scores each query against *all* in-batch documents; other queries' documents count as label 0.
"""

from importlib import import_module

from rankladder.training.config import LOSS_NAMES
from rankladder.training.losses.base import GradedListLoss
from rankladder.training.losses.infonce import GradedInfoNCELoss
from rankladder.training.losses.listnet import GradedListNetLoss
from rankladder.training.losses.wasserstein import OrdinalWassersteinLoss
from rankladder.training.losses.ws2 import WS2Loss


def _loss_class(name: str) -> type[GradedListLoss]:
    """The loss class defined in ``training/losses/<name>.py`` (a loss's ``--loss`` name is its file's name)."""
    module = import_module(f"{__name__}.{name}")
    (found,) = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, GradedListLoss) and value.__module__ == module.__name__
    ]
    return found


# `--loss` name → class, from the one list of names (training.config.LossName)
LOSSES: dict[str, type[GradedListLoss]] = {name: _loss_class(name) for name in LOSS_NAMES}

__all__ = ["LOSSES", "WS2Loss", "OrdinalWassersteinLoss", "GradedListNetLoss", "GradedInfoNCELoss", "build_loss"]


def build_loss(name: str, model, **kwargs):
    """Instantiate a loss by its short name (``ws2``, ``wasserstein``, ``listnet``, ``infonce``)."""
    from rankladder.core.errors import UserError

    if name not in LOSSES:
        raise UserError(f"unknown loss {name!r} (choose from {', '.join(LOSSES)})")
    try:
        return LOSSES[name](model, **kwargs)
    except (TypeError, ValueError) as exc:
        raise UserError(f"loss {name!r}: bad option: {exc}") from exc
