"""Build cost and memory: N synthetic generation records → DATASET_DIR, at one or more sizes.

Per size: wall seconds and peak RSS of ``build_dataset`` (its own child process; ``ru_maxrss``), the
read-back's cost (``rankladder.core.readback.verify_dataset`` on the built folder with a fresh cache, as
the build calls it, timed alone in another child) as a share of the build (whose time includes its own read-back), and the shard count. With two sizes the JSON
also gives the peak-RSS and time ratios (issue 23: peak RSS at 10M ≤ 2× that at 1M; issue 22: the
read-back ≤ 10 % of build time at 1M).

The RUN_DIR is written quickly: one real record from ``generation_record`` (via tests/helpers/run_fixtures.py,
the generator's exact format and manifest) is the template, and only key, query, level, text and words
change per line.
With ``--judged`` every record also gets a judgement in the judge's exact format (``judge.judgement_record``
of a log-probability answer; 1 in 10 unparsed, so unjudged) and the build runs with ``--labels agree``: the
judgements are spilled by query and the agreement figures are counts, so peak RSS should not grow with them.
Usage: python -m benchmarks.bench_build [--records 1000000 10000000] [--judged] [--out FILE.json]
       python -m benchmarks.bench_build --merge A.json B.json --out FILE.json  (sizes run separately)
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = (
    "water boils lower altitude pressure honey bees nectar river glacier valley engine torque "
    "protein iron spinach vaccine antibody immune credit score interest loan planet orbit moon "
    "tide gravity leaf pigment autumn chlorophyll sugar yeast bread oven"
).split()


def _judge_answers(rng: random.Random) -> list[tuple[str, dict]]:
    """(reply, judgement) variants per intended level: mostly the level, sometimes another grade, some unparsed."""
    from rankladder.dataset_builder.judge import judgement
    from tests.helpers.run_fixtures import logprob_answer

    variants = {}
    for level in (0, 1, 2, 3):
        answers = []
        for grade in [level] * 6 + [0, 1, 2, 3]:
            raw = {g: rng.random() + (3.0 if g == grade else 0.0) for g in (0, 1, 2, 3)}
            reply, steps = logprob_answer({g: v / sum(raw.values()) for g, v in raw.items()})
            answers.append((reply, judgement(reply, steps, [0, 1, 2, 3])))
        answers.append(("no idea", judgement("no idea", None, [0, 1, 2, 3])))
        variants[level] = answers
    return variants


class JudgementLines:
    """A judgement per record in the judge's format (``judge.judgement_record``), written as the records are;
    the judge manifest of ``tests.helpers.run_fixtures.write_judgements`` (made while the run holds only the
    template record) gets the counts of every record on ``close``."""

    def __init__(self, run_dir: Path, seed: int = 0):
        from rankladder.dataset_builder import schema
        from tests.helpers.run_fixtures import logprob_answer, write_judgements

        self.rng = random.Random(seed + 1)
        self.manifest_path = write_judgements(run_dir, lambda record: logprob_answer({0: 0.1, 1: 0.2, 2: 0.3, 3: 0.4}))
        self.answers, self.methods = _judge_answers(self.rng), {"logprobs": 0, "unparsed": 0}
        self.handle = open(next((run_dir / schema.JUDGEMENTS).glob("shard-*.jsonl")), "w", encoding="utf-8")

    def write(self, key: str, query_id: str, level: int, text: str) -> None:
        from rankladder.dataset_builder import schema
        from rankladder.dataset_builder.judge import judgement_record

        reply, found = self.rng.choice(self.answers[level])
        self.methods[found["method"]] += 1
        row = {"key": key, "query_id": query_id, "doc_id": schema.doc_id(text), "level": level}
        self.handle.write(json.dumps(judgement_record(row, found, reply, "fixture"), ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.handle.close()
        manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        records = sum(self.methods.values())
        manifest["counts"].update(
            records_in_shard=records, judged_all_runs=records, by_method=self.methods, this_run=self.methods
        )
        self.manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def write_run(run_dir: Path, records: int, seed: int = 0, judged: bool = False) -> None:
    """``records`` records, 4 levels per query, in the generator's format (template record + manifest);
    ``judged``: a judgement for each (``JudgementLines``)."""
    from rankladder.dataset_builder.levels import load_levels
    from rankladder.dataset_builder.run_records import record_key
    from tests.helpers.run_fixtures import write_run_dir  # the generator's exact record + manifest format

    write_run_dir(run_dir, [{"query_id": "q0", "query": "synthetic query 0", "level": 3, "text": "seed text."}])
    path = next((run_dir / "records").glob("shard-*.jsonl"))
    template = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    names = {level.value: level.name for level in load_levels()}
    # the template serialised once around placeholders: only the changing fields are encoded per line
    changing = ("key", "query_id", "query", "level", "level_name", "text", "words")
    template.update({field: f"\x00{field}\x00" for field in changing})
    parts = json.dumps(template, ensure_ascii=False).split('"\\u0000')
    pieces = [parts[0]] + [part.split('\\u0000"', 1)[1] for part in parts[1:]]
    order = [part.split('\\u0000"', 1)[0] for part in parts[1:]]
    judgements = JudgementLines(run_dir, seed) if judged else None
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for index in range(records):
            query, level = divmod(index, 4)
            level = 3 - level
            words = rng.choices(WORDS, k=rng.randint(30, 70))
            values = {
                "key": json.dumps(record_key(f"q{query}", level, 0)),
                "query_id": f'"q{query}"',
                "query": f'"synthetic query {query}"',
                "level": str(level),
                "level_name": json.dumps(names[level]),
                "text": '"' + " ".join(words) + f' {index}."',
                "words": str(len(words) + 1),
            }
            handle.write(_line(pieces, order, values) + "\n")
            if judgements is not None:
                judgements.write(record_key(f"q{query}", level, 0), f"q{query}", level, " ".join(words) + f" {index}.")
    if judgements is not None:
        judgements.close()


def _line(pieces: list[str], order: list[str], values: dict) -> str:
    out = [pieces[0]]
    for name, piece in zip(order, pieces[1:]):
        out.append(values[name])
        out.append(piece)
    return "".join(out)


PEAK = (
    "import resource, json; print(json.dumps({'peak_rss_mib': "
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"
)


def timed_child(code: str) -> tuple[float, dict]:
    """Wall seconds of a Python child process, and the JSON lines it printed merged (with its peak RSS, MiB)."""
    start = time.perf_counter()
    process = subprocess.run([sys.executable, "-c", code + "\n" + PEAK], capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(process.stderr[-3000:])
    printed: dict = {}
    for line in process.stdout.splitlines():
        if line.startswith("{"):
            printed.update(json.loads(line))
    return elapsed, printed


# The read-back as the build runs it: after the build, with ``datasets`` already imported (the build imports
# it to write the shards), on a fresh cache; only the ``verify_dataset`` call is timed.
READBACK = """
import json, tempfile, time
import datasets
from rankladder.core.readback import verify_dataset
manifest = json.load(open({manifest!r}))
start = time.perf_counter()
verify_dataset({out!r}, manifest["readback"], cache_dir=tempfile.mkdtemp(dir={tmp!r}))
print(json.dumps({{"readback_seconds": time.perf_counter() - start}}))
"""


def measure(records: int, tmp: Path, judged: bool = False) -> dict:
    run, out = tmp / f"run-{records}", tmp / f"ds-{records}"
    start = time.perf_counter()
    write_run(run, records, judged=judged)
    prepare = time.perf_counter() - start
    labels = ", labels='agree', allow_degenerate_labels=True" if judged else ""
    build_s, build = timed_child(
        "from rankladder.dataset_builder.build import build_dataset\n"
        f"build_dataset([{str(run)!r}], {str(out)!r}, version='1.0.0', dev_fraction=0.05{labels})"
    )
    _, readback = timed_child(
        READBACK.format(manifest=str(out / "rankladder_manifest.json"), out=str(out), tmp=str(tmp))
    )
    manifest = json.loads((out / "rankladder_manifest.json").read_text())
    return {
        "records": records,
        "records_file_mib": round(sum(p.stat().st_size for p in (run / "records").glob("*.jsonl")) / 2**20, 1),
        "prepare_seconds": round(prepare, 1),
        "build_seconds": round(build_s, 2),
        "build_peak_rss_mib": round(build["peak_rss_mib"], 1),
        "readback_seconds": round(readback["readback_seconds"], 2),
        "readback_peak_rss_mib": round(readback["peak_rss_mib"], 1),
        "readback_share_of_build": round(readback["readback_seconds"] / build_s, 3),
        "documents": manifest["counts"]["documents"],
        "shards": sum(len(entry["shards"]) for entry in manifest["files"].values()),
        **({"judgements_file_mib": _size_mib(run / "judgements"), "labels": "agree"} if judged else {}),
    }


def _size_mib(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.glob("*.jsonl")) / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--tmp", type=Path, help="scratch folder (default: system temp)")
    parser.add_argument("--judged", action="store_true", help="judge every record too and build with --labels agree")
    parser.add_argument(
        "--merge", type=Path, nargs="+", help="measure nothing: combine the sizes of these earlier JSON reports"
    )
    args = parser.parse_args()
    if args.merge:
        by_records = {size["records"]: size for path in args.merge for size in json.loads(path.read_text())["sizes"]}
        sizes = [by_records[n] for n in sorted(by_records)]
    else:
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            sizes = [measure(n, Path(tmp), args.judged) for n in sorted(args.records)]
    report = {
        "benchmark": "build-judged" if args.judged else "build",
        "sizes": sizes,
        "targets": {"readback_share_max": 0.10, "peak_rss_ratio_max": 2.0},
    }
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        report["peak_rss_ratio"] = round(large["build_peak_rss_mib"] / small["build_peak_rss_mib"], 3)
        report["time_ratio"] = round(large["build_seconds"] / small["build_seconds"], 3)
        report["records_ratio"] = large["records"] / small["records"]
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
