"""Tests for the AdaIN training losses' ``balance`` and ``color_weight`` settings
(instyle.train.adain, instyle.train.light): the energy-balanced terms are the per-sample,
per-layer-averaged ones, the palette term counts in the total, and bad settings are refused."""

from __future__ import annotations

import pytest
import torch

from helpers import write_images
from instyle.data import CropSpec
from instyle.losses import color_distance
from instyle.models.adain import ENCODER_LAYER
from instyle.nn.functional import adain, calc_mean_std
from instyle.train import AdaINTask, AdaINTrainConfig, LightAdaINTask, LightTrainConfig

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # slow: VGG-19

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("balance")
    write_images(root / "content", 2, size=(48, 40), seed=1)
    write_images(root / "style", 2, size=(40, 56), seed=2)
    return str(root / "content"), str(root / "style")


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    content = torch.rand(2, 3, 32, 32, generator=g)
    # two style crops of very different brightness, so per-sample normalisation matters
    style = torch.cat([0.1 * torch.rand(1, 3, 32, 32, generator=g), 0.6 + 0.4 * torch.rand(1, 3, 32, 32, generator=g)])
    return {"content": content, "style": style}


def _ready(task):
    task.streams(CropSpec(image_size=32, crop=32))
    task.prepare(torch.device("cpu"), channels_last=False)
    torch.manual_seed(0)
    return task, task.build_model()


def _expected_energy_terms(encoder, model, content, style):
    """The decoder's output and the energy-balanced content and style terms, written out: per
    sample, each term over its target's energy; the style layers averaged."""
    with torch.no_grad():
        fs = encoder(style, STYLE_LAYERS)
        stats = {n: calc_mean_std(fs[n]) for n in STYLE_LAYERS}
        t = adain(encoder.encode(content, ENCODER_LAYER), stats[ENCODER_LAYER])
        g = model(t)
        fg = encoder(g, STYLE_LAYERS)
    content_term = ((fg[ENCODER_LAYER] - t).pow(2).mean((1, 2, 3)) / t.pow(2).mean((1, 2, 3))).mean()
    per_layer = []
    for n in STYLE_LAYERS:
        m, s = calc_mean_std(fg[n])
        tm, ts = stats[n]
        err = ((m - tm).pow(2) + (s - ts).pow(2)).mean((1, 2, 3))
        per_layer.append((err / (tm.pow(2) + ts.pow(2)).mean((1, 2, 3))).mean())
    return g, content_term, sum(per_layer) / len(per_layer)


def test_adain_energy_terms_and_total(folders):
    cfg = AdaINTrainConfig(width=0.25, balance="energy", color_weight=0.1, tv_weight=0.5, style_weight=3.0)
    task, model = _ready(AdaINTask(*folders, cfg, n_samples=1))
    batch = _batch()
    total, terms = task.loss(model, batch)
    assert set(terms) == set(task.loss_names) == {"content", "style", "tv", "color"}
    assert torch.isfinite(total) and all(torch.isfinite(v) for v in terms.values())
    assert all(terms[n] > 0 for n in task.loss_names)
    expected_total = terms["content"] + 3.0 * terms["style"] + 0.5 * terms["tv"] + 0.1 * terms["color"]
    torch.testing.assert_close(total, expected_total)

    g, content_term, style_term = _expected_energy_terms(task.encoder, model, **batch)
    torch.testing.assert_close(terms["content"], content_term, rtol=1e-4, atol=0)
    torch.testing.assert_close(terms["style"], style_term, rtol=1e-4, atol=0)
    torch.testing.assert_close(terms["color"], color_distance(g, batch["style"]).mean(), rtol=1e-4, atol=0)
    total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)


def test_raw_and_energy_differ_only_in_the_weighing(folders):
    """Same model, same batch: the TV and colour terms agree, the VGG terms do not (the raw ones
    are the paper's Caffe-scale sums, orders of magnitude larger)."""
    raw, model = _ready(AdaINTask(*folders, AdaINTrainConfig(width=0.25, color_weight=0.1, tv_weight=1.0)))
    energy = AdaINTask(*folders, AdaINTrainConfig(width=0.25, balance="energy", color_weight=0.1, tv_weight=1.0))
    energy.streams(CropSpec(image_size=32, crop=32))
    energy.encoder = raw.encoder
    batch = _batch(1)
    with torch.no_grad():
        _, r = raw.loss(model, batch)
        _, e = energy.loss(model, batch)
    torch.testing.assert_close(r["tv"], e["tv"])
    torch.testing.assert_close(r["color"], e["color"])
    assert r["style"] > 100 * e["style"] and r["content"] > 100 * e["content"]


def test_color_term_is_off_at_weight_zero(folders):
    task, model = _ready(AdaINTask(*folders, AdaINTrainConfig(width=0.25, balance="energy"), n_samples=1))
    total, terms = task.loss(model, _batch())
    assert terms["color"].item() == 0.0 and terms["content"] > 0 and terms["style"] > 0
    torch.testing.assert_close(total, terms["content"] + 10.0 * terms["style"])


def test_light_energy_terms_and_total(folders):
    cfg = LightTrainConfig(balance="energy", color_weight=0.1, tv_weight=0.5)
    task, model = _ready(LightAdaINTask(*folders, cfg, n_samples=1))
    total, terms = task.loss(model, _batch())
    assert set(terms) == set(task.loss_names) == {"distill", "recon", "content", "style", "tv", "color"}
    assert torch.isfinite(total) and all(torch.isfinite(v) for v in terms.values())
    assert terms["color"] > 0 and terms["content"] > 0 and terms["style"] > 0 and terms["distill"] > 0
    expected = (
        cfg.distill_weight * terms["distill"]
        + cfg.recon_weight * terms["recon"]
        + cfg.content_weight * terms["content"]
        + cfg.style_weight * terms["style"]
        + cfg.tv_weight * terms["tv"]
        + 0.1 * terms["color"]
    )
    torch.testing.assert_close(total, expected)
    total.backward()
    assert model.project["relu1_1"].weight.grad is not None


def test_light_colour_alone_is_something_to_train(folders):
    cfg = LightTrainConfig(distill_weight=0, recon_weight=0, content_weight=0, style_weight=0, color_weight=0.5)
    task, model = _ready(LightAdaINTask(*folders, cfg, n_samples=1))
    total, terms = task.loss(model, _batch())
    assert terms["color"] > 0 and terms["distill"].item() == 0.0
    torch.testing.assert_close(total, 0.5 * terms["color"])
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.decoder.parameters())


@pytest.mark.parametrize("config", [AdaINTrainConfig, LightTrainConfig])
@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(balance="bogus"), "loss balance must be one of raw, energy, got 'bogus'"),
        (dict(color_weight=-0.1), "color weight must be >= 0"),
    ],
)
def test_bad_balance_settings_are_refused(config, kw, match):
    with pytest.raises(ValueError, match=match):
        config(**kw)


def test_defaults_keep_the_papers_loss():
    cfg = AdaINTrainConfig()
    assert cfg.balance == "raw" and cfg.color_weight == 0.0
