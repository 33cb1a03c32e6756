"""Tests for instyle.train.schedule: learning rates as pure functions of the step."""

from __future__ import annotations

import itertools
import math

import pytest

from instyle.train.config import TrainConfig
from instyle.train.schedule import lr_at


def test_inverse_is_the_papers_decay():
    cfg = TrainConfig(lr=1e-4, lr_decay=5e-5)
    assert lr_at(0, cfg) == 1e-4
    for step in (1, 100, 10_000, 160_000):
        assert lr_at(step, cfg) == pytest.approx(1e-4 / (1 + 5e-5 * step), rel=1e-12)
    assert lr_at(160_000, cfg) == pytest.approx(1e-4 / 9)
    assert lr_at(0, TrainConfig(lr=1e-3, lr_decay=0.0)) == lr_at(10**6, TrainConfig(lr=1e-3, lr_decay=0.0))


def test_warmup_is_linear_then_the_schedule():
    cfg = TrainConfig(lr=1e-3, warmup_steps=4, schedule="constant")
    assert [lr_at(s, cfg) for s in range(6)] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])
    inv = TrainConfig(lr=1e-3, warmup_steps=4, lr_decay=0.1)
    assert lr_at(3, inv) == pytest.approx(1e-3)
    assert lr_at(10, inv) == pytest.approx(1e-3 / 2)


def test_cosine_goes_from_lr_to_the_floor():
    cfg = TrainConfig(steps=110, lr=1e-3, schedule="cosine", warmup_steps=10, min_lr_ratio=0.1)
    lrs = [lr_at(s, cfg) for s in range(cfg.steps + 1)]
    assert lrs[9] == pytest.approx(1e-3) and lrs[10] == pytest.approx(1e-3)
    assert lrs[60] == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))  # halfway
    assert lrs[110] == pytest.approx(1e-4)
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))  # never increases after warm-up
    assert lr_at(10_000, cfg) == pytest.approx(1e-4)  # past the end: stays at the floor
    assert all(math.isfinite(v) and v > 0 for v in lrs)


def test_cosine_with_warmup_as_long_as_the_run():
    cfg = TrainConfig(steps=5, schedule="cosine", warmup_steps=5, lr=1e-3)
    assert [lr_at(s, cfg) for s in range(5)] == pytest.approx([2e-4, 4e-4, 6e-4, 8e-4, 1e-3])
    assert math.isfinite(lr_at(5, cfg))


def test_pure_function_of_the_step():
    cfg = TrainConfig(steps=50, schedule="cosine", warmup_steps=3)
    forward = [lr_at(s, cfg) for s in range(50)]
    backward = [lr_at(s, cfg) for s in reversed(range(50))][::-1]
    assert forward == backward  # no hidden state: a resumed run gets the same rates
