"""The dev split of ``build``: whole queries held out, and queries of one text always on the same side.

Two query ids with the same text (up to case and whitespace, ``schema.normalize_text``) ask the same
question: one in train and one in dev would put the dev answer into training. Such ids form one group,
ranked by its first id's hash, and the group goes to dev or train as a whole. Singleton groups rank
exactly as single ids did before, so datasets without duplicate texts split as they always did.
"""

from __future__ import annotations

import hashlib

from rankladder.core.errors import UserError
from rankladder.dataset_builder import schema


def dev_queries(query_ids: list[str], texts: list[str], fraction: float, seed: int) -> set[str]:
    if not 0 <= fraction < 1:
        raise UserError(f"dev_fraction (--dev-fraction): must be in [0, 1), got {fraction}")
    count = round(len(query_ids) * fraction)
    if fraction > 0 and count == 0:
        count = 1
    if count >= len(query_ids) and count > 0:
        raise UserError(f"dev_fraction (--dev-fraction): {fraction} leaves no training queries out of {len(query_ids)}")
    groups: dict[str, list[str]] = {}
    for query_id, text in zip(query_ids, texts):
        groups.setdefault(schema.normalize_text(text), []).append(query_id)

    def rank(members: list[str]) -> str:
        return hashlib.sha256(f"{seed}\x1f{min(members, key=_hash_key(seed))}".encode()).hexdigest()

    dev: set[str] = set()
    for members in sorted(groups.values(), key=rank):
        if len(dev) >= count:
            break
        if len(dev) + len(members) >= len(query_ids):
            continue  # a group that would leave no training query stays in train
        dev.update(members)
    return dev


def _hash_key(seed: int):
    return lambda query_id: hashlib.sha256(f"{seed}\x1f{query_id}".encode()).hexdigest()
