from __future__ import annotations

import torch
from torch import Tensor

from rankladder.training.losses.base import GradedListLoss


class GradedInfoNCELoss(GradedListLoss):
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
        The binary baseline on graded groups: for each query, its documents at the top level of its
        group (label equal to the group's maximum) are positives; everything else in the batch — its
        lower-graded documents and all other queries' documents — is negative. Each positive gives
        ``−log softmax(scores * scale)_pos`` over all in-batch documents; these are averaged per query,
        then over queries. With exactly one top document per group this equals sentence-transformers'
        ``MultipleNegativesRankingLoss`` on ``(query, positive, negative_1, ...)``.

        Args:
            model: SentenceTransformer model
            scale: ``1 / temperature`` (default 20, T = 0.05, as MultipleNegativesRankingLoss).
            similarity: ``"cosine"`` (default) or ``"dot"``.
            label_transform: accepted for a uniform interface; the top level does not depend on it.
            label_temperature: accepted for a uniform interface; unused.
            loss_scale: factor on the loss.
            gather_across_devices: all-gather documents across processes for more in-batch negatives.

        References:
            - Representation Learning with Contrastive Predictive Coding (van den Oord et al., 2018)

        Requirements:
            1. A query and a group of G documents with graded labels (only the top level matters).

        Inputs:
            +-------------------------------------------+--------------------------------+
            | Texts                                     | Labels                         |
            +===========================================+================================+
            | (query, doc_0, ..., doc_{G-1})            | [label_0, ..., label_{G-1}]    |
            +-------------------------------------------+--------------------------------+

        Relations:
            - sentence-transformers' ``MultipleNegativesRankingLoss`` is the same loss on
              ``(anchor, positive, negatives...)`` columns (tested equal).
            - :class:`~training.losses.GradedListNetLoss` replaces the one-hot target by the graded
              label distribution.
        """
        super().__init__(
            model, scale, similarity, label_transform, label_temperature, loss_scale, gather_across_devices
        )

    def list_loss(self, scores: Tensor, labels: Tensor, own: Tensor | None = None) -> Tensor:
        if own is None:
            own = labels != 0
        own_labels = labels.masked_fill(~own, float("-inf"))
        top = own & (labels == own_labels.max(dim=1, keepdim=True).values)
        log_p = torch.log_softmax(scores.float() * self.scale, dim=1)
        per_query = -torch.where(top, log_p, torch.zeros_like(log_p)).sum(dim=1) / top.sum(dim=1).clamp(min=1)
        return per_query.mean().to(scores.dtype)

    @property
    def citation(self) -> str:
        return """
@misc{oord2019representationlearningcontrastivepredictive,
      title={Representation Learning with Contrastive Predictive Coding},
      author={Aaron van den Oord and Yazhe Li and Oriol Vinyals},
      year={2019},
      eprint={1807.03748},
      archivePrefix={arXiv},
      primaryClass={cs.LG},
      url={https://arxiv.org/abs/1807.03748},
}
"""
