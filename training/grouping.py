"""Groups of G graded documents per query, redrawn every epoch.

``GroupedLists`` is a ``datasets`` transform: it turns a row of the merged lists (``load_lists``)
into ``query, doc_0, ..., doc_{G-1}, labels``. Which documents it picks depends only on
``(seed, epoch, query_id)``, so a resumed run sees the very same groups as an uninterrupted one.
``EpochBatchSampler`` shuffles rows with ``seed + epoch`` and tells the transform the epoch.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator

import torch
from sentence_transformers.base.sampler import DefaultBatchSampler

from rankladder.core.errors import UserError

STRATEGIES = ("random", "most_relevant", "one_per_level")


class GroupedLists:
    """Callable for ``Dataset.set_transform``: pick ``group_size`` documents per query.

    Args:
        group_size: G, documents per training row.
        strategy: ``random`` (uniform), ``most_relevant`` (highest labels first, ties broken at
            random) or ``one_per_level`` (one document per distinct level, highest level first,
            round after round).
        cycle: when a query has fewer than G documents, repeat them (shuffled) to fill the group;
            without cycling such queries are dropped by :func:`make_train_dataset`.
        random_k: per source index, draw at most k of that source's documents (every epoch).
        seed: base seed.
    """

    def __init__(
        self,
        group_size: int,
        strategy: str = "random",
        cycle: bool = True,
        random_k: dict[int, int] | None = None,
        seed: int = 42,
    ) -> None:
        if group_size < 1:
            raise UserError(f"group_size must be at least 1, got {group_size}")
        if strategy not in STRATEGIES:
            raise UserError(f"group strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
        self.group_size = group_size
        self.strategy = strategy
        self.cycle = cycle
        self.random_k = {int(k): int(v) for k, v in (random_k or {}).items() if v is not None}
        self.seed = seed
        self.epoch = 0

    @property
    def columns(self) -> list[str]:
        return ["query"] + [f"doc_{j}" for j in range(self.group_size)] + ["labels"]

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        out: dict[str, list] = {name: [] for name in self.columns}
        for qid, query, docs, labels, sources in zip(
            batch["query_id"], batch["query"], batch["documents"], batch["labels"], batch["doc_sources"]
        ):
            rng = random.Random(f"{self.seed}:{self.epoch}:{qid}")
            chosen = self.choose(list(labels), list(sources), rng)
            out["query"].append(query)
            for j, index in enumerate(chosen):
                out[f"doc_{j}"].append(docs[index])
            out["labels"].append([float(labels[i]) for i in chosen])
        return out

    def choose(self, labels: list[float], sources: list[int], rng: random.Random) -> list[int]:
        """Indices of the G chosen documents of one query."""
        pool = list(range(len(labels)))
        if self.random_k:
            by_source = defaultdict(list)
            for i in pool:
                by_source[sources[i]].append(i)
            pool = []
            for source, members in sorted(by_source.items()):
                k = self.random_k.get(source)
                pool += members if k is None or k >= len(members) else rng.sample(members, k)
            pool.sort()
        if self.strategy == "random":
            order = rng.sample(pool, len(pool))
        elif self.strategy == "most_relevant":
            order = sorted(pool, key=lambda i: (-labels[i], rng.random()))
        else:
            order = one_per_level_order(pool, labels, rng)
        if len(order) >= self.group_size:
            chosen = order[: self.group_size]
        elif not self.cycle:
            raise UserError(
                f"a query has {len(order)} documents, fewer than group_size={self.group_size}, and cycling is off"
            )
        else:
            chosen = (order * (self.group_size // len(order) + 1))[: self.group_size]
        return rng.sample(chosen, len(chosen))  # no positional hint about the level


def one_per_level_order(pool: list[int], labels: list[float], rng: random.Random) -> list[int]:
    """Round-robin over levels (highest first), a random not-yet-used document from each."""
    levels = defaultdict(list)
    for i in pool:
        levels[labels[i]].append(i)
    queues = [rng.sample(members, len(members)) for _, members in sorted(levels.items(), reverse=True)]
    order = []
    while any(queues):
        for queue in queues:
            if queue:
                order.append(queue.pop())
    return order


def make_train_dataset(lists, grouper: GroupedLists):
    """Attach ``grouper`` to the merged lists; drop queries that cannot fill a group without cycling."""
    if not grouper.cycle:
        lengths = [len(labels) for labels in lists["labels"]]
        keep = [i for i, n in enumerate(lengths) if n >= grouper.group_size]
        if not keep:
            raise UserError(
                f"group_size={grouper.group_size} is larger than every list (longest has {max(lengths)} "
                "documents); lower --group_size or allow cycling (--cycle)"
            )
        lists = lists.select(keep)
    lists = lists.with_transform(grouper)
    return lists


class EpochBatchSampler(DefaultBatchSampler):
    """Shuffle with ``seed + epoch`` each epoch and hand the epoch to the dataset's ``GroupedLists``.

    Under ``accelerate launch`` with W processes, accelerate gives process ``r`` the batches ``r, r+W,
    r+2W, ...`` of this sampler. So the sampler cuts each *global* batch (``W × batch_size`` rows of the
    epoch's order) into W equal local batches: at every step the processes hold disjoint parts of what
    one process with the global batch would hold, in rank order, and an epoch covers each row once.
    A last, short global batch is split evenly too (gathering needs equal shapes); the fewer than W rows
    that do not split evenly wait for the next epoch's shuffle. With one process nothing changes.
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        drop_last: bool,
        valid_label_columns=None,
        generator: torch.Generator | None = None,
        seed: int = 0,
        num_processes: int | None = None,
    ) -> None:
        super().__init__(
            range(len(dataset)),
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        transform = (dataset.format.get("format_kwargs") or {}).get("transform")
        self.grouper = transform if isinstance(transform, GroupedLists) else None
        self.num_rows = len(dataset)
        if num_processes is None:
            from rankladder.training.distributed import world_size

            num_processes = world_size()
        self.num_processes = num_processes

    def set_epoch(self, epoch: int) -> None:
        """The Trainer calls this before it starts the epoch's DataLoader, i.e. before dataloader workers
        copy the dataset: setting the transform's epoch here reaches them (``__iter__`` runs after)."""
        super().set_epoch(epoch)
        if self.grouper is not None:
            self.grouper.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        if self.grouper is not None:
            self.grouper.epoch = self.epoch
        yield from self.local_batches()

    def local_batches(self) -> list[list[int]]:
        """This epoch's batches in the order accelerate deals them out (global batch k = batches kW..kW+W-1)."""
        generator = torch.Generator().manual_seed(int(self.seed or 0) + self.epoch)
        order = torch.randperm(self.num_rows, generator=generator).tolist()
        processes, size = self.num_processes, self.batch_size
        batches = []
        for start in range(0, self.num_rows, size * processes):
            chunk = order[start : start + size * processes]
            if len(chunk) < size * processes:
                if self.drop_last or len(chunk) < processes:
                    break
                size = len(chunk) // processes
            batches += [chunk[rank * size : (rank + 1) * size] for rank in range(processes)]
        return batches

    def __len__(self) -> int:
        full, rest = divmod(self.num_rows, self.batch_size * self.num_processes)
        short = not self.drop_last and rest >= self.num_processes
        return (full + short) * self.num_processes
