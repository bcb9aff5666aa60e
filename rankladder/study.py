"""The loss study: on ONE generated dataset, does graded list-wise training beat InfoNCE?

``rankladder study CONFIG.yaml --out OUT`` (or ``run_study(load_study(CONFIG), OUT)``):

0. with ``real:`` in the config (the ``real-infonce`` / ``synth-real-ws2`` settings), prepare the real
   training source: a ``rankladder mine`` output as it is, or a BEIR folder whose judged queries are split
   into train/test halves (seeded) and whose train half is mined → ``OUT/real`` (``rankladder/study_real.py``);
1. generate + build the synthetic dataset (the release pipeline's stages; resumable) → ``OUT/run``,
   ``OUT/dataset`` (its ``stats.json`` and card carry the per-level separability of the ladder);
2. train every *setting* (loss + label mapping + group) for every seed → ``OUT/models/<setting>-seed<k>``;
   the same seed gives every loss the same query order;
3. evaluate the base model and every checkpoint (mteb, ``eval.run.run_eval``) on the configured real
   collections and on the in-domain ``dev`` split (nDCG@10 + level-order metrics) → ``OUT/eval/<model>``;
4. report → ``OUT/study.json`` (everything), ``OUT/study.md`` (tables + verdicts), ``OUT/study.png``.

Each of these is a step of the one step runner (``rankladder/steps.py``, shared with ``rankladder run``):
finished steps are skipped on a re-run (``OUT/steps/<step>.json`` records the fingerprint of what produced
each output, ``OUT/steps.json`` this run's steps); a changed setting re-trains and re-evaluates only that
setting.

Verdict rule ("beats X beyond seed noise"): for each seed, the paired difference
``nDCG@10(setting, seed) − nDCG@10(X, seed)`` (X = the ``infonce`` setting with the same seed, or the
base model); the setting beats X when ``mean > 2·std/√n`` (n seeds ≥ 2), loses when
``mean < −2·std/√n``, and is "within seed noise" otherwise. A one-sample t-test p-value is reported too.
"""

# The study lives in files by job (config, real source, run, report); this module keeps the public names.
from rankladder.study_config import (  # noqa: F401
    BASE,
    DEFAULT_SETTINGS,
    DEFAULTS,
    REAL_SETTINGS,
    REFERENCE,
    SETTING_KEYS,
    load_study,
    sources_for,
)
from rankladder.study_real import plan_real, split_queries  # noqa: F401
from rankladder.study_report import build_report, plot, to_markdown, verdict_stats  # noqa: F401
from rankladder.study_run import Study, run_study  # noqa: F401
