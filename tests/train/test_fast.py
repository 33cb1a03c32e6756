"""Tests for instyle.train.fast: fast per-style and multi-style (CIN) training through the shared loop."""

from __future__ import annotations

import pytest
import torch

from helpers import write_images
from instyle.checkpoint import load_model
from instyle.models import JohnsonNet, TextureNet
from instyle.train import FastTask, FastTrainConfig, TrainConfig, train
from instyle.train.fast import style_name

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # slow: training runs


@pytest.fixture
def data(tmp_path):
    write_images(tmp_path / "content", 4, size=(48, 40), seed=1)
    styles = write_images(tmp_path / "styles", 3, size=(40, 40), seed=2)
    return tmp_path / "content", sorted(styles)


def _cfg(**kw):
    base = dict(
        steps=4,
        batch_size=3,
        image_size=32,
        crop=32,
        workers=0,
        log_every=2,
        checkpoint_every=2,
        sample_every=0,
        precision="fp32",
        channels_last=False,
        lr=1e-3,
    )
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


@pytest.mark.parametrize("model", ["johnson", "texture_net"])
def test_virtual_batch_norm_records_a_fixed_reference_and_ships_it(tmp_path, data, model):
    from instyle.nn import VirtualBatchNorm2d

    content, styles = data
    task = FastTask(
        styles[:1], str(content), FastTrainConfig(model=model, norm="virtual_batch", width=0.25, style_size=32)
    )
    train(task, _cfg(steps=3), tmp_path / "run", progress=False)
    ref = task._reference.clone()
    assert ref.shape == (3, 3, 32, 32)
    train(task, _cfg(steps=5), tmp_path / "run", progress=False, resume=True)
    assert torch.equal(task._reference, ref)  # the same photos and crops every step
    net, _ = load_model(tmp_path / "run" / "model.safetensors")
    layers = [m for m in net.modules() if isinstance(m, VirtualBatchNorm2d)]
    assert layers and all(int(m.ref_count) == 3 for m in layers)
    # at inference a photo's output does not depend on what else is in the batch
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        if model == "johnson":
            both, alone = net(x), net(x[:1])
        else:  # the same noise for the photo either way
            z = net.noise(x, torch.Generator().manual_seed(0))
            both, alone = net(x, None, z=z), net(x[:1], None, z=[t[:1] for t in z])
    # (CPU convolution kernels picked by batch size differ in the last bits: seen at 1.3e-5)
    torch.testing.assert_close(both[:1], alone, atol=1e-4, rtol=1e-4)


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


@pytest.mark.parametrize(
    "bad",
    [
        dict(model="vgg"),
        dict(norm="conditional_instance"),
        dict(content_layer="relu9_1"),
        dict(style_weight=-1),
        dict(style_size=4),
        dict(styles=("a", "a")),
        dict(model="texture_net", residual_blocks=3),
        dict(residual_blocks=-1),
    ],
)
def test_config_validation(bad):
    with pytest.raises(ValueError):
        FastTrainConfig(**bad)


def test_residual_blocks_shape_the_johnson_net(tmp_path, data):
    """``--residual-blocks``: a narrower, shallower network for video trains like any other (the
    distilled student's perceptual fine-tune starts from the student)."""
    content, styles = data
    task = FastTask(styles[:1], str(content), FastTrainConfig(width=0.125, residual_blocks=2, style_size=32))
    train(task, _cfg(steps=1), tmp_path / "r", progress=False)
    net, _ = load_model(tmp_path / "r" / "model.safetensors")
    assert net.config.residual_blocks == 2 and len(net.res) == 2 and net.config.width == 0.125


def test_init_from_starts_a_new_run_from_trained_weights(tmp_path, data):
    content, styles = data
    make = lambda: FastTask(styles[:1], str(content), FastTrainConfig(width=0.25, style_size=32))  # noqa: E731
    train(make(), _cfg(steps=2), tmp_path / "a", progress=False)
    first = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)["model"]
    train(make(), _cfg(steps=1, lr=1e-12), tmp_path / "b", progress=False, init_from=tmp_path / "a" / "checkpoint.pt")
    second = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert second["step"] == 1
    assert all(torch.allclose(first[k].float(), second["model"][k].float(), atol=1e-6) for k in first)
    for other_config in (FastTrainConfig(width=0.5, style_size=32), FastTrainConfig(width=0.25, residual_blocks=2)):
        other = FastTask(styles[:1], str(content), other_config)
        with pytest.raises(Exception, match="cannot start from"):
            train(other, _cfg(steps=1), tmp_path / "c", progress=False, init_from=tmp_path / "a" / "checkpoint.pt")
    with pytest.raises(Exception, match="cannot be combined with resume=True"):
        train(
            make(),
            _cfg(steps=1),
            tmp_path / "a",
            progress=False,
            init_from=tmp_path / "a" / "checkpoint.pt",
            resume=True,
        )


def test_cin_parameters_get_their_own_learning_rate_multiple(tmp_path, data):
    content, styles = data
    task = FastTask(styles, str(content), FastTrainConfig(width=0.25, style_size=32, cin_lr_scale=7.0))
    net = task.build_model()
    groups = task.param_groups(net)
    cin = [m for m in net.modules() if m.__class__.__name__ == "ConditionalInstanceNorm2d"]
    assert len(groups) == 2 and groups[1]["lr_scale"] == 7.0
    assert {id(p) for p in groups[1]["params"]} == {id(p) for m in cin for p in m.parameters()}
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(list(net.parameters()))
    train(task, _cfg(steps=2, schedule="constant"), tmp_path / "run", progress=False)
    opt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["optimizer"]
    assert [g["lr"] for g in opt["param_groups"]] == pytest.approx([1e-3, 7e-3])
    # a single-style net has no CIN: one group at the plain rate
    single = FastTask(styles[:1], str(content), FastTrainConfig(width=0.25, style_size=32))
    assert len(single.param_groups(single.build_model())) == 1
    with pytest.raises(ValueError, match="cin lr scale"):
        FastTrainConfig(cin_lr_scale=0)


def test_a_new_style_is_added_by_training_only_its_gamma_beta(tmp_path, data):
    content, styles = data
    base_task = FastTask(styles[:2], str(content), FastTrainConfig(width=0.25, style_size=32, styles=("a", "b")))
    train(base_task, _cfg(steps=2), tmp_path / "base", progress=False)
    base, _ = load_model(tmp_path / "base" / "model.safetensors")
    task = FastTask(
        styles[2:],
        str(content),
        FastTrainConfig(style_size=32, styles=("c",)),
        add_to=tmp_path / "base" / "model.safetensors",
    )
    assert task.config.width == 0.25 and task.config.base_styles == ("a", "b")
    train(task, _cfg(steps=3, lr=1e-2), tmp_path / "more", progress=False)
    assert task.style_index({"sample": torch.arange(3)}).tolist() == [2, 2, 2]
    net, _ = load_model(tmp_path / "more" / "model.safetensors")
    assert net.config.styles == ("a", "b", "c")
    old, new = base.state_dict(), net.state_dict()
    changed = set()
    for k, v in old.items():
        if new[k].shape == v.shape:
            assert torch.equal(new[k], v), k  # the body is frozen
        else:
            assert torch.equal(new[k][:2], v), k  # the old styles' γ, β are untouched
            changed.add(k)
            if not torch.equal(new[k][2], v.mean(0).half().float()):
                changed.add(k + ":trained")
    assert changed and any(k.endswith(":trained") for k in changed)
    # a name the network has, or a single-style base, is refused
    with pytest.raises(Exception, match="already has a style"):
        FastTask(
            styles[2:],
            str(content),
            FastTrainConfig(style_size=32, styles=("b",)),
            add_to=tmp_path / "base" / "model.safetensors",
        )
    train(
        FastTask(styles[:1], str(content), FastTrainConfig(width=0.25, style_size=32)),
        _cfg(steps=1),
        tmp_path / "single",
        progress=False,
    )
    with pytest.raises(Exception, match="multi-style"):
        FastTask(
            styles[2:], str(content), FastTrainConfig(style_size=32), add_to=tmp_path / "single" / "model.safetensors"
        )


def test_stability_loss_joins_the_perceptual_losses(tmp_path, data):
    from instyle.train.log import read_log

    content, styles = data
    task = FastTask(styles[:2], str(content), FastTrainConfig(width=0.25, style_size=32, stability=10.0))
    train(task, _cfg(steps=2, log_every=1), tmp_path / "run", progress=False)
    rows = read_log(tmp_path / "run" / "log.csv")
    assert all(r["stability"] > 0 for r in rows)
    r = rows[0]
    assert r["loss"] == pytest.approx(r["content"] + 5.0 * r["style"] + 10.0 * r["stability"], rel=0.05)
    with pytest.raises(ValueError, match="noise"):
        FastTrainConfig(noise=0.9)
