"""Tests for instyle.feedforward.FastStylizer: single- and multi-style (CIN) nets, blends, colour,
the texture net's seeded noise, and the CLI's --model path."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cli._helpers import run_cli
from instyle.checkpoint import save_model
from instyle.color import rgb_to_yiq
from instyle.errors import OptionError, UsageError
from instyle.feedforward import FastStylizer
from instyle.models import AdaINConfig, AdaINDecoder, JohnsonConfig, JohnsonNet, TextureNet, TextureNetConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def _cin():
    torch.manual_seed(0)
    net = JohnsonNet(JohnsonConfig(norm="conditional_instance", width=0.25, residual_blocks=1, styles=("a", "b")))
    for layer in net.cin_layers():
        nn.init.normal_(layer.weight, 1.0, 0.5)
        nn.init.normal_(layer.bias, 0.0, 0.5)
    return net


@pytest.fixture(scope="module")
def photo():
    g = torch.Generator().manual_seed(0)
    return torch.nn.functional.interpolate(torch.rand(1, 3, 6, 8, generator=g), size=(30, 44), mode="bilinear")


def test_styles_select_and_blend(photo):
    fs = FastStylizer(_cin(), precision="fp32")
    assert fs.styles == ("a", "b")
    a, b = fs(photo, "a"), fs(photo, "b")
    assert a.shape == photo.shape and a.min() >= 0 and a.max() <= 1
    assert not torch.allclose(a, b)
    torch.testing.assert_close(fs(photo, ["a", "b"], weights=[1, 0]), a)
    torch.testing.assert_close(fs(photo, 1), b)
    half = fs(photo, ["a", "b"], weights=[2, 2])
    assert not torch.allclose(half, a) and not torch.allclose(half, b)
    torch.testing.assert_close(fs(photo, ["a", "b"]), half)  # equal weights by default


@pytest.mark.parametrize("style, match", [(None, "choose with style"), ("zzz", "no style 'zzz'"), (5, "out of range")])
def test_bad_style_choices(photo, style, match):
    with pytest.raises(UsageError, match=match):
        FastStylizer(_cin(), precision="fp32")(photo, style)


def test_single_style_net_needs_no_style_and_keeps_colour_on_request(photo):
    torch.manual_seed(1)
    fs = FastStylizer(JohnsonNet(JohnsonConfig(width=0.25, residual_blocks=1)), precision="fp32")
    assert fs.styles == ()
    with pytest.raises(UsageError, match="single style"):
        fs(photo, "a")
    out = fs(photo, color="luminance")
    ok = ((out > 0.01) & (out < 0.99)).all(1)  # (1, H, W): unclamped pixels keep exactly the photo's chroma
    assert ok.float().mean() > 0.5
    iq = lambda img: rgb_to_yiq(img)[:, 1:].permute(0, 2, 3, 1)[ok]  # noqa: E731  (P, 2)
    torch.testing.assert_close(iq(out), iq(photo), atol=1e-4, rtol=0)
    with pytest.raises(UsageError, match="luminance"):
        fs(photo, color="match")


def test_texture_net_noise_is_seeded(photo):
    fs = FastStylizer(TextureNet(TextureNetConfig(scales=3)), precision="fp32")
    torch.testing.assert_close(fs(photo, seed=3), fs(photo, seed=3), rtol=0, atol=0)
    assert not torch.equal(fs(photo, seed=3), fs(photo, seed=4))


def test_bf16_is_close_to_fp32_and_the_callers_module_is_untouched(photo):
    net = _cin()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    bf = FastStylizer(net, precision="bf16")(photo, "a")
    fp = FastStylizer(net, precision="fp32")(photo, "a")
    assert (bf - fp).abs().mean() < 0.03
    assert all(torch.equal(before[k], v) and v.dtype == torch.float32 for k, v in net.state_dict().items())


def test_an_adain_decoder_file_is_refused(tmp_path):
    path = save_model(tmp_path / "dec.safetensors", AdaINDecoder(AdaINConfig(width=0.25)))
    with pytest.raises(OptionError, match=r"AdaINStylizer\(decoder=") as exc:
        FastStylizer(path)
    assert exc.value.for_cli().endswith("use it with --decoder")  # as the command line says it


def test_cli_model_option(tmp_path, capsys):
    model = save_model(tmp_path / "cin.safetensors", _cin())
    rng = np.random.default_rng(0)
    src = tmp_path / "p.png"
    Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((44, 30), Image.BILINEAR).save(src)
    out = tmp_path / "o.png"
    code, stdout, err = run_cli(
        [
            "stylize",
            src,
            "--model",
            model,
            "--style",
            "a:0.3",
            "--style",
            "b",
            "-o",
            out,
            "--json",
            "--precision",
            "fp32",
        ],
        capsys,
    )
    assert code == 0, err
    res = json.loads(stdout)
    assert res["method"] == "fast" and [s["weight"] for s in res["styles"]] == pytest.approx([0.3, 0.7])
    with Image.open(out) as im:
        assert im.size == (44, 30)
    for extra, msg in (
        (["--style", "nope"], "no style"),
        (["--style", "a", "--alpha", "0.5"], "--alpha"),
        ([], "choose with --style"),
    ):
        code, _, err = run_cli(["stylize", src, "--model", model, "-o", tmp_path / "x.png", *extra], capsys)
        assert code == 2 and msg in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_default_model_is_the_builtin_network(builtin_net, photo):
    fs = FastStylizer(precision="fp32")
    assert fs.styles == ("alpha", "beta", "gamma")
    ref = FastStylizer(builtin_net, precision="fp32")
    assert torch.equal(fs(photo, "beta"), ref(photo, "beta"))


def test_images_over_the_pixel_limit_are_refused_clearly(photo):
    fs = FastStylizer(_cin(), precision="fp32", max_pixels=100)
    with pytest.raises(OptionError, match="megapixels.*a smaller image, or use AdaINStylizer") as exc:
        fs(photo, "a")
    assert "a smaller --size, or use --method adain (tiled)" in exc.value.for_cli()


def test_auto_precision_is_fp32_on_cpus_even_with_native_bf16(monkeypatch):
    from instyle import device

    monkeypatch.setattr(device, "has_native_bf16", lambda dev="cpu": True)
    assert device.resolve_precision("auto", "cpu") == "bf16"  # what AdaIN's AdaINStylizer gets there
    assert FastStylizer(_cin()).precision == "fp32"
    assert FastStylizer(_cin(), precision="bf16").precision == "bf16"


def test_the_stylizer_runs_the_rewritten_net_with_the_trained_nets_outputs(photo):
    from instyle.models.inference import InferenceJohnson

    net = _cin().eval()
    fs = FastStylizer(net, precision="fp32")
    assert isinstance(fs.net, InferenceJohnson)
    with torch.no_grad():
        ref = net(photo, fs.selector(["a", "b"], [0.3, 0.7])).clamp(0, 1)
    torch.testing.assert_close(fs(photo, ["a", "b"], weights=[0.3, 0.7]), ref, atol=2e-5, rtol=1e-4)


def test_sampling_grids_video_aligns_to():
    """Each network's ``grid`` (:class:`instyle.video.stabilize.GridAlignment`): shifting the input
    by it shifts the output alike, away from the borders; a shift of half of it does not."""
    torch.manual_seed(0)
    assert FastStylizer().grid == 4  # the built-in network, converted for inference
    assert FastStylizer(TextureNet(TextureNetConfig(scales=3))).grid == 4
    assert FastStylizer(TextureNet(TextureNetConfig(scales=5))).grid == 16
    net = FastStylizer(JohnsonNet(JohnsonConfig(width=0.25)))
    x = torch.rand(1, 3, 96, 192)
    out = net(x)

    def moved(shift):  # the scene rolled right (the same pixels: the same statistics), then back
        return torch.roll(net(torch.roll(x, shift, dims=3)), -shift, dims=3)

    inner = (..., slice(40, -40), slice(56, -56))
    on_grid, off_grid = ((moved(k) - out)[inner].abs().mean().item() for k in (4, 2))
    assert on_grid < 0.2 * off_grid, (on_grid, off_grid)


def test_every_runtime_names_its_grid():
    from instyle import AdaINStylizer
    from instyle.sizes import ENCODER_STRIDE, SIDE_MULTIPLE

    assert AdaINStylizer(AdaINDecoder(AdaINConfig(width=0.125))).grid == ENCODER_STRIDE == 8
    pytest.importorskip("onnxruntime")
    from instyle.onnx_runtime import OnnxAdaIN, OnnxFastStylizer

    assert OnnxFastStylizer().grid == SIDE_MULTIPLE and OnnxAdaIN().grid == ENCODER_STRIDE
