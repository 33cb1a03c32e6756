"""``instyle stylize IN -o OUT --ray``: a folder on a Ray cluster (a local one, started once for the
module), the same pictures as a local run, a manifest, exactly once and resumable, bad photos
recorded and skipped, workers and the driver killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import popen_instyle, run_instyle
from instyle.cli.cluster import MANIFEST

from ._helpers import run_cli

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow  # a Ray cluster: processes, seconds to start

STYLE = ["--style", "candy"]  # the built-in network on onnxruntime, as a user's first run


def _photos(folder: Path, n: int, bad: bool = True) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(n):
        y, x = np.mgrid[0:48, 0:64]
        px = np.stack([x * 4, y * 5, (x + y) * 2], 2) + rng.integers(0, 30, (48, 64, 3))
        Image.fromarray(np.clip(px, 0, 255).astype(np.uint8)).save(folder / f"p{k:02d}.png")
    if bad:
        (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return folder


def _manifest(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


def test_ray_run_matches_the_local_run_and_records_every_photo(cluster, tmp_path, capsys):
    src = _photos(tmp_path / "in", 4)
    code, out, err = run_cli(
        ["stylize", src, *STYLE, "-o", tmp_path / "ray", "--ray", "--workers", "2", "--json"], capsys
    )
    assert code == 1 and "broken.jpg" in err and "1 of 5 images could not be read" in err
    res = json.loads(out)
    assert res["written"] == 4 and res["kept"] == 0 and len(res["failed"]) == 1 and res["workers"] == 2
    local_code, _, _ = run_cli(["stylize", src, *STYLE, "-o", tmp_path / "local", "-q"], capsys)
    assert local_code == 1  # the broken photo, there too
    assert _outputs(tmp_path / "ray") == _outputs(tmp_path / "local")  # the same bytes
    rows = _manifest(tmp_path / "ray" / MANIFEST)
    assert sorted(r["status"] for r in rows) == ["failed", "ok", "ok", "ok", "ok"]
    assert {Path(r["input"]).name for r in rows} == {"broken.jpg", *(f"p{k:02d}.png" for k in range(4))}
    assert all(r["seconds"] >= 0 for r in rows) and "broken.jpg" in next(r for r in rows if r["error"])["error"]
    # a second run does only what is missing: the broken photo again, nothing else
    code, out, _ = run_cli(["stylize", src, *STYLE, "-o", tmp_path / "ray", "--ray", "--json"], capsys)
    res = json.loads(out)
    assert code == 1 and res["written"] == 0 and res["kept"] == 4
    assert len(_manifest(tmp_path / "ray" / MANIFEST)) == 6  # one line more: the broken photo's retry


def test_any_pyarrow_filesystem_in_and_out(cluster, tmp_path, capsys):
    src = _photos(tmp_path / "in", 2, bad=False)
    dest = tmp_path / "out"
    code, _, err = run_cli(
        ["stylize", f"file://{src}", *STYLE, "-o", f"file://{dest}", "--ray", "--manifest", tmp_path / "m.jsonl", "-q"],
        capsys,
    )
    assert code == 0, err
    run_cli(["stylize", src, *STYLE, "-o", tmp_path / "local", "-q"], capsys)
    assert _outputs(dest) == _outputs(tmp_path / "local")
    assert len(_manifest(tmp_path / "m.jsonl")) == 2


def test_a_worker_killed_mid_run_is_replaced_and_every_photo_written_once(cluster, tmp_path, capsys):
    src = _photos(tmp_path / "in", 12, bad=False)
    dest = tmp_path / "out"
    result = {}

    def go():
        result["run"] = run_cli(["stylize", src, *STYLE, "-o", dest, "--ray", "--workers", "2", "--json"], capsys)

    t = threading.Thread(target=go)
    t.start()
    killed = None
    deadline = time.monotonic() + 240
    while killed is None and t.is_alive() and time.monotonic() < deadline:
        if dest.is_dir() and sum(1 for p in dest.iterdir() if p.suffix == ".png") >= 2:
            killed = _kill_one_worker()
        time.sleep(0.05)
    t.join(300)
    assert killed is not None, "no worker was found to kill"
    code, _, err = result["run"]
    assert code == 0, err
    names = [p.name for p in dest.iterdir() if not p.name.startswith(".")]
    assert sorted(names) == [f"p{k:02d}.png" for k in range(12)]  # every photo, no temporary file left
    rows = _manifest(dest / MANIFEST)
    assert sorted(Path(r["input"]).name for r in rows) == sorted(names)  # each photo recorded once
    assert {r["status"] for r in rows} <= {"ok", "kept"}


def _kill_one_worker() -> int | None:
    """SIGKILL one of Ray Data's map workers of this user (found by their process title)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "MapWorker" in cmd and "Stylize" in cmd:
            os.kill(int(pid), signal.SIGKILL)
            return int(pid)
    return None


def test_the_driver_killed_then_run_again_finishes_the_rest_and_redoes_nothing(tmp_path):
    src = _photos(tmp_path / "in", 10, bad=False)
    dest = tmp_path / "out"
    argv = ["stylize", src, *STYLE, "-o", dest, "--ray", "--workers", "1"]
    proc = popen_instyle([*argv, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if dest.is_dir() and sum(1 for p in dest.iterdir() if p.suffix == ".png") >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started
    proc.wait(30)
    first = {p.name: p.stat().st_mtime_ns for p in dest.iterdir() if p.suffix == ".png"}
    assert 3 <= len(first) < 10
    done = run_instyle([*argv, "--json"], capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr
    res = json.loads(done.stdout)
    # (a photo the worker was writing as the driver died may have been finished after the count)
    assert res["kept"] >= len(first) and res["kept"] + res["written"] == 10
    after = {p.name: p.stat().st_mtime_ns for p in dest.iterdir() if not p.name.startswith(".")}
    assert sorted(after) == [f"p{k:02d}.png" for k in range(10)]
    assert all(after[n] == t for n, t in first.items())  # what was written before is not written again
    rows = _manifest(dest / MANIFEST)
    assert {Path(r["input"]).name for r in rows} == set(after)


def test_ray_refusals_are_one_line(tmp_path, capsys):
    src = _photos(tmp_path / "in", 1, bad=False)
    for argv, message in [
        ([src, "-o", tmp_path / "o", "--ray", "--overwrite"], "keeps outputs that exist"),
        ([src, src, "-o", tmp_path / "o", "--ray"], "one input folder"),
        ([src / "p00.png", "-o", tmp_path / "o", "--ray"], "not a folder"),
        ([src, "-o", tmp_path / "o", "--workers", "2"], "go with --ray"),
    ]:
        code, _, err = run_cli(["stylize", *argv, *STYLE], capsys)
        assert code == 2 and message in err and err.count("\n") == 1, (argv, err)
