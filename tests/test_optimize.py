"""Tests for instyle.optimize: GatysOptimizer and OptimizeConfig (tiny images, a few steps each).

One VGG-19 encoder (avg pooling, reflect padding, as OptimizeConfig defaults) is built per module and
handed to every GatysOptimizer. Most tests use a shallow layer set (up to relu3_1) to stay fast.
"""

from __future__ import annotations

import math

import pytest
import skimage.data
import torch

import instyle.optimize as optimize
from helpers import to_tensor
from instyle import color
from instyle.losses import LossWeights
from instyle.nn.functional import gram_matrix
from instyle.optimize import GatysOptimizer, OptimizeConfig, StepInfo, balanced_weights
from instyle.vgg import VGG19Encoder

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # slow: VGG-19


@pytest.fixture(scope="module")
def encoder() -> VGG19Encoder:
    return VGG19Encoder(last_layer="relu5_1", pooling="avg", padding="reflect")


@pytest.fixture(scope="module")
def content() -> torch.Tensor:
    return to_tensor(skimage.data.astronaut(), 32, 40)  # non-square on purpose


@pytest.fixture(scope="module")
def style() -> torch.Tensor:
    return to_tensor(skimage.data.coffee(), 32, 48)


@pytest.fixture(scope="module")
def style2() -> torch.Tensor:
    return to_tensor(skimage.data.chelsea(), 36, 36)


def _loss(**kw) -> LossWeights:
    args = dict(
        content_layers={"relu3_1": 1.0},
        style_layers={"relu1_1": 1.0, "relu2_1": 1.0, "relu3_1": 1.0},
        content_weight=1.0,
        style_weight=5.0,
    )
    args.update(kw)
    return LossWeights(**args)


def _cfg(**kw) -> OptimizeConfig:
    args = dict(steps=5, loss=_loss(), seed=0, precision="fp32")  # exact reference; bf16 tested explicitly
    args.update(kw)
    return OptimizeConfig(**args)


def _opt(encoder, **kw) -> GatysOptimizer:
    opt = GatysOptimizer(_cfg(**kw), encoder=encoder)
    assert opt.encoder is encoder  # reused, not rebuilt
    return opt


class _Recorder:
    def __init__(self):
        self.infos: list[StepInfo] = []

    def __call__(self, info: StepInfo) -> None:
        self.infos.append(info)

    @property
    def steps(self):
        return [i.step for i in self.infos]

    def series(self, key):
        return [i.losses[key] for i in self.infos]


# --------------------------------------------------------------------------- optimization


@pytest.mark.parametrize("optimizer, lr, steps", [("lbfgs", 1.0, 8), ("adam", 0.03, 8)])
def test_style_loss_decreases_and_callback(encoder, content, style, optimizer, lr, steps):
    opt = _opt(encoder, optimizer=optimizer, lr=lr, steps=steps)
    rec = _Recorder()
    out = opt(content, [style], callback=rec)
    assert rec.steps == list(range(1, steps + 1))
    assert all(i.total_steps == steps for i in rec.infos)
    assert all(set(i.losses) == {"content", "style", "tv", "total"} for i in rec.infos)
    assert all(math.isfinite(v) for i in rec.infos for v in i.losses.values())
    assert all(i.image.shape == content.shape and not i.image.requires_grad for i in rec.infos)
    # each step's image is a snapshot: the first evaluation is at the (content) init, later ones moved
    assert torch.equal(rec.infos[0].image, content)
    assert not torch.allclose(rec.infos[-1].image, content, atol=1e-4)
    elapsed = [i.elapsed for i in rec.infos]
    assert elapsed == sorted(elapsed) and elapsed[0] >= 0
    style_losses = rec.series("style")
    assert style_losses[0] > 0
    assert style_losses[-1] < 0.8 * style_losses[0], style_losses
    assert rec.series("total")[-1] < rec.series("total")[0]
    # starting from the content image, the content term starts at zero
    assert rec.series("content")[0] == pytest.approx(0.0, abs=1e-6)

    assert out.shape == content.shape
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, content, atol=1e-3)
    # the final image scores a lower style loss than the content image did (independent re-evaluation)
    s_targets = opt.style_targets([style])
    with torch.no_grad():
        c_targets = {n: f.float() for n, f in opt._features(content, ["relu3_1"]).items()}
        w = balanced_weights(opt.config.loss, c_targets, s_targets)
        before = opt.losses(content, c_targets, s_targets, w)["style"].item()
        after = opt.losses(out, c_targets, s_targets, w)["style"].item()
    assert before == pytest.approx(style_losses[0], rel=1e-4)
    assert after < 0.8 * before


def test_steps_zero_returns_clamped_content(encoder, content, style):
    opt = _opt(encoder, steps=0)
    bright = content * 1.3 - 0.1  # some values outside [0, 1]
    assert bright.max() > 1 and bright.min() < 0
    rec = _Recorder()
    out = opt(bright, [style], callback=rec)
    assert rec.infos == []
    assert torch.equal(out, bright.clamp(0, 1))


def test_noise_init(encoder, content, style):
    opt = _opt(encoder, steps=0, init="noise", seed=3)
    out = opt(content, [style])
    assert out.shape == content.shape
    assert (out - content).abs().mean() > 0.1
    assert out.min() >= 0.25 and out.max() <= 0.75  # the documented noise range
    torch.testing.assert_close(opt(content, [style]), out)  # seeded: reproducible
    other = _opt(encoder, steps=0, init="noise", seed=4)(content, [style])
    assert not torch.equal(other, out)


def test_explicit_init_image_is_used(encoder, content, style):
    init = torch.rand(content.shape, generator=torch.Generator().manual_seed(5))
    opt = _opt(encoder, steps=0)
    torch.testing.assert_close(opt(content, [style], init=init), init)
    # it is the starting point of the optimization too: the first step evaluates the init image
    opt1 = _opt(encoder, steps=1, optimizer="adam", lr=0.01)
    rec = _Recorder()
    opt1(content, [style], init=init, callback=rec)
    assert torch.equal(rec.infos[0].image, init)
    assert rec.infos[0].losses["content"] > 0


def test_multiple_styles_blending(encoder, content, style, style2):
    opt = _opt(encoder)
    single = opt.style_targets([style])
    first_only = opt.style_targets([style, style2], [1.0, 0.0])
    assert set(single) == set(first_only) == {"relu1_1", "relu2_1", "relu3_1"}
    for n in single:
        torch.testing.assert_close(first_only[n].gram, single[n].gram)
    other = opt.style_targets([style2])
    mixed = opt.style_targets([style, style2], [3, 1])
    for n in single:
        torch.testing.assert_close(mixed[n].gram, 0.75 * single[n].gram + 0.25 * other[n].gram)
    # equal weights by default
    even = opt.style_targets([style, style2])
    torch.testing.assert_close(even["relu2_1"].gram, 0.5 * (single["relu2_1"].gram + other["relu2_1"].gram))
    # the targets are the Gram matrices of the style features
    with torch.no_grad():
        f = encoder(style, ["relu2_1"])["relu2_1"]
    torch.testing.assert_close(single["relu2_1"].gram, gram_matrix(f), rtol=1e-4, atol=1e-2)
    with pytest.raises(ValueError, match="style weights"):
        opt.style_targets([style, style2], [1.0])
    assert opt.style_targets([]) == {}
    # a full run with two weighted styles
    out = _opt(encoder, steps=2)(content, [style, style2], style_weights=[2, 1])
    assert out.shape == content.shape and torch.isfinite(out).all()


def test_balanced_weights_by_hand(encoder, content, style):
    opt = _opt(encoder)
    s_targets = opt.style_targets([style])
    with torch.no_grad():
        c_targets = {"relu3_1": encoder(content, ["relu3_1"])["relu3_1"]}
    w = LossWeights(
        content_layers={"relu3_1": 2.0}, style_layers={"relu1_1": 1.0, "relu2_1": 3.0, "relu3_1": 1.0}, style_weight=7.0
    )
    bw = balanced_weights(w, c_targets, s_targets)
    g = s_targets["relu2_1"].gram.double()
    expected_style = 3.0 / (g**2).sum().item() * g.numel()
    assert bw.style_layers["relu2_1"] == pytest.approx(expected_style, rel=1e-5)
    f = c_targets["relu3_1"].double()
    assert bw.content_layers["relu3_1"] == pytest.approx(2.0 * f.numel() / (f**2).sum().item(), rel=1e-5)
    assert bw.style_weight == 7.0 and bw.style_loss == "gram"  # the rest is untouched
    assert w.style_layers["relu2_1"] == 3.0  # the input is not modified
    # energies differ by orders of magnitude between layers, so the balanced weights do too
    assert bw.style_layers["relu1_1"] / bw.style_layers["relu3_1"] > 10
    # mean/std targets: energy = mean(mean²) + mean(std²)
    opt_ms = _opt(encoder, loss=_loss(style_loss="mean_std"))
    ms = opt_ms.style_targets([style])
    bw_ms = balanced_weights(opt_ms.config.loss, {}, ms)
    m, s = (t.double() for t in ms["relu1_1"].mean_std)
    assert bw_ms.style_layers["relu1_1"] == pytest.approx(1.0 / ((m**2).mean() + (s**2).mean()).item(), rel=1e-5)


@pytest.mark.parametrize("kind", ["mean_std", "mmd_linear", "mmd_poly2", "mmd_gaussian"])
def test_other_style_losses_run(encoder, content, style, kind):
    opt = _opt(
        encoder,
        loss=_loss(style_loss=kind, style_layers={"relu1_1": 1.0, "relu2_1": 1.0}),
        steps=3,
        optimizer="adam",
        lr=0.03,
    )
    rec = _Recorder()
    out = opt(content, [style], callback=rec)
    assert rec.steps == [1, 2, 3]
    s = rec.series("style")
    assert all(math.isfinite(v) for v in s) and s[-1] < s[0]
    assert out.shape == content.shape


def test_color_match_mode(encoder, content, style):
    opt = _opt(encoder, color="match", steps=3)
    out = opt(content, [style])
    assert out.shape == content.shape and out.min() >= 0 and out.max() <= 1
    # the style targets are those of the recoloured style image
    matched = color.match_colors(style, content)
    torch.testing.assert_close(
        opt.style_targets([matched])["relu1_1"].gram, _opt(encoder).style_targets([matched])["relu1_1"].gram
    )


def test_color_luminance_mode_keeps_content_chroma(encoder, content, style):
    # low-saturation content near mid-grey, so the recombined colours are not clipped
    c = 0.5 + 0.35 * (content - content.mean((2, 3), keepdim=True))
    opt = _opt(encoder, color="luminance", steps=4)
    out = opt(c, [style])
    assert out.shape == c.shape and out.min() >= 0 and out.max() <= 1
    unclipped = ((out > 1e-4) & (out < 1 - 1e-4)).all(1)  # (1, H, W)
    assert unclipped.float().mean() > 0.9
    yo, yc = color.rgb_to_yiq(out), color.rgb_to_yiq(c)
    diff_iq = (yo[:, 1:] - yc[:, 1:]).abs().amax(1)  # (1, H, W)
    assert diff_iq[unclipped].max() < 1e-3
    # the luminance did change (it was stylized)
    assert (yo[:, 0] - yc[:, 0]).abs().mean() > 1e-3


def test_multiscale_runs_and_counts_steps(encoder, content, style):
    opt = _opt(encoder, multiscale=(0.5,), steps=5)
    rec = _Recorder()
    out = opt(content, [style], callback=rec)
    assert rec.steps == [1, 2, 3, 4, 5]
    assert all(i.total_steps == 5 for i in rec.infos)
    shapes = [tuple(i.image.shape[-2:]) for i in rec.infos]
    assert shapes[0] == (16, 20) and shapes[-1] == (32, 40)
    assert out.shape == content.shape
    assert optimize._split_steps(5, (0.5, 1.0)) == [4, 1]
    assert sum(optimize._split_steps(300, (0.25, 0.5, 1.0))) == 300


def test_default_layers_run(encoder, content, style):
    """The default config (relu1_1…relu5_1 + relu4_2) on the shared encoder."""
    opt = GatysOptimizer(OptimizeConfig(steps=2), encoder=encoder)
    assert opt.encoder is encoder
    rec = _Recorder()
    out = opt(content, [style], callback=rec)
    assert rec.steps == [1, 2] and out.shape == content.shape


def test_encoder_reuse_rules(encoder):
    cfg = _cfg(loss=_loss(content_layers={"relu1_1": 1.0}, style_layers={"relu1_1": 1.0}))
    assert GatysOptimizer(cfg, encoder=encoder).encoder is encoder
    other = GatysOptimizer(OptimizeConfig(**{**cfg.__dict__, "pooling": "max"}), encoder=encoder).encoder
    assert other is not encoder and other.pooling == "max" and other.last_layer == "relu1_1"
    shallow = VGG19Encoder(last_layer="relu1_1", pooling="avg", padding="reflect")
    deeper = GatysOptimizer(_cfg(), encoder=shallow).encoder  # needs relu3_1
    assert deeper is not shallow and deeper.last_layer == "relu3_1"


# --------------------------------------------------------------------------- precision / errors


def test_bf16_close_to_fp32(encoder, content, style):
    outs = {}
    for precision in ("fp32", "bf16"):
        outs[precision] = _opt(encoder, precision=precision, steps=4)(content, [style])
        assert torch.isfinite(outs[precision]).all()
        assert outs[precision].dtype == torch.float32 and outs[precision].shape == content.shape
    ref = _opt(encoder)  # score both in fp32
    s_t = ref.style_targets([style])
    with torch.no_grad():
        c_t = {n: f for n, f in ref._features(content, ["relu3_1"]).items()}
        w = balanced_weights(ref.config.loss, c_t, s_t)
        start = ref.losses(content, c_t, s_t, w)["total"].item()
        l32 = ref.losses(outs["fp32"], c_t, s_t, w)["total"].item()
        l16 = ref.losses(outs["bf16"], c_t, s_t, w)["total"].item()
    assert l32 < 0.8 * start and l16 < 0.8 * start
    assert l16 == pytest.approx(l32, rel=0.1)
    assert not torch.equal(outs["bf16"], outs["fp32"])  # bf16 really was used
    with torch.no_grad():
        assert _opt(encoder, precision="bf16")._features(content, ["relu1_1"])["relu1_1"].dtype == torch.bfloat16
        assert ref._features(content, ["relu1_1"])["relu1_1"].dtype == torch.float32
    assert (outs["bf16"] - outs["fp32"]).abs().mean() < 0.05


def test_nan_loss_raises(encoder, content, style, monkeypatch):
    real = optimize.perceptual_terms

    def nan_terms(*args, **kwargs):
        terms = real(*args, **kwargs)
        terms["total"] = terms["total"] * float("nan")
        return terms

    monkeypatch.setattr(optimize, "perceptual_terms", nan_terms)
    for name in ("lbfgs", "adam"):
        rec = _Recorder()
        with pytest.raises(FloatingPointError, match="NaN"):
            _opt(encoder, steps=3, optimizer=name)(content, [style], callback=rec)
        assert rec.infos == []  # raised before reporting a NaN step


def test_call_validation(encoder, content, style):
    opt = _opt(encoder, steps=0)
    with pytest.raises(ValueError, match="content"):
        opt(content[0], [style])
    with pytest.raises(ValueError, match="content"):
        opt(torch.cat([content, content]), [style])
    with pytest.raises(ValueError, match="style"):
        opt(content, [])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"optimizer": "sgd"}, "optimizer"),
        ({"init": "zeros"}, "init"),
        ({"color": "grey"}, "color"),
        ({"precision": "fp16"}, "precision"),
        ({"steps": -1}, "steps"),
        ({"lr": 0.0}, "lr"),
        ({"lr": -1.0}, "lr"),
        ({"multiscale": (0.0,)}, "multiscale"),
        ({"multiscale": (1.5,)}, "multiscale"),
        ({"loss": LossWeights(style_layers={"relu9_1": 1.0})}, "relu9_1"),
        ({"loss": LossWeights(content_layers={"conv4_5": 1.0})}, "conv4_5"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OptimizeConfig(**kwargs)


def test_config_defaults_and_to_dict():
    cfg = OptimizeConfig()
    assert cfg.optimizer == "lbfgs" and cfg.init == "content" and cfg.color == "none" and cfg.precision == "auto"
    d = cfg.to_dict()
    assert d["steps"] == 300 and d["loss"]["style_loss"] == "gram" and d["loss"]["style_weight"] == 5.0
