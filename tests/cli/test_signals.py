"""SIGTERM and SIGHUP (``timeout``, systemd, ``docker stop``, a closed terminal) mid-run: one line,
exit 128 + the signal's number, and nothing left behind, like Ctrl-C (issue 30)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

pytest.importorskip("av")
from helpers import popen_instyle, write_images
from video.clips import make_clip


def _hidden(folder):
    return sorted(p.name for p in folder.rglob(".*"))


@pytest.mark.slow  # a real process on the shipped network
@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)], ids=["TERM", "HUP"])
@pytest.mark.parametrize("output", ["o.mp4", "frames/"])
def test_a_signal_mid_run_cleans_up(tmp_path, signum, code, output):
    clip = make_clip(tmp_path / "c.mp4", frames=480, size=(160, 120))
    out = tmp_path / "out"
    proc = popen_instyle(
        ["video", clip, "--style", "candy", "-o", f"{out}/{output}"],
        stderr=subprocess.PIPE,
        text=True,
        env={"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        while not (out.exists() and _hidden(out)):  # the run is writing its temporary file
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1] == f"instyle: terminated ({signal.Signals(signum).name})", err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))


@pytest.mark.slow  # a real training process with a data-loading worker
def test_a_signal_to_the_whole_process_group_stops_training_with_a_checkpoint(tmp_path):
    """systemd's default KillMode and ``pkill -f`` signal every process of the run, the data-loading
    workers too: those leave the signal to the main process, which saves and says so."""
    write_images(tmp_path / "photos", 4, size=(48, 40), seed=1)
    run = tmp_path / "run"
    cmd = ["train", "distill", "--teacher", "builtin", "--out", run]
    cmd += ["--content", tmp_path / "photos", "--width", "0.125", "--residual-blocks", "0", "--workers", "1"]
    cmd += ["--image-size", "32", "--crop", "32", "--batch-size", "2", "--steps", "100000", "--log-every", "1"]
    cmd += ["--checkpoint-every", "100000", "--sample-every", "0", "--precision", "fp32"]
    env = {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = popen_instyle(cmd, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not ((run / "log.csv").exists() and len((run / "log.csv").read_text().splitlines()) > 2):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "interrupted; checkpoint saved" in err, err
    assert err.strip().splitlines()[-1] == "instyle: terminated (SIGTERM)", err
    assert "Traceback" not in err and "DataLoader" not in err, err
    assert (run / "checkpoint.pt").is_file()
