"""``instyle export`` and the onnxruntime backend of ``stylize`` and ``sheet``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from helpers import write_photo

from ._helpers import run_cli

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytestmark = pytest.mark.slow  # exports, subprocesses


@pytest.fixture
def photo(tmp_path):
    return write_photo(tmp_path / "photo.png", (44, 30))


def test_export_builtin_then_stylize_with_it(tmp_path, photo, capsys):
    onnx_file = tmp_path / "net ✓.onnx"
    code, out, err = run_cli(["export", "-o", onnx_file, "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["files"] == [str(onnx_file)] and report["bytes"][0] > 100_000
    for backend in ("auto", "onnxruntime"):
        dst = tmp_path / f"{backend}.png"
        code, out, err = run_cli(
            ["stylize", photo, "--model", onnx_file, "--style", "candy", "-o", dst, "--json", "--backend", backend],
            capsys,
        )
        assert code == 0, err
        assert json.loads(out)["backend"] == "onnxruntime" and Image.open(dst).size == (44, 30)
    code, _, err = run_cli(
        ["stylize", photo, "--model", onnx_file, "--style", "candy", "-o", tmp_path / "t.png", "--backend", "torch"],
        capsys,
    )
    assert code == 2 and "use --backend onnxruntime" in err


def test_backends_write_the_same_image(tmp_path, photo, capsys):
    outs = {}
    for backend in ("torch", "onnxruntime"):
        dst = tmp_path / f"{backend}.png"
        code, _, err = run_cli(
            [
                "stylize",
                photo,
                "--style",
                "wave:0.4",
                "--style",
                "candy",
                "--color",
                "luminance",
                "-o",
                dst,
                "--backend",
                backend,
                "-q",
            ],
            capsys,
        )
        assert code == 0, err
        outs[backend] = np.asarray(Image.open(dst), dtype=np.int16)
    assert np.abs(outs["torch"] - outs["onnxruntime"]).max() <= 1  # 1e-3 before rounding to 8 bits


def test_export_with_shared_statistics_then_video_with_it(tmp_path, capsys):
    """A user's network exported with --shared-statistics runs `instyle video --stabilize stats`
    on onnxruntime; a plain export is refused there in one line."""
    pytest.importorskip("av")
    from video.clips import write_frames

    src = write_frames(tmp_path / "frames", 4, (40, 32))
    for flag, code_wanted in (["--shared-statistics"], 0), ([], 1):
        onnx_file = tmp_path / f"net{len(flag)}.onnx"
        code, _, err = run_cli(["export", "builtin-video", *flag, "-o", onnx_file], capsys)
        assert code == 0, err
        argv = ["video", src, "--model", onnx_file, "--style", "wave", "--stabilize", "stats"]
        code, out, err = run_cli([*argv, "-o", str(tmp_path / f"out{len(flag)}") + "/", "--json", "-q"], capsys)
        assert code == code_wanted, err
        if code == 0:
            assert json.loads(out)["backend"] == "onnxruntime" and json.loads(out)["frames"] == 4
        else:
            assert "without shared statistics" in err and err.count("\n") == 1


def test_export_adain_folder_and_refusals(tmp_path, capsys):
    code, _out, err = run_cli(["export", "adain", "-o", tmp_path / "adain", "--json"], capsys)
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "adain")) == ["decoder.onnx", "encoder.onnx"]
    code, _, err = run_cli(["export", "adain", "-o", tmp_path / "adain"], capsys)
    assert code == 1 and "already exists" in err and err.count("\n") == 1
    for argv, message in (
        (["export", "-o", tmp_path / "x.bin"], ".onnx name"),
        (["export", "-o", tmp_path / "x.onnx", "--opset", "12"], "--opset"),
        (["export", "nope.safetensors", "-o", tmp_path / "x.onnx"], "not found"),
        (["export", "-o", tmp_path / "x.onnx", "--decoder", "d.safetensors"], "--decoder"),
        (["export", "adain", "-o", tmp_path / "x", "--shared-statistics"], "goes with a fast network"),
    ):
        code, _, err = run_cli(argv, capsys)
        assert code in (1, 2) and message in err and err.count("\n") == 1, (argv, err)
    assert not (tmp_path / "x.onnx").exists()


def test_builtin_style_in_a_fresh_process_loads_no_torch(tmp_path, photo):
    probe = (
        "import sys; from instyle.cli.main import main; "
        f"code = main(['stylize', {str(photo)!r}, '--style', 'candy', '-o', {str(tmp_path / 'o.png')!r}, '-q']); "
        "print(code, 'torch' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "False"]
    assert Image.open(tmp_path / "o.png").size == (44, 30)


def test_sheet_on_onnxruntime(tmp_path, photo, capsys):
    dst = tmp_path / "sheet.png"
    code, out, err = run_cli(["sheet", photo, "-o", dst, "--styles", "candy,wave", "--size", "32", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["backend"] == "onnxruntime" and dst.is_file()
