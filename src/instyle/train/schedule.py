"""Learning-rate schedules, as pure functions of the step (so a resumed run picks up exactly)."""

from __future__ import annotations

import math

from .config import TrainConfig


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate for optimizer step ``step`` (0-based).

    * inverse (Huang & Belongie 2017): lr / (1 + decay·step), after any warm-up;
    * cosine: linear warm-up over ``warmup_steps``, then lr·(r + (1 − r)·½(1 + cos(π·p))), p the
      fraction of the remaining steps done, r = ``min_lr_ratio``;
    * constant: lr after warm-up.
    """
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "inverse":
        return cfg.lr / (1.0 + cfg.lr_decay * step)
    if cfg.schedule == "cosine":
        span = max(1, cfg.steps - cfg.warmup_steps)
        p = min(1.0, (step - cfg.warmup_steps) / span)
        r = cfg.min_lr_ratio
        return cfg.lr * (r + (1.0 - r) * 0.5 * (1.0 + math.cos(math.pi * p)))
    return cfg.lr
