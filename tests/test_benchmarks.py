"""Smoke tests of the scripts in ``benchmarks/``: each runs in its ``--smoke`` mode (tiny sizes,
no peer tool) in a subprocess, and must exit 0, print a table and write a valid JSON report into a
temporary folder, never into ``benchmarks/results``.

``INSTYLE_SHARED_IMAGES`` points at a missing folder, so the scripts use their stand-in images
(scikit-image's photos, generated paintings) whether or not ``../shared`` exists here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = (
    "adabn",
    "adain_quality",
    "blind",
    "browser",
    "fast",
    "in_vs_bn",
    "invariance",
    "int8",
    "interpolation",
    "optimize",
    "scale",
    "serve",
    "startup",
    "style_losses",
    "stylize",
    "train_step",
    "video",
    "video_blend",
    "video_long",
    "video_ray",
)
SHARED_MODULES = ("__init__", "inputs", "peers", "runner")
TABLE_RULE = re.compile(r"^-+(?:  -+)+$", re.MULTILINE)  # the dashes under a table's header

pytestmark = pytest.mark.slow  # each starts processes that import torch and run VGG-19


def _env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "INSTYLE_PEER_BIN"}
    env.update(
        {
            "INSTYLE_SHARED_IMAGES": str(tmp_path / "no-shared-images"),
            "TMPDIR": str(tmp_path),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")])),
        }
    )
    return env


def test_every_script_is_smoke_tested():
    scripts = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py") if p.stem not in SHARED_MODULES)
    assert scripts == sorted(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_smoke_run(name, tmp_path):
    proc = subprocess.run(
        [sys.executable, f"benchmarks/{name}.py", "--smoke", "--threads", "1"],
        cwd=REPO,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert TABLE_RULE.search(proc.stdout), proc.stdout
    written = [
        Path(line[len("wrote ") :])
        for line in proc.stdout.splitlines()
        if line.startswith("wrote ") and line.endswith(f"{name}.json")
    ]
    assert len(written) == 1, proc.stdout
    report_file = written[0]
    assert report_file.is_relative_to(tmp_path) and report_file.is_file()
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["benchmark"] == name and report["complete"] is True
    assert report["machine"]["cpu_model"] and report["machine"]["torch"]
    assert report["settings"]["smoke"] is True


@pytest.mark.parametrize("name", SCRIPTS)
def test_runs_as_a_module(name, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", "--help"],
        cwd=REPO,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"python benchmarks/{name}.py" in proc.stdout and "--smoke" in proc.stdout
