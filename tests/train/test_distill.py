"""Tests for instyle.train.distill: a student network learns a teacher's outputs through the shared
loop, keeps its styles, resumes, shows teacher and student side by side, and refuses bad teachers."""

from __future__ import annotations

import pytest
import torch

from helpers import write_images
from instyle.checkpoint import load_model, save_model
from instyle.errors import InstyleError, UsageError
from instyle.models import JohnsonConfig, JohnsonNet, TextureNet, TextureNetConfig
from instyle.nn.norm import ConditionalInstanceNorm2d
from instyle.train import DistillConfig, DistillTask, TrainConfig, train
from instyle.train.log import read_log

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # slow: training runs


@pytest.fixture
def teacher(tmp_path):
    torch.manual_seed(0)
    net = JohnsonNet(JohnsonConfig(norm="conditional_instance", width=0.25, residual_blocks=1, styles=("a", "b")))
    for m in net.modules():
        if isinstance(m, ConditionalInstanceNorm2d):
            torch.nn.init.normal_(m.weight, 1.0, 0.5)
            torch.nn.init.normal_(m.bias, 0.0, 0.5)
    return save_model(tmp_path / "teacher.safetensors", net)


@pytest.fixture
def content(tmp_path):
    write_images(tmp_path / "content", 4, size=(48, 40), seed=1)
    return str(tmp_path / "content")


def _cfg(**kw):
    base = dict(
        steps=30,
        batch_size=4,
        image_size=32,
        crop=32,
        workers=0,
        log_every=5,
        checkpoint_every=10,
        sample_every=0,
        precision="fp32",
        channels_last=False,
        lr=3e-3,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_the_student_learns_the_teachers_outputs_for_every_style(tmp_path, teacher, content):
    task = DistillTask(content, DistillConfig(teacher=str(teacher), width=0.125, residual_blocks=0))
    train(task, _cfg(), tmp_path / "run", progress=False)
    rows = read_log(tmp_path / "run" / "log.csv")
    assert rows[-1]["l1"] < 0.7 * rows[0]["l1"]
    student, meta = load_model(tmp_path / "run" / "model.safetensors", expect="johnson")
    assert student.config == JohnsonConfig(
        norm="conditional_instance", width=0.125, residual_blocks=0, styles=("a", "b")
    )
    assert meta["distilled_from"] == "teacher.safetensors"
    teach, _ = load_model(teacher)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        for s in (0, 1):
            target = teach(x, torch.tensor([s])).clamp(0, 1)
            fresh = JohnsonNet(student.config).eval()(x, torch.tensor([s]))
            assert (student(x, torch.tensor([s])) - target).abs().mean() < (fresh - target).abs().mean()


def test_resume_continues_and_a_changed_student_is_refused(tmp_path, teacher, content):
    cfg = DistillConfig(teacher=str(teacher), width=0.125, residual_blocks=0, loss="mse")
    train(DistillTask(content, cfg), _cfg(steps=4, checkpoint_every=2), tmp_path / "run", progress=False, stop_at=2)
    result = train(
        DistillTask(content, cfg), _cfg(steps=4, checkpoint_every=2), tmp_path / "run", progress=False, resume=True
    )
    assert result.step == 4
    wider = DistillConfig(teacher=str(teacher), width=0.25, residual_blocks=0, loss="mse")
    with pytest.raises(InstyleError, match="width"):
        train(DistillTask(content, wider), _cfg(steps=6), tmp_path / "run", progress=False, resume=True)


def test_sample_grid_shows_teacher_and_student(tmp_path, teacher, content):
    task = DistillTask(content, DistillConfig(teacher=str(teacher), width=0.125, residual_blocks=0, preview_styles=2))
    train(task, _cfg(steps=2, sample_every=2), tmp_path / "run", progress=False)
    sheets = sorted((tmp_path / "run" / "samples").glob("*.jpg"))
    assert sheets
    from PIL import Image

    with Image.open(sheets[-1]) as im:  # 1 content column + (teacher, student) × 2 styles
        assert im.width > 4 * 160


def test_bad_teachers_and_settings_are_refused(tmp_path, content):
    tn = save_model(tmp_path / "tn.safetensors", TextureNet(TextureNetConfig(scales=2)))
    with pytest.raises(UsageError, match="not a Johnson"):
        DistillTask(content, DistillConfig(teacher=str(tn)))
    with pytest.raises(InstyleError):
        DistillTask(content, DistillConfig(teacher=str(tmp_path / "missing.safetensors")))
    with pytest.raises(ValueError, match="loss"):
        DistillConfig(teacher="x", loss="l3")
    with pytest.raises(ValueError, match="teacher"):
        DistillConfig()


def test_stability_loss_is_trained_and_logged(tmp_path, teacher, content):
    cfg = DistillConfig(teacher=str(teacher), width=0.25, residual_blocks=1, stability=4.0, noise=0.0)
    train(DistillTask(content, cfg), _cfg(steps=4, log_every=2), tmp_path / "run", progress=False)
    rows = read_log(tmp_path / "run" / "log.csv")
    assert all(r["stability"] > 0 for r in rows)
    assert rows[0]["loss"] == pytest.approx(rows[0]["l1"] + 4.0 * rows[0]["stability"], rel=0.05)
    plain = DistillConfig(teacher=str(teacher), width=0.25, residual_blocks=1)
    train(DistillTask(content, plain), _cfg(steps=2, log_every=2), tmp_path / "plain", progress=False)
    assert read_log(tmp_path / "plain" / "log.csv")[-1]["stability"] == 0
    with pytest.raises(ValueError, match="stability"):
        DistillConfig(teacher="x", stability=-1.0)


def test_teacher_scale_targets_the_teachers_output_painted_larger_and_shrunk(teacher, content):
    from instyle.resize import resize_to

    torch.manual_seed(3)
    x = torch.rand(2, 3, 32, 40)
    sel = torch.tensor([0, 1])
    one = DistillTask(content, DistillConfig(teacher=str(teacher), width=0.125))
    two = DistillTask(content, DistillConfig(teacher=str(teacher), width=0.125, teacher_scale=2.0))
    with torch.no_grad():
        plain = one.teacher(x, sel).clamp(0, 1)
        big = two.teacher(resize_to(x, (64, 80)), sel).clamp(0, 1)
    assert torch.equal(one.teach(x, sel), plain)  # scale 1: the teacher's output as it is
    target = two.teach(x, sel)
    assert target.shape == x.shape
    assert torch.allclose(target, resize_to(big, (32, 40)).clamp(0, 1))
    assert (target - plain).abs().mean() > 1e-3  # painted at 64×80, not at 32×40


def test_teacher_scale_is_trained_and_bounded(tmp_path, teacher, content):
    cfg = DistillConfig(teacher=str(teacher), width=0.125, residual_blocks=0, teacher_scale=2.0)
    train(DistillTask(content, cfg), _cfg(steps=2, log_every=2), tmp_path / "run", progress=False)
    assert read_log(tmp_path / "run" / "log.csv")[-1]["l1"] > 0
    # the student paints at N px what the teacher (reference 1024) paints at 2N: its reference is 512,
    # and a student of it distilled again at scale 2 gets 256
    _, meta = load_model(tmp_path / "run" / "model.safetensors")
    assert meta["stroke_reference"] == "512"
    again = DistillTask(content, DistillConfig(teacher=str(tmp_path / "run" / "model.safetensors"), teacher_scale=2.0))
    assert again.model_extra()["stroke_reference"] == "256"
    for bad in (0.5, 5.0, True):
        with pytest.raises(ValueError, match="teacher scale"):
            DistillConfig(teacher="x", teacher_scale=bad)


def test_perceptual_terms_are_trained_logged_and_zero_for_the_teachers_own_output(tmp_path, teacher, content):
    cfg = DistillConfig(teacher=str(teacher), width=0.125, residual_blocks=0, perceptual=0.5)
    train(DistillTask(content, cfg), _cfg(steps=2, log_every=2), tmp_path / "run", progress=False)
    row = read_log(tmp_path / "run" / "log.csv")[-1]
    assert row["perceptual"] > 0
    assert row["loss"] == pytest.approx(row["l1"] + 0.5 * row["perceptual"], rel=0.05)
    task = DistillTask(content, cfg)
    task.prepare(torch.device("cpu"), channels_last=False)
    target = torch.rand(2, 3, 32, 32)
    assert task.perceptual_loss(target, target).item() == pytest.approx(0.0, abs=1e-6)
    assert task.perceptual_loss(target.flip(-1), target).item() > 0.01
    with pytest.raises(ValueError, match="perceptual"):
        DistillConfig(teacher="x", perceptual=-1.0)
