"""Checkpoints: which ones are complete, which one ``--resume_from_checkpoint latest`` takes, and which
errors while saving are the disk's fault (one line, exit 2) rather than a bug."""

from __future__ import annotations

import logging
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.training.provenance import CONFIG_FILE

logger = logging.getLogger(__name__)


def checkpoints_dir(output_dir: Path) -> Path:
    """Where a run's ``checkpoint-N`` folders live: ``OUTPUT_DIR.checkpoints`` beside the model folder.

    The model folder itself appears only when the run is complete (renamed from a temp folder), so a
    killed or failed run never leaves something that loads as a finished model; its checkpoints stay
    here for ``--resume_from_checkpoint latest``.
    """
    output_dir = Path(output_dir)
    return output_dir.with_name(output_dir.name + ".checkpoints")


_OUTPUT_ERROR_TEXTS = ("No space left on device", "Disk quota exceeded", "Read-only file system", "File too large")


def _is_output_error(exc: BaseException) -> bool:
    """Disk full / read-only / quota while saving (torch and safetensors wrap the OSError in their own types)."""
    from rankladder.core.fsutil import OUTPUT_ERRNOS

    if isinstance(exc, OSError) and exc.errno in OUTPUT_ERRNOS:
        return True
    return any(text in str(exc) for text in _OUTPUT_ERROR_TEXTS)


def resolve_resume(value, output_dir: Path):
    if not value:
        return None
    if str(value).lower() in ("true", "last", "latest"):
        last = last_complete_checkpoint(output_dir)
        if last is None:
            raise UserError(f"{output_dir}: no checkpoint to resume from")
        return str(last)
    if not Path(value).is_dir():
        raise UserError(f"{value}: checkpoint folder not found")
    if not checkpoint_is_complete(Path(value)):
        raise UserError(f"{value}: incomplete checkpoint (no trainer_state.json: its save was interrupted)")
    return str(value)


def checkpoint_is_complete(folder: Path) -> bool:
    """The Trainer writes trainer_state.json after the weights, optimizer and RNG state; the provenance
    callback then writes the config (atomically). A save killed half-way lacks them."""
    return (folder / "trainer_state.json").is_file() and (folder / CONFIG_FILE).is_file()


def last_complete_checkpoint(output_dir: Path) -> Path | None:
    """``latest``: the newest ``checkpoint-N`` whose save finished (a kill -9 mid-save leaves a partial one)."""
    import re

    if not output_dir.is_dir():
        return None
    found = sorted(
        (int(m.group(1)), p)
        for p in output_dir.iterdir()
        if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name))
    )
    for _step, folder in reversed(found):
        if checkpoint_is_complete(folder):
            return folder
        logger.warning("%s: incomplete checkpoint (interrupted save), skipped", folder)
    return None
