"""Tests for the shared training loop (instyle.train.loop.train) with the AdaIN decoder task.

Everything is tiny: 4 content + 3 style images of 100x80 px, resized to 48 px and cropped to 32,
batch 2, a width-0.25 decoder, a few steps. In-process runs use one thread; the subprocess runs
(SIGKILL, DDP) get OMP_NUM_THREADS=1.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from helpers import SUBPROCESS_ENV, popen_instyle, subprocess_env, train_adain_argv, write_images
from instyle.checkpoint import load_model
from instyle.errors import InstyleError, WeightsError
from instyle.train import MODEL_FILE, AdaINTask, AdaINTrainConfig, TrainConfig, train
from instyle.train.log import read_log

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # slow: training runs

LOG_COLUMNS = ["step", "lr", "loss", "content", "style", "tv", "color", "sec_per_step", "images_per_sec", "elapsed_s"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    write_images(root / "content", 4, seed=1)
    write_images(root / "style", 3, seed=2)
    return root


def _cfg(**kw) -> TrainConfig:
    base = dict(
        steps=4,
        batch_size=2,
        image_size=48,
        crop=32,
        workers=0,
        precision="fp32",
        channels_last=False,
        log_every=1,
        sample_every=0,
        checkpoint_every=100,
        device="cpu",
    )
    return TrainConfig(**{**base, **kw})


def _task(images, content="content", **kw) -> AdaINTask:
    return AdaINTask(
        str(images / content), str(images / "style"), AdaINTrainConfig(**{"width": 0.25, **kw}), n_samples=1
    )


def _train(images, out, cfg=None, *, task=None, msgs=None, **kw):
    say = msgs.append if msgs is not None else (lambda m: None)
    return train(task or _task(images), cfg or _cfg(), out, progress=False, say=say, **kw)


def _ckpt(run):
    return torch.load(Path(run) / "checkpoint.pt", map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def finished_run(images, tmp_path_factory):
    """A completed 2-step run (read-only for the tests: copy it before resuming)."""
    run = tmp_path_factory.mktemp("runs") / "done"
    result = _train(images, run, _cfg(steps=2, sample_every=1))
    assert result.step == 2 and not result.stopped_early
    return run


def _copy(run, dst):
    shutil.copytree(run, dst)
    return dst


# --------------------------------------------------------------------------- exact resume


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {
            "cfg": {"grad_accum": 2, "channels_last": True, "schedule": "cosine", "warmup_steps": 1, "clip_grad": 1.0},
            "task": {"cache_features": True, "crops_per_image": 2, "tv_weight": 1e-3},
        },
    ],
    ids=["plain", "accum-cache-cosine"],
)
def test_resume_continues_exactly(images, tmp_path, variant):
    cfg = _cfg(**variant.get("cfg", {}))
    task_kw = variant.get("task", {})
    straight, split = tmp_path / "straight", tmp_path / "split"
    a = _train(images, straight, cfg, task=_task(images, **task_kw))

    msgs = []
    b1 = _train(images, split, cfg, task=_task(images, **task_kw), stop_at=2)
    assert b1.step == 2 and _ckpt(split)["step"] == 2
    b = _train(images, split, cfg, task=_task(images, **task_kw), resume=True, msgs=msgs)
    assert a.step == b.step == 4
    assert any("resuming" in m and "step 2" in m for m in msgs), msgs

    ca, cb = _ckpt(straight), _ckpt(split)
    assert ca["model"].keys() == cb["model"].keys()
    for k in ca["model"]:
        assert torch.equal(ca["model"][k], cb["model"][k]), k  # bit for bit: same data, RNG, schedule
    for pa, pb in zip(ca["optimizer"]["state"].values(), cb["optimizer"]["state"].values()):
        assert all(torch.equal(pa[k], pb[k]) for k in ("exp_avg", "exp_avg_sq", "step"))
    ma, mb = (load_model(run / MODEL_FILE)[0].state_dict() for run in (straight, split))
    assert all(torch.equal(ma[k], mb[k]) for k in ma)
    la, lb = read_log(straight / "log.csv"), read_log(split / "log.csv")
    assert [r["step"] for r in lb] == [1, 2, 3, 4]
    for ra, rb in zip(la, lb):
        assert {k: ra[k] for k in ("lr", "loss", "content", "style", "tv")} == {
            k: rb[k] for k in ("lr", "loss", "content", "style", "tv")
        }


# --------------------------------------------------------------------------- run folder outputs


def test_run_writes_checkpoint_model_log_plot_and_samples(finished_run):
    run = finished_run
    names = {p.name for p in run.iterdir()}
    assert {"checkpoint.pt", "checkpoints", MODEL_FILE, "log.csv", "loss.png", "config.json", "samples"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_00000002.pt"]

    lines = (run / "log.csv").read_text().splitlines()
    assert lines[0].split(",") == LOG_COLUMNS
    rows = read_log(run / "log.csv")
    assert [r["step"] for r in rows] == [1, 2]
    assert all(set(r) == set(LOG_COLUMNS) and r["loss"] > 0 and r["images_per_sec"] > 0 for r in rows)
    assert rows[0]["lr"] == pytest.approx(1e-4)

    with Image.open(run / "loss.png") as im:
        assert im.format == "PNG" and im.size == (900, 520)
    samples = sorted((run / "samples").iterdir())
    assert [p.name for p in samples] == ["step_00000001.jpg", "step_00000002.jpg"]
    with Image.open(samples[-1]) as im:
        assert im.format == "JPEG" and im.width > 192 and im.height > 192  # header row + 1 content row

    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "adain" and config["processes"] == 1 and config["precision"] == "fp32"
    assert config["train_config"]["batch_size"] == 2 and config["task_config"]["width"] == 0.25

    ckpt = _ckpt(run)
    assert ckpt["step"] == 2 and ckpt["task"] == "adain" and ckpt["world"] == 1
    assert ckpt["data"] == {"content": 4, "style": 3}
    for path in (run / "checkpoint.pt", run / MODEL_FILE):
        model, _ = load_model(path, expect="adain_decoder")
        assert model.config.width == 0.25
    model, _ = load_model(run / MODEL_FILE)
    for k, v in ckpt["model"].items():  # the model file holds the checkpoint's weights, in fp16
        assert torch.allclose(model.state_dict()[k], v, rtol=1e-3, atol=1e-4)


# --------------------------------------------------------------------------- refusals


def test_new_run_in_a_used_folder_needs_resume_or_overwrite(images, finished_run, tmp_path):
    before = (finished_run / "log.csv").read_bytes()
    with pytest.raises(InstyleError, match="already holds a training run; pass resume=True .* or overwrite=True"):
        _train(images, finished_run)
    assert (finished_run / "log.csv").read_bytes() == before

    run = _copy(finished_run, tmp_path / "run")
    result = _train(images, run, _cfg(steps=1), overwrite=True)
    assert result.step == 1 and _ckpt(run)["step"] == 1
    assert [r["step"] for r in read_log(run / "log.csv")] == [1]


def test_resume_without_a_checkpoint_fails(images, tmp_path):
    with pytest.raises(WeightsError, match="nothing to resume: .* has no checkpoint.pt"):
        _train(images, tmp_path / "empty", resume=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsError, match="nothing to resume"):
        _train(images, tmp_path / "empty", resume=True)


@pytest.mark.parametrize(
    "cfg_kw, task_kw, what",
    [
        ({"batch_size": 1}, {}, "batch_size=2 (now 1)"),
        ({"seed": 3}, {}, "seed=0 (now 3)"),
        ({"crop": 16}, {}, "crop=32 (now 16)"),
        ({"lr": 1e-3}, {}, "lr=0.0001 (now 0.001)"),
        ({}, {"style_weight": 5.0}, "style_weight=10.0 (now 5.0)"),
        ({}, {"width": 0.5}, "width=0.25 (now 0.5)"),
        ({}, {"style_layers": ("relu1_1", "relu4_1")}, "style_layers="),
    ],
)
def test_resume_refuses_changed_settings(images, finished_run, tmp_path, cfg_kw, task_kw, what):
    run = _copy(finished_run, tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    with pytest.raises(InstyleError, match="cannot resume") as exc:
        _train(images, run, _cfg(**cfg_kw), task=_task(images, **task_kw), resume=True)
    assert what in str(exc.value) and "\n" not in str(exc.value)
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before  # nothing touched


def test_resume_accepts_resumable_changes(images, finished_run, tmp_path):
    run = _copy(finished_run, tmp_path / "run")
    write_images(tmp_path / "content_more", 5, seed=1)  # the same 4 images and one more
    msgs = []
    cfg = _cfg(steps=3, log_every=5, checkpoint_every=7, sample_every=0, keep_checkpoints=1)
    task = _task(images, content=str(tmp_path / "content_more"))
    result = _train(images, run, cfg, task=task, resume=True, msgs=msgs)
    assert result.step == 3 and _ckpt(run)["step"] == 3
    assert any("data folders changed" in m for m in msgs), msgs
    assert [r["step"] for r in read_log(run / "log.csv")] == [1, 2, 3]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_00000003.pt"]
    assert _ckpt(run)["elapsed_s"] > _ckpt(finished_run)["elapsed_s"]


# --------------------------------------------------------------------------- stopping early


def test_max_minutes_stops_early_with_a_checkpoint(images, tmp_path):
    run = tmp_path / "run"
    result = _train(images, run, _cfg(steps=50, max_minutes=0.001, log_every=2))
    assert result.stopped_early and 1 <= result.step < 50
    assert _ckpt(run)["step"] == result.step
    load_model(run / MODEL_FILE, expect="adain_decoder")
    again = _train(images, run, _cfg(steps=result.step + 1, log_every=2), resume=True)
    assert again.step == result.step + 1 and not again.stopped_early


class _InterruptAt(AdaINTask):
    """Raises KeyboardInterrupt (Ctrl-C) in the loss of a given step."""

    def __init__(self, *args, at: int, **kw):
        super().__init__(*args, **kw)
        self.at, self.calls = at, 0

    def loss(self, model, batch):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return super().loss(model, batch)


def test_ctrl_c_saves_a_checkpoint(images, tmp_path):
    run = tmp_path / "run"
    task = _InterruptAt(str(images / "content"), str(images / "style"), AdaINTrainConfig(width=0.25), n_samples=1, at=3)
    msgs = []
    with pytest.raises(KeyboardInterrupt):
        _train(images, run, task=task, msgs=msgs)
    assert _ckpt(run)["step"] == 2 and any("interrupted; checkpoint saved at step 2" in m for m in msgs)
    assert _train(images, run, resume=True).step == 4


def test_a_second_process_on_one_run_folder_is_refused(images, finished_run, tmp_path):
    from instyle.atomic import folder_lock

    run = _copy(finished_run, tmp_path / "run")
    live_tmp = run / f".checkpoint.pt.{os.getpid()}.abcdefgh.tmp"  # the running one, mid-write
    live_tmp.write_bytes(b"x")
    log = (run / "log.csv").read_text()
    with folder_lock(run, "run folder"):  # another run holds it (flock: one per open file)
        with pytest.raises(InstyleError, match=r"run folder .* is in use by another process; wait"):
            _train(images, run, resume=True)
    assert live_tmp.exists() and (run / "log.csv").read_text() == log
    live_tmp.unlink()
    assert _train(images, run, _cfg(steps=3), resume=True).step == 3  # free again once it ends


# --------------------------------------------------------------------------- unreadable images


def test_unreadable_images_are_skipped_with_a_warning(images, tmp_path):
    content = tmp_path / "content"
    write_images(content, 2, seed=5)
    (content / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 64)  # a JPEG header, then nothing
    msgs = []
    task = AdaINTask(str(content), str(images / "style"), AdaINTrainConfig(width=0.25), n_samples=1)
    result = _train(images, tmp_path / "run", _cfg(steps=3), task=task, msgs=msgs)
    assert result.step == 3
    warnings = [m for m in msgs if "skipping an unreadable image" in m]
    assert len(warnings) == 1 and "broken.jpg" in warnings[0], msgs  # said once, however often drawn


def test_folder_without_readable_images_fails_before_writing(images, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("a.jpg", "b.png"):
        (broken / name).write_bytes(b"not an image" * 8)
    task = AdaINTask(str(broken), str(images / "style"), AdaINTrainConfig(width=0.25), n_samples=1)
    run = tmp_path / "run"
    # workers=None: the CPU default of one data-loading process, where the error must not come
    # back wrapped in the worker's traceback
    with pytest.raises(InstyleError) as exc:
        _train(images, run, _cfg(workers=None), task=task)
    msg = str(exc.value)
    assert msg.startswith("none of the 2 content images") and "Traceback" not in msg and "\n" not in msg
    assert not run.exists()


def test_diverged_new_run_leaves_nothing(images, tmp_path):
    run = tmp_path / "new" / "folders" / "run"
    with pytest.raises(FloatingPointError, match="NaN or infinite.*lower the learning rate") as exc:
        _train(images, run, _cfg(steps=1, lr=1e29))
    assert "checkpoint" not in str(exc.value)  # there is none to speak of
    assert not (tmp_path / "new").exists()  # every folder the call made is gone


def test_diverged_run_in_existing_folder_removes_only_its_files(images, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    with pytest.raises(FloatingPointError):
        _train(images, run, _cfg(steps=1, lr=1e29))
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]


def test_diverged_resumed_run_keeps_its_checkpoint(images, finished_run, tmp_path):
    run = _copy(finished_run, tmp_path / "run")
    before = (run / "checkpoint.pt").read_bytes()
    with pytest.raises(FloatingPointError, match=r"the last checkpoint in .* is intact"):
        _train(images, run, _cfg(steps=3, lr=1e29), resume=False, overwrite=True)
    assert (run / "checkpoint.pt").read_bytes() == before
    assert load_model(run / MODEL_FILE)[0] is not None


# --------------------------------------------------------------------------- SIGKILL safety


@pytest.fixture(scope="module")
def few_images(tmp_path_factory):
    """2 content + 1 style image: the command line's end-of-run sample grid stays 2x1 (cheap)."""
    root = tmp_path_factory.mktemp("few")
    write_images(root / "content", 2, seed=3)
    write_images(root / "style", 1, seed=4)
    return root


def _train_argv(images, out, *extra):
    """``instyle train adain`` arguments of a tiny run, logging every step."""
    return [str(a) for a in train_adain_argv(images / "content", images / "style", out, "--log-every", 1, *extra)]


def _wait_for_new_checkpoint(path, proc, old_inode, deadline, errlog):
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"training exited early ({proc.returncode}): {errlog.read_text()[-2000:]}")
        try:
            if os.stat(path).st_ino != old_inode:  # checkpoints are replaced by a new file, never rewritten
                return
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    pytest.fail(f"no new checkpoint in time: {errlog.read_text()[-2000:]}")


def test_sigkill_at_random_moments_leaves_a_resumable_run(few_images, tmp_path):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    run, ckpt_path = tmp_path / "run", tmp_path / "run" / "checkpoint.pt"
    argv = _train_argv(few_images, run, "--steps", 200, "--checkpoint-every", 1, "--keep-checkpoints", 1)
    deadline = time.monotonic() + 60
    last_step, inode = 0, None
    for attempt in range(3):
        errlog = tmp_path / f"stderr{attempt}.txt"
        with open(errlog, "w") as err:
            proc = popen_instyle(
                argv + (["--resume"] if attempt else []), env=SUBPROCESS_ENV, stdout=subprocess.DEVNULL, stderr=err
            )
        try:
            _wait_for_new_checkpoint(ckpt_path, proc, inode, deadline, errlog)
            time.sleep(rng.uniform(0.0, 0.5))  # mid-step, mid-checkpoint, mid-log: anywhere
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        where = f"(kill {attempt + 1}, random seed {seed})"
        if attempt:
            assert "resuming" in errlog.read_text(), where
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        assert ckpt["step"] > last_step, where  # the resumed process went on from its checkpoint
        last_step, inode = ckpt["step"], os.stat(ckpt_path).st_ino
        model, _ = load_model(ckpt_path, expect="adain_decoder")
        assert all(torch.isfinite(p).all() for p in model.parameters()), where
        if (run / MODEL_FILE).exists():
            load_model(run / MODEL_FILE, expect="adain_decoder")
        steps = [r["step"] for r in read_log(run / "log.csv")]
        assert steps == list(range(1, len(steps) + 1)) and len(steps) >= last_step, where

    # a last resume (in this process: no start-up cost) runs to the end and leaves a tidy folder
    final = last_step + 2
    task = AdaINTask(str(few_images / "content"), str(few_images / "style"), AdaINTrainConfig(width=0.25), n_samples=1)
    result = _train(few_images, run, _cfg(steps=final, checkpoint_every=1, keep_checkpoints=1), task=task, resume=True)
    assert result.step == final and _ckpt(run)["step"] == final
    assert [r["step"] for r in read_log(run / "log.csv")] == list(range(1, final + 1))
    leftovers = [p.name for p in run.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == [], f"temporary files left behind (random seed {seed})"
    assert [p.name for p in (run / "checkpoints").iterdir()] == [f"step_{final:08d}.pt"]


# --------------------------------------------------------------------------- DDP on CPU


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available",
)
@pytest.mark.parametrize(
    "arch",
    [
        [],
        # the light network's task calls the encoder, projections and decoder one by one (and leaves
        # the projections out with --distill-weight 0): train() wraps the whole loss in DDP
        ["--arch", "light", "--distill-weight", "0"],
    ],
    ids=["vgg", "light"],
)
def test_ddp_on_cpu_with_two_processes(few_images, tmp_path, arch):
    run = tmp_path / "run"
    argv = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_free_port()),
        "-m",
        "instyle",
        *_train_argv(few_images, run, "--steps", 2, "--json", *arch),
    ]
    done = subprocess.run(argv, env=subprocess_env(**SUBPROCESS_ENV), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)  # one summary, from the main process
    assert summary["step"] == 2
    ckpt = _ckpt(run)
    assert ckpt["step"] == 2 and ckpt["world"] == 2
    kind = "adain_light" if arch else "adain_decoder"
    load_model(run / "checkpoint.pt", expect=kind)
    load_model(run / MODEL_FILE, expect=kind)
    rows = read_log(run / "log.csv")
    assert [r["step"] for r in rows] == [1, 2]
    assert all(r["images_per_sec"] == pytest.approx(4 / r["sec_per_step"], rel=1e-3) for r in rows)  # 2 x 2
    assert json.loads((run / "config.json").read_text())["processes"] == 2
    assert (run / "samples" / "step_00000002.jpg").exists()
