"""Tests for instyle.train.fast: fast per-style and multi-style (CIN) training through the shared loop."""

from __future__ import annotations

import pytest
import torch

from instyle.checkpoint import load_model
from instyle.models import JohnsonNet, TextureNet
from instyle.train import FastTask, FastTrainConfig, TrainConfig, train
from instyle.train.fast import style_name

from helpers import write_images

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def data(tmp_path):
    write_images(tmp_path / "content", 4, size=(48, 40), seed=1)
    styles = write_images(tmp_path / "styles", 3, size=(40, 40), seed=2)
    return tmp_path / "content", sorted(styles)


def _cfg(**kw):
    base = dict(steps=4, batch_size=3, image_size=32, crop=32, workers=0, log_every=2, checkpoint_every=2,
                sample_every=0, precision="fp32", channels_last=False, lr=1e-3)
    base.update(kw)
    return TrainConfig(**base)


def test_style_names_from_file_names():
    assert style_name("/x/Starry Night.jpg") == "starry_night"
    assert style_name("a-b.c.png") == "a_b_c"


@pytest.mark.parametrize("model", ["johnson", "texture_net"])
def test_single_style_training_lowers_the_loss_and_exports(tmp_path, data, model):
    content, styles = data
    task = FastTask(styles[:1], str(content), FastTrainConfig(model=model, width=0.25, style_size=32))
    result = train(task, _cfg(steps=12, log_every=2), tmp_path / "run", progress=False)
    from instyle.train.log import read_log

    rows = read_log(tmp_path / "run" / "log.csv")
    assert rows[-1]["loss"] < rows[0]["loss"]
    net, _ = load_model(tmp_path / "run" / "model.safetensors", expect=model)
    assert isinstance(net, JohnsonNet if model == "johnson" else TextureNet)
    assert net.config.norm == "instance" and net.config.styles == ()
    assert result.step == 12


def test_batch_norm_switch_builds_a_batch_norm_net(tmp_path, data):
    content, styles = data
    task = FastTask(styles[:1], str(content), FastTrainConfig(norm="batch", width=0.25, style_size=32))
    train(task, _cfg(steps=2), tmp_path / "run", progress=False)
    net, _ = load_model(tmp_path / "run" / "model.safetensors")
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())


def test_several_styles_make_a_conditional_network_and_each_sample_has_its_style(tmp_path, data):
    content, styles = data
    task = FastTask(styles, str(content), FastTrainConfig(width=0.25, style_size=32))
    assert task.config.styles == tuple(style_name(p) for p in styles)
    train(task, _cfg(steps=2), tmp_path / "run", progress=False)
    batch = {"sample": torch.arange(6)}
    assert task.style_index(batch).tolist() == [0, 1, 2, 0, 1, 2]
    net, _ = load_model(tmp_path / "run" / "model.safetensors", expect="johnson")
    assert net.config.norm == "conditional_instance" and net.config.styles == task.config.styles


def test_resume_is_exact_for_the_texture_net_with_noise(tmp_path, data):
    content, styles = data
    make = lambda: FastTask(styles[:1], str(content), FastTrainConfig(model="texture_net", style_size=32))  # noqa: E731
    train(make(), _cfg(steps=4), tmp_path / "a", progress=False)
    train(make(), _cfg(steps=4), tmp_path / "b", progress=False, stop_at=2)
    train(make(), _cfg(steps=4), tmp_path / "b", progress=False, resume=True)
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("bad", [dict(model="vgg"), dict(norm="conditional_instance"), dict(content_layer="relu9_1"),
                                 dict(style_weight=-1), dict(style_size=4), dict(styles=("a", "a"))])
def test_config_validation(bad):
    with pytest.raises(ValueError):
        FastTrainConfig(**bad)


def test_init_from_starts_a_new_run_from_trained_weights(tmp_path, data):
    content, styles = data
    make = lambda: FastTask(styles[:1], str(content), FastTrainConfig(width=0.25, style_size=32))  # noqa: E731
    train(make(), _cfg(steps=2), tmp_path / "a", progress=False)
    first = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)["model"]
    train(make(), _cfg(steps=1, lr=1e-12), tmp_path / "b", progress=False, init_from=tmp_path / "a" / "checkpoint.pt")
    second = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert second["step"] == 1
    assert all(torch.allclose(first[k].float(), second["model"][k].float(), atol=1e-6) for k in first)
    other = lambda: FastTask(styles[:1], str(content), FastTrainConfig(width=0.5, style_size=32))  # noqa: E731
    with pytest.raises(Exception, match="cannot start from"):
        train(other(), _cfg(steps=1), tmp_path / "c", progress=False, init_from=tmp_path / "a" / "checkpoint.pt")
    with pytest.raises(Exception, match="--resume"):
        train(make(), _cfg(steps=1), tmp_path / "a", progress=False, init_from=tmp_path / "a" / "checkpoint.pt",
              resume=True)
