"""Tests for instyle.shipped: the files shipped in the package, found and read without torch."""

from pathlib import Path

from instyle.errors import WeightsError
from instyle.feedforward import FastStylizer


def test_builtin_styles_reads_the_shipped_file_without_loading_it():
    from instyle.shipped import builtin_model_path, builtin_styles

    try:
        path = builtin_model_path()
    except WeightsError:
        assert builtin_styles() == ()
        return
    styles = builtin_styles()
    assert len(styles) >= 12 and len(set(styles)) == len(styles)
    assert FastStylizer(path).styles == styles


def test_shipped_network_names_resolve_to_their_files(tmp_path):

    from instyle.shipped import builtin_model_path, resolve_model

    assert resolve_model(None) == builtin_model_path() == resolve_model("builtin")
    assert Path(resolve_model("builtin-large")).name == "builtin_styles_large.safetensors"
    assert resolve_model(tmp_path / "mine.safetensors") == tmp_path / "mine.safetensors"
    large, small = FastStylizer("builtin-large"), FastStylizer()
    assert large.styles == small.styles and len(small.styles) >= 12
    assert large.net.config.width > small.net.config.width


def test_reading_metadata_needs_no_torch():
    import subprocess
    import sys

    code = (
        "import sys; from instyle.shipped import builtin_styles, default_decoder_path; "
        "print(len(builtin_styles()) > 0, 'torch' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "False"]


def test_the_network_for_video_has_the_built_in_styles():
    import pytest

    from instyle.shipped import VIDEO_MODEL, has_video_model, resolve_model

    if not has_video_model():
        with pytest.raises(WeightsError, match="builtin-video"):
            resolve_model("builtin-video")
        return
    assert Path(resolve_model("builtin-video")).name == VIDEO_MODEL
    video, stills = FastStylizer("builtin-video"), FastStylizer()
    assert video.styles == stills.styles and video.grid == stills.grid
    # a narrower, deeper network than the one for stills (its model card): faster per frame
    assert video.net.config.width < stills.net.config.width
    assert sum(t.numel() for t in video.net.parameters()) < sum(t.numel() for t in stills.net.parameters())


def test_the_built_in_network_hands_small_outputs_to_its_companion():
    import pytest

    from instyle.shipped import BUILTIN_512_MODEL, BUILTIN_512_ONNX, asset_path, companion_references, use_assets

    if not asset_path(BUILTIN_512_MODEL).is_file():
        pytest.skip("this instyle ships no companion network")
    assert companion_references(None) == companion_references("builtin") == {"builtin-512": 512}
    assert companion_references("builtin-large") == {} and companion_references("mine.safetensors") == {}
    fast = FastStylizer(precision="fp32")
    assert fast.stroke_reference == 1024 and fast.companions == {"builtin-512": 512}
    half, side = fast.brush(512)
    assert isinstance(half, FastStylizer) and (half.stroke_reference, side) == (512, 512)
    assert half.styles == fast.styles and half.precision == fast.precision and half.companions == {}
    assert fast.brush(1024) == (fast, 1024) and fast.brush(513)[0] is fast
    solo = FastStylizer("builtin-512")  # named alone: it paints every output, at its own reference
    assert solo.companions == {} and solo.brush(1024) == (solo, 512)
    with use_assets({BUILTIN_512_MODEL: None}):  # an instyle without it: the built-in network paints all
        assert companion_references("builtin") == {}
        alone = FastStylizer()
        assert alone.brush(512) == (alone, 1024)
    if asset_path(BUILTIN_512_ONNX).is_file():
        pytest.importorskip("onnxruntime")
        from instyle.onnx_runtime import OnnxFastStylizer

        onnx = OnnxFastStylizer()
        net, side = onnx.brush(512)
        assert isinstance(net, OnnxFastStylizer) and net.path.endswith(BUILTIN_512_ONNX) and side == 512
        assert net.stroke_reference == 512 and net.styles == onnx.styles
        assert OnnxFastStylizer("builtin-video").companions == {}
