"""Graded list-wise losses for SentenceTransformer bi-encoders, one per file.

Every loss takes rows ``(query, doc_0, ..., doc_{G-1})`` with float ``labels`` of shape ``(batch, G)``
and scores each query against *all* in-batch documents; other queries' documents count as label 0.
"""

from rankladder.training.losses.infonce import GradedInfoNCELoss
from rankladder.training.losses.listnet import GradedListNetLoss
from rankladder.training.losses.wasserstein import OrdinalWassersteinLoss
from rankladder.training.losses.ws2 import WS2Loss

LOSSES = {
    "ws2": WS2Loss,
    "wasserstein": OrdinalWassersteinLoss,
    "listnet": GradedListNetLoss,
    "infonce": GradedInfoNCELoss,
}

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
