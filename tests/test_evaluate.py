"""Tests for instyle.evaluate: the fixed VGG-19 metrics, resizing, summarize and format_table.

One standard (max-pool, zero-pad) encoder is shared by every Evaluator here; images are ≤ 64 px.
"""

from __future__ import annotations

import math

import pytest
import skimage.data
import torch
import torch.nn.functional as F

from helpers import to_tensor
from instyle.color import match_colors
from instyle.evaluate import (
    BALANCED_METRICS,
    CONTENT_LAYER,
    EVAL_SIZE,
    GRAM_LAYERS,
    MEAN_STD_LAYERS,
    METRICS,
    RAW_METRICS,
    Evaluator,
    format_table,
    resize_longer,
    summarize,
)
from instyle.losses import (
    color_distance,
    content_loss,
    gram_loss,
    mean_std_loss,
)
from instyle.nn.functional import calc_mean_std, gram_matrix
from instyle.vgg import VGG19Encoder

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # slow: VGG-19


@pytest.fixture(scope="module")
def encoder() -> VGG19Encoder:
    return VGG19Encoder(last_layer="relu5_1")


@pytest.fixture(scope="module")
def ev(encoder) -> Evaluator:
    return Evaluator(size=64, encoder=encoder)


@pytest.fixture(scope="module")
def content() -> torch.Tensor:
    return to_tensor(skimage.data.astronaut(), 64, 64)


@pytest.fixture(scope="module")
def style() -> torch.Tensor:
    return to_tensor(skimage.data.coffee(), 42, 64)


@pytest.fixture(scope="module")
def noise() -> torch.Tensor:
    return torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))


ZERO = dict.fromkeys(METRICS, 0.0)


def test_constants():
    assert BALANCED_METRICS == ("style", "color", "content", "gram")
    assert RAW_METRICS == ("content_raw", "style_mean_std", "style_gram")
    assert METRICS == BALANCED_METRICS + RAW_METRICS  # balanced first: they are the targets
    assert CONTENT_LAYER == "relu4_1" and EVAL_SIZE == 512
    assert MEAN_STD_LAYERS == ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    assert GRAM_LAYERS == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def test_evaluator_setup(encoder):
    ev = Evaluator(size=32, encoder=encoder)
    assert ev.encoder is encoder and ev.size == 32
    with pytest.raises(ValueError, match="16"):
        Evaluator(size=8, encoder=encoder)


def test_identical_images_score_zero(ev, content):
    scores = ev(content, content, content)
    assert set(scores) == set(METRICS) and all(isinstance(v, float) for v in scores.values())
    assert scores == ZERO


def test_output_equal_to_content(ev, content, style):
    scores = ev(content, content, style)
    assert scores["content"] == scores["content_raw"] == 0.0
    for m in ("style", "color", "gram", "style_mean_std", "style_gram"):
        assert scores[m] > 0, m


def test_output_equal_to_style(ev, content, style):
    # the style image's own style scores zero (same-size images, so no resampling differences)
    square_style = to_tensor(skimage.data.coffee(), 64, 64)
    scores = ev(square_style, content, square_style)
    for m in ("style", "color", "gram", "style_mean_std", "style_gram"):
        assert scores[m] == pytest.approx(0.0, abs=1e-6), m
    assert scores["content"] > 0 and scores["content_raw"] > 0  # it is not the content
    # and with the content the same image, everything is zero; a different style is not
    scores = ev(style, style, style)
    assert scores == ZERO
    assert ev(style, style, content)["style_gram"] > 0


def test_scores_match_the_definitions(ev, encoder, content, style, noise):
    scores = ev(noise, content, style)
    with torch.no_grad():
        layers = sorted(set(GRAM_LAYERS) | set(MEAN_STD_LAYERS))
        fo, fc, fs = encoder(noise, layers), encoder(content, layers), encoder(style, layers)
    # raw sums
    expected_content = content_loss(fo["relu4_1"], fc["relu4_1"]).item()
    expected_ms = sum(mean_std_loss(fo[n], calc_mean_std(fs[n])).item() for n in MEAN_STD_LAYERS)
    expected_gram = sum(gram_loss(fo[n], gram_matrix(fs[n])).item() for n in GRAM_LAYERS)
    assert scores["content_raw"] == pytest.approx(expected_content, rel=1e-4)
    assert scores["style_mean_std"] == pytest.approx(expected_ms, rel=1e-4)
    assert scores["style_gram"] == pytest.approx(expected_gram, rel=1e-4)
    # balanced: each term over its target's energy; style and gram layers averaged, not summed
    energy_c = fc["relu4_1"].pow(2).mean().item()
    assert scores["content"] == pytest.approx(expected_content / energy_c, rel=1e-4)
    ms = []
    for n in MEAN_STD_LAYERS:
        m, s = calc_mean_std(fs[n])
        ms.append(mean_std_loss(fo[n], (m, s)).item() / (m.pow(2) + s.pow(2)).mean().item())
    assert scores["style"] == pytest.approx(sum(ms) / len(ms), rel=1e-4)
    grams = [gram_loss(fo[n], gram_matrix(fs[n])).item() / gram_matrix(fs[n]).pow(2).mean().item() for n in GRAM_LAYERS]
    assert scores["gram"] == pytest.approx(sum(grams) / len(grams), rel=1e-4)
    assert scores["color"] == pytest.approx(color_distance(noise, style).item(), rel=1e-4)


def test_scores_grow_with_distance(ev, content, style, noise):
    blurred = F.avg_pool2d(content, 3, stride=1, padding=1, count_include_pad=False)
    near = ev(blurred, content, content)
    far = ev(noise, content, content)
    for m in METRICS:
        assert 0 < near[m] < far[m], m
    assert near["content"] < 0.5 * far["content"]
    # a partial blend with noise lies in between for the content metric
    mid = ev(0.5 * content + 0.5 * noise, content, content)
    assert near["content"] < mid["content"] < far["content"]


def test_output_at_other_resolution_is_resized(ev, content, noise):
    small = to_tensor(skimage.data.astronaut(), 48, 48)
    up2 = F.interpolate(small, scale_factor=2, mode="bilinear", align_corners=False)  # 96×96
    s_up = ev(up2, small, small)
    s_noise = ev(F.interpolate(noise, size=(96, 96), mode="nearest"), small, small)
    assert s_up["content"] > 0  # it really is a different image after resizing...
    assert s_up["content"] < 0.1 * s_noise["content"]  # ...but close to the content
    assert s_up["style_gram"] < 0.1 * s_noise["style_gram"]


def test_images_are_resized_to_eval_size(ev):
    """A 32×48 content is scored at 43×64, the output forced to that size whatever its aspect."""
    small = to_tensor(skimage.data.chelsea(), 32, 48)
    wide = torch.rand(1, 3, 20, 70, generator=torch.Generator().manual_seed(1))
    a = ev(wide, small, small)
    target = resize_longer(small, 64)
    assert target.shape[-2:] == (43, 64)
    out = F.interpolate(wide, size=(43, 64), mode="bilinear", align_corners=False, antialias=True)
    b = ev(out, target, target)
    for m in METRICS:
        assert a[m] == pytest.approx(b[m], rel=1e-5)


def test_resize_longer():
    x = torch.rand(2, 3, 30, 60, generator=torch.Generator().manual_seed(2))
    y = resize_longer(x, 64)
    assert y.shape == (2, 3, 32, 64)
    assert resize_longer(x.transpose(2, 3), 64).shape == (2, 3, 64, 32)
    assert resize_longer(x, 20).shape == (2, 3, 10, 20)
    assert resize_longer(x, 60) is x  # already the right size: untouched
    assert resize_longer(torch.rand(1, 3, 1, 100), 10).shape == (1, 3, 1, 10)  # never 0 px
    flat = torch.full((1, 3, 30, 60), 0.25)
    torch.testing.assert_close(resize_longer(flat, 17), torch.full((1, 3, 8, 17), 0.25))


def _row(content, style_mean_std, style_gram, **extra):
    """A score row with every metric: the given raw-style values under their old names, the other
    metrics derived from them (so each column differs)."""
    row = {m: None for m in METRICS}
    row.update(content=content, style_mean_std=style_mean_std, style_gram=style_gram, **extra)
    for m, v in zip(("style", "color", "gram", "content_raw"), (style_mean_std, style_gram, style_gram, content)):
        row[m] = None if v is None else 2.0 * v
    return row


def test_summarize():
    rows = [
        {"content": 1.0, "style_mean_std": 2.0, "style_gram": 10.0, "name": "a"},
        {"content": 3.0, "style_mean_std": 4.0, "style_gram": 20.0, "name": "b"},
        {"content": 5.0, "style_mean_std": 0.0, "style_gram": 60.0, "name": "c"},
    ]
    means = summarize(rows)
    assert set(means) == set(METRICS)
    assert {m: means[m] for m in ("content", "style_mean_std", "style_gram")} == {
        "content": 3.0,
        "style_mean_std": 2.0,
        "style_gram": 30.0,
    }
    assert all(math.isnan(means[m]) for m in ("style", "color", "gram", "content_raw"))  # no row has them
    full = summarize([_row(1.0, 2.0, 10.0), _row(3.0, 4.0, 20.0)])
    assert full == {
        "style": 6.0,
        "color": 30.0,
        "content": 2.0,
        "gram": 30.0,
        "content_raw": 4.0,
        "style_mean_std": 3.0,
        "style_gram": 15.0,
    }
    empty = summarize([])
    assert set(empty) == set(METRICS) and all(math.isnan(v) for v in empty.values())


def test_format_table():
    rows = [
        {"method": "gatys", "content": 1234.5678, "style_gram": 0.000123456, "steps": 300},
        {"method": "adain-long-name", "content": 2.0, "style_gram": 1.2e8},
        {"method": "x", "content": 1 / 3},
    ]
    text = format_table(rows, ["method", "content", "style_gram", "steps"])
    lines = text.split("\n")
    assert len(lines) == 2 + len(rows)
    header, rule, *body = lines
    assert header.split() == ["method", "content", "style_gram", "steps"]
    assert body[0].split() == ["gatys", "1235", "0.0001235", "300"]
    assert body[1].split() == ["adain-long-name", "2", "1.2e+08"]
    assert body[2].split() == ["x", "0.3333"]
    # the dashes span each column's widest cell, columns separated by two spaces
    widths = [len(d) for d in rule.split("  ")]
    assert widths == [len("adain-long-name"), len("content"), len("style_gram"), len("steps")]
    assert set(rule) == {"-", " "}
    # every column starts at the same offset on every line
    starts = [0]
    for w in widths[:-1]:
        starts.append(starts[-1] + w + 2)
    for line in [header] + body:
        for col, s in enumerate(starts):
            if s < len(line):
                assert line[s] != " " and (s == 0 or line[s - 2 : s] == "  "), (line, col)
    assert all(line == line.rstrip() for line in lines)
    # missing keys give empty cells; an empty table is just the header
    assert format_table([], ["a", "bb"]).split("\n") == ["a  bb", "-  --"]


def test_summarize_leaves_out_missing_scores():
    from instyle.evaluate import summarize

    rows = [
        {"content": 1.0, "style_mean_std": None, "style_gram": 4.0},
        {"content": 3.0, "error": "the method failed on this pair"},
        {"content": None, "style_gram": 8.0},
    ]
    means = summarize(rows)
    assert means["content"] == 2.0 and means["style_gram"] == 6.0
    assert math.isnan(means["style_mean_std"])


def test_spread_pairs_up_to_the_diagonal_are_evenly_spaced():
    from instyle.evaluate import spread_pairs

    assert spread_pairs(6, 6, 6) == [(i, i) for i in range(6)]
    assert spread_pairs(6, 6, 3) == [(0, 0), (2, 2), (5, 5)]
    assert spread_pairs(4, 6, 2) == [(0, 0), (3, 3)]
    assert spread_pairs(4, 6, 1) == [(0, 0)]
    assert spread_pairs(4, 6, 0) == spread_pairs(4, 6, -1) == spread_pairs(0, 3) == []


def test_spread_pairs_beyond_the_diagonal_follow_shifted_diagonals():
    from instyle.evaluate import spread_pairs

    assert spread_pairs(4, 6, 6) == [(0, 0), (1, 1), (2, 2), (3, 3), (0, 1), (1, 2)]
    every = spread_pairs(3, 2)  # the whole grid, each pair once
    assert every == [(0, 0), (1, 1), (2, 0), (0, 1), (1, 0), (2, 1)]
    assert sorted(every) == [(c, s) for c in range(3) for s in range(2)]
    for n in range(3, 8):  # past the diagonal: prefixes of that order
        assert spread_pairs(3, 2, n) == every[:n]


def test_win_counts():
    from instyle.evaluate import win_counts

    ours = [
        _row(1.0, 1.0, 5.0),
        _row(3.0, 1.0, 1.0),
        _row(2.0, 2.0, 2.0),
        _row(1.0, 1.0, 1.0),
        _row(None, 1.0, 1.0),
    ]
    theirs = [
        _row(2.0, 2.0, 2.0),
        _row(2.0, 2.0, 2.0),
        _row(2.0, 2.0, 2.0),  # ties are not wins
        {"error": "the peer failed"},  # not scored: left out
        _row(2.0, 2.0, 2.0),
    ]
    # _row: style follows style_mean_std, color and gram style_gram, content_raw content
    assert win_counts(zip(ours, theirs)) == {
        "style": 2,
        "color": 1,
        "content": 1,
        "gram": 1,
        "content_raw": 1,
        "style_mean_std": 2,
        "style_gram": 1,
        "all": 0,
        "pairs": 3,
    }
    assert win_counts(zip(ours, theirs), ("content", "style_mean_std")) == {
        "content": 1,
        "style_mean_std": 2,
        "all": 1,
        "pairs": 3,
    }
    assert win_counts([]) == {**dict.fromkeys(METRICS, 0), "all": 0, "pairs": 0}
    # the default metrics are all of METRICS: a row with the old three scores only is not compared
    old = {"content": 1.0, "style_mean_std": 1.0, "style_gram": 1.0}
    assert win_counts([(old, old)])["pairs"] == 0


def test_balanced_style_and_color_of_the_style_itself_are_zero(ev, content):
    square_style = to_tensor(skimage.data.coffee(), 64, 64)
    own = ev(square_style, content, square_style)
    assert own["style"] == pytest.approx(0.0, abs=1e-6) and own["color"] == pytest.approx(0.0, abs=1e-6)
    # a colour cast (blue channel gone) hardly moves the structure but ruins the palette
    cast = ev(square_style * torch.tensor([1.0, 1.0, 0.0]).view(1, 3, 1, 1), content, square_style)
    assert cast["color"] > 3.0  # ΔE units: a plainly visible difference
    assert cast["color"] > 100 * max(own["color"], 1e-3)
    assert cast["style"] > 0.01


def test_balanced_style_score_sees_colour(ev, content, style):
    """relu1_1 has a real say in the balanced style score: recolouring the content toward the
    style's palette (and nothing else) lowers it far more, relatively, than it lowers the raw sum,
    where relu4_1 dominates."""
    plain = ev(content, content, style)
    recoloured = ev(match_colors(content, style), content, style)
    assert recoloured["color"] < 0.5 * plain["color"]
    assert recoloured["style"] < 0.6 * plain["style"]
    raw_gain = recoloured["style_mean_std"] / plain["style_mean_std"]
    balanced_gain = recoloured["style"] / plain["style"]
    assert balanced_gain < raw_gain - 0.2, (balanced_gain, raw_gain)


def test_reference_cache_follows_in_place_changes(encoder, content, style, noise):
    # The photo and painting are encoded once per object and version: an in-place change, or another
    # object with the same pixels, gives the same scores as a fresh evaluator.
    ev = Evaluator(size=64, encoder=encoder)
    photo = content.clone()
    first = ev(noise, photo, style)
    assert ev(noise, photo, style) == first  # served from the cache
    photo.mul_(0.5)  # same object, new pixels
    changed = ev(noise, photo, style)
    assert changed == Evaluator(size=64, encoder=encoder)(noise, photo.clone(), style)
    assert changed["content"] != first["content"]
