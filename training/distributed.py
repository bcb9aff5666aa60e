"""Several processes, one training: who writes, who waits, what the launch was.

``accelerate launch`` / ``torchrun`` start one process per device; the Trainer joins them into one
``torch.distributed`` group. Every process trains; only rank 0 touches the output folder (model,
card, manifest, log), the others wait at a barrier so that a command ends when its output exists.
Everything here uses ``torch.distributed``'s public API and is a no-op in a single process.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def _group_ready() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's global rank (0 without a process group)."""
    import torch.distributed as dist

    return dist.get_rank() if _group_ready() else 0


def world_size() -> int:
    """Number of training processes (1 without a process group)."""
    import torch.distributed as dist

    return dist.get_world_size() if _group_ready() else 1


def is_writer() -> bool:
    """Rank 0 writes the output folder; every other rank only trains."""
    return rank() == 0


def barrier() -> None:
    """Wait for every process (nothing to wait for in a single process)."""
    import torch.distributed as dist

    if _group_ready():
        dist.barrier()


def share(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (a picklable object)."""
    import torch.distributed as dist

    if not _group_ready():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value: Any) -> list[Any]:
    """Every rank's ``value``, in rank order, on every rank."""
    import torch.distributed as dist

    if not _group_ready():
        return [value]
    found: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(found, value)
    return found


def describe(per_device_batch: int, accumulation: int, gather_across_devices: bool) -> dict[str, Any]:
    """The launch as the manifest records it: processes, backend, per-device and global batch."""
    import torch.distributed as dist

    size = world_size()
    return {
        "world_size": size,
        "backend": dist.get_backend() if _group_ready() else None,
        "per_device_train_batch_size": per_device_batch,
        "global_batch_size": per_device_batch * size * accumulation,
        "gather_across_devices": gather_across_devices,
        "writer_rank": 0,
    }
