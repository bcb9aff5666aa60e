"""What every graded list-wise loss shares: the query × in-batch-documents score matrix.

A batch holds ``B`` queries with ``G`` documents each. Documents are laid out query-major
(``q0's G docs, q1's G docs, ...``), so the label matrix is block-diagonal: query ``i`` sees its own
labels in block ``i`` and label 0 for every other query's documents. Subclasses implement
:meth:`GradedListLoss.list_loss` on raw tensors, which keeps the math testable without a model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from sentence_transformers.base.losses.merged_forward import embed_columns
from sentence_transformers.util import all_gather, all_gather_with_grad, cos_sim, dot_score, get_rank
from torch import Tensor, nn

SIMILARITIES = {"cosine": cos_sim, "dot": dot_score}
LABEL_TRANSFORMS = ("none", "exp_gain")


class GradedListLoss(nn.Module):
    """Base class: embeds the columns, builds scores and block-diagonal labels, calls ``list_loss``.

    Args:
        model: SentenceTransformer model
        scale: similarities are multiplied by ``scale`` (``scale = 1 / temperature``; 20 ≙ T=0.05).
        similarity: ``"cosine"`` or ``"dot"``.
        label_transform: ``"none"`` (grades as given) or ``"exp_gain"`` (``2**label - 1``, the nDCG gain).
        label_temperature: target distribution is ``softmax(transformed_labels / label_temperature)``.
        loss_scale: constant factor on the loss (and therefore on its gradient).
        gather_across_devices: all-gather documents (with gradients) so every process scores its
            queries against the documents of all processes (multi-GPU in-batch negatives). Losses that
            average per query (``rows_independent``) then score their own queries only, as
            sentence-transformers' ``MultipleNegativesRankingLoss`` does; a loss fitted over the rows of the
            whole batch (ws2) gathers the queries and labels too. Either way the averaged gradient is
            that of one process on the global batch.
    """

    # True: the loss is a mean of per-query terms, so a process may score only its own queries against
    # the gathered documents. False (ws2): the loss couples the batch's rows and needs all of them.
    rows_independent = True

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
        super().__init__()
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {sorted(SIMILARITIES)}, got {similarity!r}")
        if label_transform not in LABEL_TRANSFORMS:
            raise ValueError(f"label_transform must be one of {LABEL_TRANSFORMS}, got {label_transform!r}")
        if not label_temperature > 0:
            raise ValueError(f"label_temperature must be positive, got {label_temperature}")
        self.model = model
        self.scale = float(scale)
        self.similarity = similarity
        self.similarity_fct = SIMILARITIES[similarity]
        self.label_transform = label_transform
        self.label_temperature = float(label_temperature)
        self.loss_scale = float(loss_scale)
        self.gather_across_devices = gather_across_devices

    # -- batch → (scores, labels, own) ---------------------------------------------------------------
    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        embeddings = embed_columns(self.model, sentence_features)
        return self.compute_loss_from_embeddings(embeddings, labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        scores, label_matrix, own = self.scores_and_labels(embeddings, labels)
        return self.loss_scale * self.list_loss(scores, label_matrix, own)

    def scores_and_labels(self, embeddings: list[Tensor], labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Raw similarities ``(B, N)``, block-diagonal labels ``(B, N)`` and the own-document mask."""
        if len(embeddings) < 2:
            raise ValueError(f"expected a query column and at least one document column, got {len(embeddings)}")
        queries = embeddings[0]
        batch, group = queries.size(0), len(embeddings) - 1
        if labels is None or tuple(labels.shape) != (batch, group):
            raise ValueError(
                f"labels must have shape ({batch}, {group}), got {None if labels is None else tuple(labels.shape)}"
            )
        docs = torch.stack(embeddings[1:], dim=1).reshape(batch * group, -1)  # query-major
        offset = 0
        if self.gather_across_devices:
            docs = all_gather_with_grad(docs)  # rank-major = the global batch's query-major order
            if self.rows_independent:
                offset = get_rank() * batch * group
            else:  # every process computes the global loss; DDP's mean of identical gradients is its gradient
                queries = all_gather_with_grad(queries)
                labels = all_gather(labels)
                batch = queries.size(0)
        scores = self.similarity_fct(queries, docs)
        n_docs = docs.size(0)
        rows = torch.arange(batch, device=scores.device).repeat_interleave(group)
        cols = offset + torch.arange(batch * group, device=scores.device)
        label_matrix = torch.zeros(batch, n_docs, dtype=torch.float32, device=scores.device)
        label_matrix[rows, cols] = labels.to(label_matrix).reshape(-1)
        own = torch.zeros(batch, n_docs, dtype=torch.bool, device=scores.device)
        own[rows, cols] = True
        return scores, label_matrix, own

    # -- shared pieces for subclasses ----------------------------------------------------------------
    def transform_labels(self, labels: Tensor) -> Tensor:
        if self.label_transform == "exp_gain":
            return torch.pow(2.0, labels) - 1.0
        return labels

    def target_distribution(self, labels: Tensor) -> Tensor:
        """``softmax(transform(labels) / label_temperature)`` over each row (float64)."""
        return torch.softmax(self.transform_labels(labels.double()) / self.label_temperature, dim=1)

    def list_loss(self, scores: Tensor, labels: Tensor, own: Tensor) -> Tensor:
        """Loss on raw similarities ``(B, N)`` and labels ``(B, N)`` (label 0 outside ``own``)."""
        raise NotImplementedError

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "similarity": self.similarity,
            "label_transform": self.label_transform,
            "label_temperature": self.label_temperature,
            "loss_scale": self.loss_scale,
            "gather_across_devices": self.gather_across_devices,
        }

    @property
    def temperature(self) -> float:
        return 1.0 / self.scale
