"""The data contract between rankladder's stages.

A DATASET_DIR written by ``rankladder build`` is a Hugging Face dataset folder in the MTEB/BEIR
layout (what ``load_dataset(DATASET_DIR, CONFIG)`` and mteb's retrieval loader read):

================  =============  ====================================================  ===============
config            splits         columns                                               path
================  =============  ====================================================  ===============
``corpus``        ``corpus``     ``_id``, ``title``, ``text``                          corpus/
``queries``       ``queries``    ``_id``, ``text``                                     queries/
``default``       train [, dev]  ``query-id``, ``corpus-id``, ``score`` (qrels)        qrels/
``lists``         train [, dev]  ``query_id``, ``query``, ``doc_ids``, ``documents``,  lists/
                                 ``levels`` (parallel lists, one entry per document)
================  =============  ====================================================  ===============

Each config/split is one or more parquet shards ``<path><split>-IIIII-of-NNNNN-<content hash>.parquet``
(:func:`shard_file`, at most ``SHARD_BYTES`` each); ``README.md`` (the dataset card) lists them in its
``configs:`` YAML (:func:`split_files` reads them back), beside ``MANIFEST_FILE`` and stats.
Scores and levels are integer relevance grades: higher = more relevant, 0 = unrelated.

``lists`` also carries, per document, ``intended_levels`` (the level the generator was asked for),
``judge_grades`` and ``judge_expected`` (the relevance judge's grade and expected grade, null where
the document was not judged). ``levels`` and the qrels ``score`` follow the build's label policy
(``LABEL_POLICIES``): ``intended``, ``judged`` or ``agree``.

In a RUN_DIR, ``rankladder generate`` writes ``records/shard-I-of-N.<run_id>.jsonl``, one line per kept
document (``dataset_builder.run_records.generation_record``); ``build`` reads ``RECORD_FIELDS`` of it. The
``RECORD_OPTIONAL_FIELDS`` came later, so runs written before them lack them and still build: ``server``
names the OpenAI-compatible server that produced the document (its base URL; null for local engines).

In a RUN_DIR, ``rankladder judge`` writes ``JUDGEMENTS/shard-I-of-N.<run_id>.jsonl``, one line per
record: ``key``, ``query_id``, ``doc_id``, ``level`` (intended), ``grade`` (int or null),
``expected_grade`` (float or null), ``grade_probs`` (``{"0": p, ...}`` or null), ``method``
(``logprobs`` / ``parsed`` / ``unparsed``), ``reply``, ``run_id``, ``created``; and one
``JUDGE_MANIFEST`` per shard with the judge's model identity, prompt hash and sampling.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

CORPUS_CONFIG = "corpus"
QUERIES_CONFIG = "queries"
QRELS_CONFIG = "default"
LISTS_CONFIG = "lists"

CORPUS_SPLIT = "corpus"
QUERIES_SPLIT = "queries"
TRAIN_SPLIT = "train"
DEV_SPLIT = "dev"

CORPUS_COLUMNS = ("_id", "title", "text")
QUERIES_COLUMNS = ("_id", "text")
QRELS_COLUMNS = ("query-id", "corpus-id", "score")
LISTS_COLUMNS = ("query_id", "query", "doc_ids", "documents", "levels")
LISTS_LABEL_COLUMNS = ("intended_levels", "judge_grades", "judge_expected")  # written by build since judging
LABEL_POLICIES = ("intended", "judged", "agree")
RECORD_FIELDS = ("key", "query_id", "query", "level", "text", "title", "words")  # what build reads of a record
RECORD_OPTIONAL_FIELDS = ("server",)  # absent from runs written before they existed


def policy_label(intended: int, grade: int | None, policy: str, max_disagreement: int = 1) -> int | None:
    """A document's label under a label policy (None: the policy drops it).

    ``intended``: the level the generator was asked for; ``judged``: the judge's grade (unjudged documents
    dropped); ``agree``: the intended level of documents whose judged grade is within ``max_disagreement``
    of it, ``|intended - judged| <= max_disagreement`` (0: exact agreement only).
    ``build --labels`` applies the same rule to a whole run (``dataset_builder.agreement.apply_label_policy``);
    training sources apply it to a built dataset's ``lists`` (``label_policy``), so one dataset serves every policy.
    """
    if policy not in LABEL_POLICIES:
        raise ValueError(f"label policy must be one of {', '.join(LABEL_POLICIES)}, got {policy!r}")
    if policy == "intended":
        return intended
    if grade is None:
        return None
    if policy == "judged":
        return grade
    return intended if abs(grade - intended) <= max_disagreement else None


# config -> (folder inside DATASET_DIR, splits that may exist)
CONFIG_LAYOUT = {
    CORPUS_CONFIG: ("corpus", (CORPUS_SPLIT,)),
    QUERIES_CONFIG: ("queries", (QUERIES_SPLIT,)),
    QRELS_CONFIG: ("qrels", (TRAIN_SPLIT, DEV_SPLIT)),
    LISTS_CONFIG: ("lists", (TRAIN_SPLIT, DEV_SPLIT)),
}

# the column whose values (in order) the read-back compares after a write (``rankladder.core.readback``)
ID_COLUMNS = {CORPUS_CONFIG: "_id", QUERIES_CONFIG: "_id", QRELS_CONFIG: "corpus-id", LISTS_CONFIG: "query_id"}

MANIFEST_FILE = "rankladder_manifest.json"
TRAIN_MANIFEST_FILE = "rankladder_train_manifest.json"  # a trained model's (eval reads its collection splits)
STATS_FILE = "stats.json"
STATS_PLOT = "stats.png"
AGREEMENT_PLOT = "agreement.png"
DATASET_KIND = "rankladder-dataset"
JUDGEMENTS = "judgements"  # RUN_DIR folder of judge shards
JUDGE_MANIFEST = "judge-manifest.shard-*.json"


def features(config: str, label_columns: bool = False):
    """The ``datasets.Features`` of one config (imported lazily: ``datasets`` is heavy); with
    ``label_columns`` the ``lists`` config adds ``LISTS_LABEL_COLUMNS``."""
    from datasets import Features, Sequence, Value

    if config == CORPUS_CONFIG:
        return Features({"_id": Value("string"), "title": Value("string"), "text": Value("string")})
    if config == QUERIES_CONFIG:
        return Features({"_id": Value("string"), "text": Value("string")})
    if config == QRELS_CONFIG:
        return Features({"query-id": Value("string"), "corpus-id": Value("string"), "score": Value("int32")})
    if config == LISTS_CONFIG:
        columns = {
            "query_id": Value("string"),
            "query": Value("string"),
            "doc_ids": Sequence(Value("string")),
            "documents": Sequence(Value("string")),
            "levels": Sequence(Value("int32")),
        }
        if label_columns:
            columns.update(
                {
                    "intended_levels": Sequence(Value("int32")),
                    "judge_grades": Sequence(Value("int32")),
                    "judge_expected": Sequence(Value("float32")),
                }
            )
        return Features(columns)
    raise KeyError(f"unknown config {config!r}")


# push_to_hub's default max_shard_size ("500MB", in-memory Arrow bytes): the Hub's usual shard size
SHARD_BYTES = 500 * 10**6
_SHARD_NAME = re.compile(r"^(?P<split>[a-z]+)-(?P<index>\d{5})-of-(?P<count>\d{5})-(?P<digest>[0-9a-f]{16})\.parquet$")


def shard_file(config: str, split: str, index: int, count: int, digest: str) -> str:
    """Relative path of one parquet shard of a config/split inside a DATASET_DIR.

    The name carries the shard's content hash: ``datasets`` keys its cache of a local folder by the
    folder's name and the card's ``data_files`` patterns (not by the files' content), so a name that
    changes with the content is what makes a rebuilt folder, or another folder of the same name, load
    its own rows rather than a stale cache entry (issue 22).
    """
    folder, splits = CONFIG_LAYOUT[config]
    if split not in splits:
        raise KeyError(f"config {config!r} has no split {split!r}")
    return f"{folder}/{split}-{index:05d}-of-{count:05d}-{digest[:16]}.parquet"


def card_data_files(dataset_dir) -> dict[str, dict[str, list[str]]]:
    """config -> split -> relative parquet paths, as the folder's README card declares them (what
    ``load_dataset(folder, config)`` reads); {} when the folder has no card with ``configs:``."""
    from pathlib import Path

    import yaml

    card = Path(str(dataset_dir)) / "README.md"
    if not card.is_file():
        return {}
    text = card.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return {}
    header = text.split("---", 2)[1] if text.count("---") >= 2 else ""
    try:
        meta = yaml.safe_load(header) or {}
    except yaml.YAMLError:
        return {}
    out: dict[str, dict[str, list[str]]] = {}
    for entry in meta.get("configs") or []:
        splits = out.setdefault(entry.get("config_name", "default"), {})
        files = entry.get("data_files") or []
        for item in files if isinstance(files, list) else [files]:
            if isinstance(item, dict):
                paths = item.get("path") or []
                splits.setdefault(item.get("split", "train"), []).extend([paths] if isinstance(paths, str) else paths)
    return out


def split_files(dataset_dir, config: str, split: str) -> list[Path]:
    """The parquet files of one config/split of a DATASET_DIR, in order ([] when the split is absent).

    The card's ``configs:`` is the truth (it is what ``datasets`` reads); folders without one (hand-made,
    or from older versions) are read by name: ``<folder>/<split>-*.parquet`` or ``<folder>/<split>.parquet``.
    """
    from pathlib import Path

    root = Path(str(dataset_dir))
    declared = card_data_files(root).get(config, {}).get(split)
    if declared is not None:
        return [root / rel for rel in declared]
    folder = root / CONFIG_LAYOUT[config][0]
    shards = sorted(p for p in folder.glob(f"{split}-*.parquet") if _SHARD_NAME.match(p.name))
    legacy = folder / f"{split}.parquet"
    return shards or ([legacy] if legacy.is_file() else [])


def has_split(dataset_dir, config: str, split: str) -> bool:
    """Whether a DATASET_DIR holds one config/split: at least one parquet file, and every declared one present."""
    files = split_files(dataset_dir, config, split)
    return bool(files) and all(path.is_file() for path in files)


def read_split(dataset_dir, config: str, split: str, columns: list[str] | None = None):
    """One config/split of a DATASET_DIR as a pyarrow Table (all its shards, in order)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = split_files(dataset_dir, config, split)
    if not files:
        raise FileNotFoundError(f"{dataset_dir}: no parquet files for config {config!r} split {split!r}")
    return pa.concat_tables([pq.read_table(path, columns=columns) for path in files])


_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Canonical form used for ids and exact-duplicate checks (NFKC, case-folded, single spaces)."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def doc_id(text: str, title: str = "") -> str:
    """Stable content-hash id of a document: same text (up to case/whitespace) → same id."""
    payload = normalize_text(title) + "\x1f" + normalize_text(text)
    return "d" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def datasets_cache_dir(dataset_dir) -> Path | None:
    """A ``datasets`` cache folder private to this DATASET_DIR's content, or None for Hub ids.

    datasets (5.x) keys the cache of a local folder by the folder's *name* and the card's ``data_files``
    patterns, so two folders called ``dataset`` with fixed file names (built before content-addressed
    shards, :func:`shard_file`), or one rebuilt in place, would share a stale cache entry. Keying by the
    manifest's content hash makes such a folder load fresh too.
    """
    import json
    from pathlib import Path

    folder = Path(str(dataset_dir))
    if not folder.is_dir():
        return None
    manifest = folder / MANIFEST_FILE
    if manifest.is_file():
        key = json.loads(manifest.read_text(encoding="utf-8")).get("content_hash", "")[:16]
    else:
        stamp = [
            (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*.parquet"))
        ]
        key = hashlib.sha256(repr((str(folder.resolve()), stamp)).encode()).hexdigest()[:16]
    import datasets

    return Path(datasets.config.HF_DATASETS_CACHE) / "rankladder-local" / key


class local_datasets_cache:
    """Context manager: ``datasets`` caches loads of ``dataset_dir`` under :func:`datasets_cache_dir`
    (for callers that cannot pass ``cache_dir``, such as mteb's retrieval loader)."""

    def __init__(self, dataset_dir):
        self.target = datasets_cache_dir(dataset_dir)
        self._saved = None

    def __enter__(self):
        import datasets

        if self.target is not None:
            self._saved = datasets.config.HF_DATASETS_CACHE
            datasets.config.HF_DATASETS_CACHE = self.target
        return self

    def __exit__(self, *exc) -> None:
        import datasets

        if self._saved is not None:
            datasets.config.HF_DATASETS_CACHE = self._saved
