"""Settings of the shared training loop (every task: AdaIN decoder, fast nets, CIN nets)."""

from __future__ import annotations

from dataclasses import dataclass

from ..choices import SCHEDULES, TRAIN_PRECISIONS, check

# Fields that may change when a run is resumed; any other change breaks exact continuation.
RESUMABLE = frozenset(
    {
        "steps",
        "checkpoint_every",
        "sample_every",
        "log_every",
        "keep_checkpoints",
        "workers",
        "max_minutes",
        "device",
        "precision",
        "channels_last",
    }
)


@dataclass
class TrainConfig:
    """Loop settings. Defaults follow Huang & Belongie 2017 (AdaIN): batch 8, Adam lr 1e-4 decayed
    as lr / (1 + 5e-5·step), shorter side 512 then random 256 crops.

    Attributes:
        steps: optimizer steps in total (a resumed run continues up to this number).
        batch_size: images per process per micro-batch; the effective batch is
            batch_size × grad_accum × processes.
        lr, schedule, lr_decay, warmup_steps, min_lr_ratio: ``"inverse"`` is lr / (1 + lr_decay·step)
            (the paper's); ``"cosine"`` warms up linearly for ``warmup_steps`` then follows a cosine
            from lr down to lr·min_lr_ratio; ``"constant"`` keeps lr (after warm-up).
        grad_accum: micro-batches per optimizer step.
        precision: ``"auto"`` (bf16 on GPUs and CPUs with native bf16, else fp32), ``"fp32"``,
            ``"bf16"``, ``"fp16"`` (CUDA only; with loss scaling).
        channels_last: NHWC memory layout (faster convolutions on CPUs and tensor cores).
        image_size, crop: shorter side resized to image_size, then random crop×crop squares.
        checkpoint_every, keep_checkpoints: save every N steps (and at the end); keep this many
            numbered snapshots besides the latest.
        sample_every: write a sample grid every N steps (0: only at the end).
        max_minutes: stop cleanly (with a checkpoint) after this much wall time in this run.
        workers: data-loading processes (None: a sensible number for this machine).
        clip_grad: clip the gradient norm to this value (None: no clipping).
    """

    steps: int = 160_000
    batch_size: int = 8
    lr: float = 1e-4
    schedule: str = "inverse"
    lr_decay: float = 5e-5
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    grad_accum: int = 1
    precision: str = "auto"
    channels_last: bool = True
    image_size: int = 512
    crop: int = 256
    seed: int = 0
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    sample_every: int = 1000
    log_every: int = 10
    max_minutes: float | None = None
    workers: int | None = None
    clip_grad: float | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        positive = {
            "steps": self.steps,
            "batch_size": self.batch_size,
            "grad_accum": self.grad_accum,
            "checkpoint_every": self.checkpoint_every,
            "log_every": self.log_every,
        }
        for name, v in positive.items():
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name.replace('_', ' ')} must be a positive integer, got {v!r}")
        for name in ("warmup_steps", "keep_checkpoints", "sample_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', ' ')} must be >= 0, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"learning rate must be > 0, got {self.lr}")
        check(self.schedule, SCHEDULES, "schedule")
        if self.lr_decay < 0:
            raise ValueError(f"lr decay must be >= 0, got {self.lr_decay}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"min lr ratio must be in [0, 1], got {self.min_lr_ratio}")
        check(self.precision, TRAIN_PRECISIONS, "precision")
        if self.crop < 16 or self.image_size < self.crop:
            raise ValueError(f"need 16 <= crop <= image size, got crop {self.crop}, image size {self.image_size}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ValueError(f"max minutes must be > 0, got {self.max_minutes}")
        if self.workers is not None and self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if self.clip_grad is not None and not self.clip_grad > 0:
            raise ValueError(f"gradient clipping norm must be > 0, got {self.clip_grad}")
