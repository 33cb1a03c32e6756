"""Tests for the training settings' validation: TrainConfig and AdaINTrainConfig."""

from __future__ import annotations

import pytest

from instyle.train.adain import AdaINTrainConfig
from instyle.train.config import RESUMABLE, TrainConfig


def test_defaults_are_the_papers():
    cfg = TrainConfig()
    assert (cfg.batch_size, cfg.lr, cfg.lr_decay, cfg.image_size, cfg.crop) == (8, 1e-4, 5e-5, 512, 256)
    assert cfg.schedule == "inverse" and cfg.steps == 160_000
    a = AdaINTrainConfig()
    assert (a.style_weight, a.content_weight, a.tv_weight) == (10.0, 1.0, 0.0)
    assert a.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": 0}, "steps must be a positive integer"),
        ({"steps": -5}, "steps must be a positive integer"),
        ({"steps": 2.5}, "steps must be a positive integer"),
        ({"steps": True}, "steps must be a positive integer"),
        ({"batch_size": 0}, "batch size must be a positive integer"),
        ({"grad_accum": 0}, "grad accum must be a positive integer"),
        ({"checkpoint_every": 0}, "checkpoint every"),
        ({"log_every": 0}, "log every"),
        ({"warmup_steps": -1}, "warmup steps must be >= 0"),
        ({"keep_checkpoints": -1}, "keep checkpoints must be >= 0"),
        ({"sample_every": -1}, "sample every must be >= 0"),
        ({"lr": 0.0}, "learning rate must be > 0"),
        ({"lr": float("nan")}, "learning rate must be > 0"),
        ({"schedule": "step"}, "schedule must be one of inverse, cosine, constant"),
        ({"lr_decay": -1e-5}, "lr decay must be >= 0"),
        ({"min_lr_ratio": 1.5}, r"min lr ratio must be in \[0, 1\]"),
        ({"min_lr_ratio": -0.1}, r"min lr ratio must be in \[0, 1\]"),
        ({"precision": "fp8"}, "precision must be one of auto, fp32, bf16, fp16"),
        ({"crop": 8, "image_size": 64}, "need 16 <= crop <= image size"),
        ({"crop": 128, "image_size": 64}, "need 16 <= crop <= image size"),
        ({"max_minutes": 0}, "max minutes must be > 0"),
        ({"max_minutes": -1.0}, "max minutes must be > 0"),
        ({"workers": -1}, "workers must be >= 0"),
        ({"clip_grad": 0.0}, "gradient clipping norm must be > 0"),
    ],
)
def test_train_config_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match) as exc:
        TrainConfig(**kwargs)
    assert "\n" not in str(exc.value)


def test_train_config_accepts_edge_values():
    cfg = TrainConfig(
        steps=1,
        batch_size=1,
        crop=16,
        image_size=16,
        warmup_steps=0,
        keep_checkpoints=0,
        sample_every=0,
        min_lr_ratio=1.0,
        max_minutes=0.001,
        workers=0,
        clip_grad=1.0,
    )
    assert cfg.crop == cfg.image_size == 16


def test_resumable_fields_exist():
    # a typo here would silently make a field "must match" on resume
    assert set(TrainConfig.__dataclass_fields__) >= RESUMABLE
    assert not {"batch_size", "lr", "seed", "crop", "image_size", "grad_accum"} & RESUMABLE


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"style_weight": -1.0}, "style weight must be >= 0"),
        ({"content_weight": -0.5}, "content weight must be >= 0"),
        ({"tv_weight": -1e-3}, "tv weight must be >= 0"),
        ({"cache_gb": -1.0}, "cache gb must be >= 0"),
        ({"style_layers": ()}, "at least one style layer"),
        ({"style_layers": ("relu1_1", "conv2_1")}, "style layers must be relu layers up to relu4_1"),
        ({"style_layers": ("relu1_1", "relu5_1")}, "style layers must be relu layers up to relu4_1"),
        ({"style_layers": ("bogus",)}, "style layers must be relu layers"),
        ({"crops_per_image": 0}, "crops per image must be >= 1"),
        ({"width": 0.0}, "decoder width must be in"),
        ({"width": 4.5}, "decoder width must be in"),
    ],
)
def test_adain_train_config_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AdaINTrainConfig(**kwargs)


def test_adain_train_config_normalizes_layers():
    cfg = AdaINTrainConfig(style_layers=["relu2_1", "relu4_1"], width=0.5)
    assert cfg.style_layers == ("relu2_1", "relu4_1")
