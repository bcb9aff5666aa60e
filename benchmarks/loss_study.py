"""The loss study as a benchmark script (same as ``rankladder study``); prints the verdicts as JSON.

python benchmarks/loss_study.py [configs/study_cpu.yaml] --out out/study-cpu
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", default="configs/study_cpu.yaml")
    parser.add_argument("--out", default="out/study-cpu")
    args = parser.parse_args()
    from rankladder.study import load_study, run_study

    report = run_study(load_study(args.config), args.out)
    key = "mean" if "mean" in report["tasks"] else report["tasks"][0]
    print(
        json.dumps(
            {
                "study": str(Path(args.out) / "study.md"),
                "task": key,
                "base": report["base"]["ndcg_at_10"].get(key),
                "settings": {
                    s: {
                        "ndcg_at_10": report["table"][s][key],
                        **{
                            a: {k: report["paired"][s][a][key][k] for k in ("mean", "std", "verdict")}
                            for a in ("vs_infonce", "vs_base")
                            if a in report["paired"][s]
                        },
                        "grad_norm_ratio_to_infonce": report["grad_norm"][s]["ratio_to_infonce"],
                    }
                    for s in report["settings"]
                },
                "separability": (report["dataset"].get("separability") or {}).get("outranks"),
                "timings_s": report.get("timings_s"),
            },
            indent=2,
            default=str,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
