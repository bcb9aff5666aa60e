"""The training curve: loss and gradient norm per logged step (and dev nDCG@10 when evaluated), as a PNG
people can paste plus a sidecar JSON with exactly the plotted numbers (``trainer.state.log_history``)."""

from __future__ import annotations

from pathlib import Path

from rankladder.core.fsutil import write_json_atomic

CURVE_PNG = "training_curve.png"
CURVE_JSON = "training_curve.json"


def dev_key(log_history: list[dict]) -> str:
    """The evaluator's nDCG@10 key in the Trainer's logs (``eval_dev_ndcg@10`` for the ``dev`` split)."""
    keys = (k for e in log_history for k in e if k.startswith("eval_") and k.endswith("_ndcg@10"))
    return next(keys, "eval_dev_ndcg@10")


def curve_data(log_history: list[dict], title: str) -> dict:
    """The plotted series: steps with their loss / grad norm, and dev nDCG@10 (×100) where evaluated."""

    def series(key: str, scale: float = 1.0) -> dict[str, list]:
        rows = [(e["step"], float(e[key]) * scale) for e in log_history if e.get(key) is not None and "step" in e]
        return {"step": [s for s, _ in rows], "value": [round(v, 6) for _, v in rows]}

    return {
        "title": title,
        "x": "optimizer step",
        "loss": series("loss"),
        "grad_norm": series("grad_norm"),
        "dev_ndcg@10_x100": series(dev_key(log_history), 100.0),
    }


def write_training_curve(folder: Path, log_history: list[dict], title: str) -> Path | None:
    """Write ``training_curve.png`` + ``training_curve.json`` into ``folder``; None when nothing was logged."""
    data = curve_data(log_history, title)
    if not data["loss"]["step"] and not data["dev_ndcg@10_x100"]["step"]:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, loss_ax = plt.subplots(figsize=(7, 4), dpi=120)
    loss_ax.plot(data["loss"]["step"], data["loss"]["value"], marker="o", markersize=3, color="tab:blue", label="loss")
    loss_ax.set_xlabel("optimizer step")
    loss_ax.set_ylabel("training loss")
    handles = loss_ax.get_legend_handles_labels()[0]
    if data["grad_norm"]["step"]:
        grad_ax = loss_ax.twinx()
        grad_ax.plot(
            data["grad_norm"]["step"], data["grad_norm"]["value"], color="tab:gray", alpha=0.6, label="grad norm"
        )
        grad_ax.set_ylabel("gradient norm (before clipping)")
        handles += grad_ax.get_legend_handles_labels()[0]
    if data["dev_ndcg@10_x100"]["step"]:
        dev_ax = loss_ax.twinx()
        dev_ax.spines["right"].set_position(("axes", 1.15))
        dev = data["dev_ndcg@10_x100"]
        dev_ax.plot(dev["step"], dev["value"], marker="s", color="tab:green", label="dev nDCG@10 (×100)")
        dev_ax.set_ylabel("dev nDCG@10 (×100)")
        dev_ax.set_ylim(max(0.0, min(dev["value"]) - 2), min(100.0, max(dev["value"]) + 2))  # never past 100
        handles += dev_ax.get_legend_handles_labels()[0]
    loss_ax.set_title(title)
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(handles), frameon=False)
    fig.tight_layout()
    png = Path(folder) / CURVE_PNG
    fig.savefig(png, bbox_inches="tight")
    plt.close(fig)
    write_json_atomic(Path(folder) / CURVE_JSON, data)
    return png
