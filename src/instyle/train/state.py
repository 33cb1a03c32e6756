"""Training checkpoints: everything needed to continue a run exactly, written atomically.

``run/checkpoint.pt`` is always the latest complete checkpoint: it is written to a temporary file,
fsync'ed and renamed over the old one, so a crash or SIGKILL at any moment leaves either the
previous checkpoint or the new one, never a torn file. Numbered snapshots
(``run/checkpoints/step_00001000.pt``) are hard links to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from ..atomic import write_with
from ..checkpoint import FORMAT_VERSION, TRAIN_FORMAT, read_model_file
from ..errors import InstyleError, OptionError, WeightsError
from .config import RESUMABLE, TrainConfig

LATEST = "checkpoint.pt"
SNAPSHOTS = "checkpoints"


def save_checkpoint(run_dir: Path, state: dict[str, Any], *, keep: int) -> Path:
    """Write ``state`` as the run's latest checkpoint and a numbered snapshot (keeping ``keep``)."""
    state = {"format": TRAIN_FORMAT, "format_version": FORMAT_VERSION, **state}
    path = write_with(run_dir / LATEST, lambda f: torch.save(state, f), overwrite=True, what="checkpoint")
    if keep > 0:
        snaps = run_dir / SNAPSHOTS
        snaps.mkdir(exist_ok=True)
        snap = snaps / f"step_{state['step']:08d}.pt"
        try:
            if snap.exists():
                snap.unlink()
            os.link(path, snap)
        except OSError:  # no hard links here: a second atomic copy
            write_with(snap, lambda f: torch.save(state, f), overwrite=True, what="checkpoint")
        for old in sorted(snaps.glob("step_*.pt"))[:-keep]:
            old.unlink(missing_ok=True)
    return path


def remove_stale_temporaries(run_dir: Path) -> None:
    """Delete temporary files left by a writer that was killed mid-write."""
    for folder in (run_dir, run_dir / SNAPSHOTS):
        for tmp in folder.glob(".*.tmp") if folder.is_dir() else ():
            tmp.unlink(missing_ok=True)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A training checkpoint as a dict; a clear WeightsError for anything that is not one."""
    read_model_file(path)  # validates format, version and model kind with one-line errors
    return torch.load(path, map_location="cpu", weights_only=True)


def check_resumable(
    ckpt: Mapping[str, Any],
    *,
    task: str,
    task_config: Mapping[str, Any],
    train_config: TrainConfig,
    where: str,
    task_resumable: Iterable[str] = (),
) -> None:
    """Refuse to resume a run with settings that would not continue it exactly."""
    if ckpt.get("task") != task:
        raise InstyleError(f"cannot resume {where}: it is a {ckpt.get('task')!r} run, not {task!r}")
    diffs = []
    old = ckpt.get("task_config", {})
    # Fields added by later versions, or that do not change the run (e.g. a cache budget), are not differences.
    for k in sorted((set(old) & set(task_config)) - set(task_resumable)):
        if normalize(old.get(k)) != normalize(task_config.get(k)):
            diffs.append(f"{k}={old.get(k)!r} (now {task_config.get(k)!r})")
    old_train = ckpt.get("train_config", {})
    for k, v in asdict(train_config).items():
        if k not in RESUMABLE and k in old_train and normalize(old_train[k]) != normalize(v):
            diffs.append(f"{k}={old_train[k]!r} (now {v!r})")
    if diffs:
        raise OptionError(
            f"cannot resume {where}: it was trained with {', '.join(diffs[:4])}"
            f"{' and more' if len(diffs) > 4 else ''}; use the same settings or a new {{out}}",
            exit_code=1,
            out=("run folder", "--out"),
        )


def normalize(v: Any) -> Any:
    """Tuples as lists, recursively (JSON and checkpoints do not keep tuples)."""
    if isinstance(v, (list, tuple)):
        return [normalize(x) for x in v]
    if isinstance(v, dict):
        return {k: normalize(x) for k, x in v.items()}
    return v


def find_latest(run_dir: Path) -> Path:
    path = run_dir / LATEST
    if not path.exists():
        raise WeightsError(f"nothing to resume: {run_dir} has no {LATEST}")
    return path
