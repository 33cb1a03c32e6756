"""The runtime table of :mod:`instyle.backends`: every row of ``auto``, and the errors of a runtime
asked by name in both spellings (Python's keyword, the command line's flag)."""

from __future__ import annotations

import pytest

from instyle.backends import choose_backend
from instyle.errors import OptionError
from instyle.onnx_runtime import ONNX_VIDEO_MAX_PIXELS, available

needs_ort = pytest.mark.skipif(not available(), reason="onnxruntime is not installed")


@needs_ort
def test_auto_rows():
    assert choose_backend("auto", "fast") == "onnxruntime"  # the built-in network's shipped copy
    assert choose_backend("auto", "fast", model="builtin-video") == "onnxruntime"
    assert choose_backend("auto", "fast", model="runs/x/model.safetensors") == "torch"
    assert choose_backend("auto", "fast", model="runs/x/net.onnx") == "onnxruntime"  # runs nowhere else
    assert choose_backend("auto", "fast", model="runs/x/net.onnx", device="cuda") == "onnxruntime"
    assert choose_backend("auto", "fast", precision="bf16") == "torch"
    assert choose_backend("auto", "fast", device="cuda") == "torch"
    assert choose_backend("auto", "fast", server=True) == "torch"  # a warm server: torch
    assert choose_backend("auto", "adain") == "torch"  # "this command" keeps AdaIN on torch
    assert choose_backend("auto", "adain", adain_blocker=None) == "onnxruntime"  # the light network's copy


@needs_ort
def test_auto_for_video_frames():
    small, large = 640 * 360, ONNX_VIDEO_MAX_PIXELS + 1
    assert choose_backend("auto", "fast", model="builtin-video", frame_pixels=small) == "onnxruntime"
    assert choose_backend("auto", "fast", model="builtin-video", frame_pixels=large) == "torch"
    assert choose_backend("auto", "adain", adain_blocker=None, frame_pixels=small) == "torch"
    # shared statistics need the ONNX graph that shares them: the video network ships one
    assert choose_backend("auto", "fast", model="builtin-video", frame_pixels=small, shared_statistics=True) == (
        "onnxruntime"
    )
    assert choose_backend("auto", "fast", model="builtin", frame_pixels=small, shared_statistics=True) == "torch"
    assert choose_backend("auto", "fast", model="net.onnx", frame_pixels=large) == "onnxruntime"


def test_asked_by_name():
    assert choose_backend("torch", "fast") == "torch"
    assert choose_backend("onnxruntime", "fast") == "onnxruntime"
    assert choose_backend("onnxruntime", "adain", adain_blocker=None) == "onnxruntime"


@pytest.mark.parametrize(
    "asked, method, extra, python, cli",
    [
        (
            "onnxruntime",
            "adain",
            {"adain_blocker": "--alpha"},
            'backend="onnxruntime" runs AdaIN with the shipped light network, without --alpha; use backend="torch"',
            "--backend onnxruntime runs AdaIN with the shipped light network, without --alpha; use --backend torch",
        ),
        ("onnxruntime", "fast", {"model": "m.safetensors"}, 'backend="onnxruntime" runs the built-in', None),
        ("onnxruntime", "fast", {"precision": "bf16"}, 'backend="onnxruntime" runs on the CPU in fp32', None),
        (
            "torch",
            "fast",
            {"model": "m.onnx"},
            'm.onnx is an ONNX file: use backend="onnxruntime" (or auto)',
            "m.onnx is an ONNX file: use --backend onnxruntime (or auto)",
        ),
    ],
)
def test_a_runtime_that_cannot_run_the_request_is_an_option_error(asked, method, extra, python, cli):
    with pytest.raises(OptionError) as info:
        choose_backend(asked, method, **extra)
    assert str(info.value).startswith(python) and info.value.exit_code == 2
    assert info.value.for_cli().startswith(cli or python.replace('backend="onnxruntime"', "--backend onnxruntime"))
