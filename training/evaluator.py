"""In-training evaluator on held-out lists: nDCG@10 (pytrec_eval, as mteb) and mean Kendall τ (level ordering)."""

from __future__ import annotations

from typing import Any

from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

from rankladder.training import metrics


class GradedListEvaluator(SentenceEvaluator):
    """Graded counterpart of sentence-transformers' (binary) ``InformationRetrievalEvaluator``.

    Metrics come from ``rankladder.core.metrics`` (see ``training.metrics.evaluate_lists``): each dev
    query ranks the pooled documents of all dev lists; queries and documents are encoded once per call.

    Args:
        lists: rows with ``query``, ``documents``, ``levels`` (e.g. the dataset's ``lists`` dev split).
        name: metric prefix (metrics read ``{name}_ndcg@{k}`` and ``{name}_kendall_tau``).
        k: nDCG cutoff.
        batch_size: encoding batch size.
    """

    def __init__(self, lists, name: str = "dev", k: int = 10, batch_size: int = 32) -> None:
        super().__init__()
        self.lists = [
            {
                "query": r["query"],
                "documents": list(r["documents"]),
                "levels": list(r["levels"] if "levels" in r else r["labels"]),
            }
            for r in lists
        ]
        self.name = name
        self.k = k
        self.batch_size = batch_size
        self.primary_metric = f"ndcg@{k}"
        self.calls = 0  # how often this process evaluated (the manifest records it per rank)

    def __call__(self, model, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        self.calls += 1
        found = metrics.evaluate_lists(model, self.lists, self.k, self.batch_size)
        values = {f"ndcg@{self.k}": found[f"ndcg@{self.k}"], "kendall_tau": found["kendall_tau"]}
        values = self.prefix_name_to_metrics(values, self.name)
        self.store_metrics_in_model_card_data(model, values, epoch, steps)
        return values

    def get_config_dict(self) -> dict[str, Any]:
        return {"k": self.k, "lists": len(self.lists)}
