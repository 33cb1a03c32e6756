"""Tests for instyle.train.light: the light AdaIN network learns through the shared loop in both
segments of its recipe (distillation, then the AdaIN losses judged by VGG-19), resumes, starts
from an earlier segment, and refuses bad settings."""

from __future__ import annotations

import pytest
import torch

from helpers import write_images
from instyle.checkpoint import load_model
from instyle.models import LightAdaIN
from instyle.train import LightAdaINTask, LightTrainConfig, TrainConfig, train
from instyle.train.log import read_log

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # slow: VGG-19 and training


@pytest.fixture
def folders(tmp_path):
    write_images(tmp_path / "content", 4, size=(48, 40), seed=1)
    write_images(tmp_path / "style", 3, size=(40, 56), seed=2)
    return str(tmp_path / "content"), str(tmp_path / "style")


def _cfg(**kw):
    base = dict(
        steps=12,
        batch_size=2,
        image_size=32,
        crop=32,
        workers=0,
        log_every=2,
        checkpoint_every=6,
        sample_every=0,
        precision="fp32",
        channels_last=False,
        lr=2e-3,
    )
    base.update(kw)
    return TrainConfig(**base)


DISTIL = dict(style_weight=0.0, content_weight=0.0)


def test_distillation_lowers_feature_and_reconstruction_losses(tmp_path, folders):
    task = LightAdaINTask(*folders, LightTrainConfig(**DISTIL))
    train(task, _cfg(steps=30), tmp_path / "run", progress=False)
    rows = read_log(tmp_path / "run" / "log.csv")
    assert rows[-1]["distill"] < rows[0]["distill"]
    assert rows[-1]["recon"] < rows[0]["recon"]
    assert rows[-1]["content"] == 0 and rows[-1]["style"] == 0  # no VGG judge in this segment
    net, _ = load_model(tmp_path / "run" / "model.safetensors", expect="adain_light")
    assert isinstance(net, LightAdaIN) and net.config.width == 0.25


def test_adain_segment_starts_from_the_distilled_network(tmp_path, folders):
    train(LightAdaINTask(*folders, LightTrainConfig(**DISTIL)), _cfg(steps=4), tmp_path / "a", progress=False)
    task = LightAdaINTask(*folders, LightTrainConfig(distill_weight=0.1, recon_weight=0.0))
    msgs = []
    train(
        task,
        _cfg(steps=6),
        tmp_path / "b",
        progress=False,
        init_from=tmp_path / "a" / "model.safetensors",
        say=msgs.append,
    )
    assert any("starting from the weights" in m for m in msgs)
    rows = read_log(tmp_path / "b" / "log.csv")
    assert all(r["content"] > 0 and r["style"] > 0 and r["recon"] == 0 for r in rows)


def test_resume_continues_the_run(tmp_path, folders):
    task = lambda: LightAdaINTask(*folders, LightTrainConfig(**DISTIL))  # noqa: E731
    train(task(), _cfg(steps=12), tmp_path / "run", progress=False, stop_at=6)
    result = train(task(), _cfg(steps=12), tmp_path / "run", progress=False, resume=True)
    assert result.step == 12


def test_sample_grid_shows_reconstruction_and_styles(tmp_path, folders):
    task = LightAdaINTask(*folders, LightTrainConfig(**DISTIL), n_samples=2)
    train(task, _cfg(steps=2, sample_every=2), tmp_path / "run", progress=False)
    grids = sorted((tmp_path / "run" / "samples").glob("*.jpg")) + sorted((tmp_path / "run" / "samples").glob("*.png"))
    assert grids


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(distill_weight=-1.0), "distill weight"),
        (dict(recon_weight=-0.5), "recon weight"),
        (dict(width=0.0), "width"),
        (dict(width=2.0), "width"),
        (dict(distill_weight=0, recon_weight=0, content_weight=0, style_weight=0), "nothing to train"),
        (dict(style_layers=("relu5_1",)), "style layers"),
    ],
)
def test_bad_settings_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        LightTrainConfig(**kw)


def test_losses_are_finite_and_all_parts_reported(folders):
    task = LightAdaINTask(*folders, LightTrainConfig())
    from instyle.data import CropSpec

    task.streams(CropSpec(image_size=32, crop=32))
    task.prepare(torch.device("cpu"), channels_last=False)
    model = task.build_model()
    batch = {"content": torch.rand(2, 3, 32, 32), "style": torch.rand(2, 3, 32, 32)}
    total, parts = task.loss(model, batch)
    assert set(parts) == set(task.loss_names)
    assert torch.isfinite(total) and all(torch.isfinite(v) for v in parts.values())
    total.backward()
    assert model.encoder.stages[0][0][1].weight.grad is not None
    assert model.project["relu1_1"].weight.grad is not None
