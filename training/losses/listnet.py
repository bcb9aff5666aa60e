from __future__ import annotations

import torch
from torch import Tensor

from rankladder.training.losses.base import GradedListLoss


class GradedListNetLoss(GradedListLoss):
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
        ListNet (top-one probability) for bi-encoders: the cross-entropy between the label
        distribution ``softmax(transform(labels) / label_temperature)`` and the predicted distribution
        ``softmax(scores * scale)`` over all in-batch documents, averaged over queries. Other queries'
        documents are label 0.

        Args:
            model: SentenceTransformer model
            scale: ``1 / temperature`` of the predicted distribution (default 20, T = 0.05).
            similarity: ``"cosine"`` (default) or ``"dot"``.
            label_transform: ``"none"`` or ``"exp_gain"`` (``2**l − 1``).
            label_temperature: temperature of the target softmax.
            loss_scale: factor on the loss.
            gather_across_devices: all-gather documents across processes for more in-batch negatives.

        References:
            - Learning to Rank: From Pairwise Approach to Listwise Approach (Cao et al., ICML 2007)

        Requirements:
            1. A query and a group of G documents with graded (float) relevance labels.

        Inputs:
            +-------------------------------------------+--------------------------------+
            | Texts                                     | Labels                         |
            +===========================================+================================+
            | (query, doc_0, ..., doc_{G-1})            | [label_0, ..., label_{G-1}]    |
            +-------------------------------------------+--------------------------------+

        Relations:
            - sentence-transformers' cross-encoder ``ListNetLoss`` is the same objective for
              cross-encoders, without in-batch documents.
            - :class:`~training.losses.GradedInfoNCELoss` is the binary special case (one-hot target).
        """
        super().__init__(
            model, scale, similarity, label_transform, label_temperature, loss_scale, gather_across_devices
        )

    def list_loss(self, scores: Tensor, labels: Tensor, own: Tensor | None = None) -> Tensor:
        log_p = torch.log_softmax(scores.double() * self.scale, dim=1)
        targets = self.target_distribution(labels)
        return -(targets * log_p).sum(dim=1).mean().to(scores.dtype)

    @property
    def citation(self) -> str:
        return """
@inproceedings{cao2007learning,
    title={Learning to Rank: From Pairwise Approach to Listwise Approach},
    author={Cao, Zhe and Qin, Tao and Liu, Tie-Yan and Tsai, Ming-Feng and Li, Hang},
    booktitle={Proceedings of the 24th international conference on Machine learning},
    pages={129--136},
    year={2007}
}
"""
