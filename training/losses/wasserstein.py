from __future__ import annotations

import torch
from torch import Tensor

from rankladder.training.losses.base import GradedListLoss


class OrdinalWassersteinLoss(GradedListLoss):
    def __init__(
        self,
        model,
        scale: float = 20.0,
        similarity: str = "cosine",
        label_transform: str = "none",
        label_temperature: float = 1.0,
        loss_scale: float = 1.0,
        gather_across_devices: bool = False,
    ) -> None:
        """
        Per-query 1-D optimal transport (earth mover's distance) along the ordinal grade axis. For
        query ``i`` every in-batch document ``d`` sits at its grade ``g_d`` (its label; other queries'
        documents at grade 0, the lowest). The model puts mass ``p_d = softmax(scores * scale)_d`` on
        it and the target puts ``y_d = softmax(transform(labels) / label_temperature)_d``. The loss is
        the 1-Wasserstein distance between the two distributions over grades, in closed form through
        cumulative distributions: ``Σ_k |P(g ≤ g_k) − Y(g ≤ g_k)| · (g_{k+1} − g_k)``, averaged over
        queries. Moving mass one grade costs less than moving it three grades, unlike ListNet.

        Args:
            model: SentenceTransformer model
            scale: ``1 / temperature`` of the predicted distribution (default 20, T = 0.05).
            similarity: ``"cosine"`` (default) or ``"dot"``.
            label_transform: ``"none"`` or ``"exp_gain"`` (``2**l − 1``); shapes the target mass only,
                the transport positions stay the raw grades.
            label_temperature: temperature of the target softmax.
            loss_scale: factor on the loss (see :class:`~training.losses.WS2Loss` on gradient scale).
            gather_across_devices: all-gather documents across processes for more in-batch negatives.

        References:
            - WassRank: Listwise Document Ranking Using Optimal Transport Theory (Yu et al., WSDM 2019)
            - ``scipy.stats.wasserstein_distance`` (same quantity, used as the test reference)

        Requirements:
            1. A query and a group of G documents with graded (float) relevance labels.

        Inputs:
            +-------------------------------------------+--------------------------------+
            | Texts                                     | Labels                         |
            +===========================================+================================+
            | (query, doc_0, ..., doc_{G-1})            | [label_0, ..., label_{G-1}]    |
            +-------------------------------------------+--------------------------------+

        Relations:
            - :class:`~training.losses.WS2Loss` compares batch-level Gaussians instead of per-query
              distributions over grades.
            - :class:`~training.losses.GradedListNetLoss` uses the same two distributions but ignores
              the distance between grades.
        """
        super().__init__(
            model, scale, similarity, label_transform, label_temperature, loss_scale, gather_across_devices
        )

    def list_loss(self, scores: Tensor, labels: Tensor, own: Tensor | None = None) -> Tensor:
        preds = torch.softmax(scores.double() * self.scale, dim=1)
        targets = self.target_distribution(labels)
        return ordinal_wasserstein(preds, targets, labels.double()).mean().to(scores.dtype)

    @property
    def citation(self) -> str:
        return """
@inproceedings{yu2019wassrank,
    title={WassRank: Listwise Document Ranking Using Optimal Transport Theory},
    author={Yu, Hai-Tao and Jatowt, Adam and Joho, Hideo and Jose, Joemon M. and Yang, Xiao and Chen, Long},
    booktitle={Proceedings of the Twelfth ACM International Conference on Web Search and Data Mining},
    pages={24--32},
    year={2019}
}
"""


def ordinal_wasserstein(p: Tensor, y: Tensor, grades: Tensor) -> Tensor:
    """Row-wise W1 between mass ``p`` and ``y`` placed at positions ``grades`` (all ``B × N``)."""
    order = torch.argsort(grades, dim=1, stable=True)
    g = torch.gather(grades, 1, order)
    cdf_gap = torch.cumsum(torch.gather(p, 1, order) - torch.gather(y, 1, order), dim=1)
    widths = g[:, 1:] - g[:, :-1]
    return (cdf_gap[:, :-1].abs() * widths).sum(dim=1)
