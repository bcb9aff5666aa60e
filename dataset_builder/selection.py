"""Keep one document per (query, level) among several samples so the ladder is ordered for a check model.

A 135M generator's "full answer" and "partial answer" documents look alike to an embedding model:
on held-out queries level 3 outranks level 2 only about half the time (``benchmarks/bench_separability.py``).
Prompts alone did not fix that. With ``samples_per_level`` ≥ 2, ``select_records`` scores every
candidate against its query with a check embedding model (default all-MiniLM-L6-v2) and keeps, per
query, the combination (one document per level) whose smallest adjacent gap
``score(level k) − score(next lower level)`` is largest; ties keep the lower sample numbers.

The kept ladder is ordered *for the check model*. When that is also the model to be fine-tuned, the
base model's level-order metrics on the dataset's own dev split are optimistic by construction; the
real collections in the study are unaffected. ``stats.json`` reports the separability of the sample-0
ladder (no selection) next to the selected one.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

MAX_COMBINATIONS = 4096  # brute force up to e.g. 8 samples × 4 levels; larger lists are picked greedily


def _best_combination(levels: list[int], candidates: dict[int, list[tuple[int, float, int]]]) -> list[int]:
    """Rows (one per level, levels high → low) maximizing the smallest adjacent score gap."""
    options = [sorted(candidates[lv], key=lambda c: c[2]) for lv in levels]  # (row, score, sample) by sample
    if len(levels) < 2:
        return [options[0][0][0]]
    size = 1
    for option in options:
        size *= len(option)
    if size > MAX_COMBINATIONS:  # greedy top-down: each level's best score below the previous pick
        picked, ceiling = [], float("inf")
        for option in options:
            below = [c for c in option if c[1] < ceiling] or option
            choice = max(below, key=lambda c: (c[1], -c[2]))
            picked.append(choice[0])
            ceiling = choice[1]
        return picked
    best, best_key = None, None
    for combo in itertools.product(*options):
        gap = min(a[1] - b[1] for a, b in zip(combo, combo[1:]))
        key = (gap, -sum(c[2] for c in combo))
        if best_key is None or key > best_key:
            best, best_key = combo, key
    return [c[0] for c in best]


def to_markdown(selection: dict) -> str:
    """Before/after outranking rates of an applied selection (dataset card, study report)."""
    lines = [
        f"{selection['max_candidates_per_level']} samples were generated per (query, level); the build kept, "
        f"per query, the combination best ordered for `{selection['model']}` (largest smallest gap between "
        "adjacent levels). How often the higher level outranks the lower one for the same query:",
        "",
        "| pair | sample 0 only | selected |",
        "|---|---:|---:|",
    ]
    for pair, after in selection["with_selection"]["outranks"].items():
        before = selection["without_selection"]["outranks"].get(pair)
        lines.append(
            f"| {pair} | {'–' if before is None else f'{before:.2f}'} | {'–' if after is None else f'{after:.2f}'} |"
        )
    lines += [
        "",
        "The kept ladder is ordered for that model by construction: its level-order scores on the "
        "dataset's own dev split are optimistic; real collections are the test.",
    ]
    return "\n".join(lines) + "\n"


def select_records(records, model=None, batch_size: int = 64) -> tuple[object, dict]:
    """Filter an arrow table of generation records (``key``, ``query_id``, ``query``, ``level``, ``text``)
    to one document per (query, level); return the table and selection statistics."""
    import pyarrow as pa

    from rankladder.dataset_builder.generate import key_sample
    from rankladder.dataset_builder.separability import default_model_name, load_model, separability_from_scores

    query_ids = records.column("query_id").to_pylist()
    levels = records.column("level").to_pylist()
    samples = [key_sample(key) for key in records.column("key").to_pylist()]
    groups: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for row, (qid, level) in enumerate(zip(query_ids, levels)):
        groups[qid][level].append(row)
    candidates_per_level = max((len(rows) for by_level in groups.values() for rows in by_level.values()), default=0)
    info = {
        "model": default_model_name(model),
        "queries": len(groups),
        "candidates": records.num_rows,
        "max_candidates_per_level": candidates_per_level,
    }
    if candidates_per_level < 2:
        return records, {**info, "applied": False, "reason": "one sample per (query, level): nothing to select"}

    encoder = load_model(model)
    query_text = dict(zip(query_ids, records.column("query").to_pylist()))
    order = list(query_text)
    q_emb = encoder.encode(
        [query_text[q] for q in order],
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    d_emb = encoder.encode(
        records.column("text").to_pylist(),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    q_index = {q: i for i, q in enumerate(order)}
    scores = [float(d_emb[row] @ q_emb[q_index[qid]]) for row, qid in enumerate(query_ids)]

    keep, before, after = [], [], []
    for by_level in groups.values():
        lvls = sorted(by_level, reverse=True)
        cands = {lv: [(row, scores[row], samples[row]) for row in by_level[lv]] for lv in lvls}
        first = [min(cands[lv], key=lambda c: c[2]) for lv in lvls]  # the ladder without selection
        before.append(([c[1] for c in first], lvls))
        picked = _best_combination(lvls, cands)
        keep += picked
        after.append(([scores[row] for row in picked], lvls))
    keep.sort()
    selected = records.take(pa.array(keep, pa.int64()))
    return selected, {
        **info,
        "applied": True,
        "kept": len(keep),
        "without_selection": separability_from_scores(before),
        "with_selection": separability_from_scores(after),
    }
