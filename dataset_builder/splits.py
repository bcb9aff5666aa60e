"""The dev split of ``build``: whole queries held out, and queries of one text always on the same side.

Two query ids with the same text (up to case, whitespace and punctuation: ``schema.normalize_text``, then
punctuation dropped, so "How long to boil an egg?" and "how long to boil an egg" meet) ask the same
question: one in train and one in dev would put the dev answer into training. Such ids form one group
(keyed by a digest of the normalised text, ``text_key``), ranked by the hash of its member with the smallest
hash, and the group goes to dev or train as a whole. Singleton groups rank exactly as single ids did before,
so datasets without duplicate texts split as they always did. ``build`` forms the groups partition by
partition and feeds only the reachable ones to ``choose_dev``: the same split without holding every query.
"""

from __future__ import annotations

import hashlib
import re

from rankladder.core.errors import UserError
from rankladder.dataset_builder import schema


def dev_count(queries: int, fraction: float) -> int:
    """How many queries ``fraction`` holds out (at least one when it is above 0), or UserError."""
    if not 0 <= fraction < 1:
        raise UserError(f"dev_fraction (--dev-fraction): must be in [0, 1), got {fraction}")
    count = round(queries * fraction)
    if fraction > 0 and count == 0:
        count = 1
    if count >= queries and count > 0:
        raise UserError(f"dev_fraction (--dev-fraction): {fraction} leaves no training queries out of {queries}")
    return count


def group_rank(members: list[str], seed: int) -> str:
    """A group's place in the dev order: the hash of its member with the smallest own hash."""
    return hashlib.sha256(f"{seed}\x1f{min(members, key=_hash_key(seed))}".encode()).hexdigest()


_PUNCTUATION = re.compile(r"[^\w\s]+")


def text_key(text: str) -> bytes:
    """What groups query ids of one text (``schema.normalize_text`` without punctuation), as a fixed-size
    digest, so groups can be formed in partitions by ``build`` without holding every text."""
    words = _PUNCTUATION.sub("", schema.normalize_text(text)).split()
    return hashlib.sha256(" ".join(words).encode("utf-8")).digest()[:16]


def choose_dev(groups_by_rank, count: int, queries: int) -> set[str]:
    """Take whole groups (member lists, in rank order) until ``count`` ids are held out; a group that would
    leave no training query stays in train. Stops reading ``groups_by_rank`` once enough are taken."""
    dev: set[str] = set()
    for members in groups_by_rank:
        if len(dev) >= count:
            break
        if len(dev) + len(members) >= queries:
            continue
        dev.update(members)
    return dev


def dev_queries(query_ids: list[str], texts: list[str], fraction: float, seed: int) -> set[str]:
    count = dev_count(len(query_ids), fraction)
    groups: dict[bytes, list[str]] = {}
    for query_id, text in zip(query_ids, texts):
        groups.setdefault(text_key(text), []).append(query_id)
    ranked = sorted(groups.values(), key=lambda members: group_rank(members, seed))
    return choose_dev(ranked, count, len(query_ids))


def _hash_key(seed: int):
    return lambda query_id: hashlib.sha256(f"{seed}\x1f{query_id}".encode()).hexdigest()
