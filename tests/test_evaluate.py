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
from instyle.evaluate import (
    CONTENT_LAYER,
    EVAL_SIZE,
    GRAM_LAYERS,
    MEAN_STD_LAYERS,
    METRICS,
    Evaluator,
    format_table,
    resize_longer,
    summarize,
)
from instyle.losses import content_loss, gram_loss, mean_std_loss
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


def test_constants():
    assert METRICS == ("content", "style_mean_std", "style_gram")
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
    assert scores == {"content": 0.0, "style_mean_std": 0.0, "style_gram": 0.0}


def test_output_equal_to_content(ev, content, style):
    scores = ev(content, content, style)
    assert scores["content"] == 0.0
    assert scores["style_mean_std"] > 0 and scores["style_gram"] > 0


def test_output_equal_to_style(ev, content, style):
    # the style image's own style scores zero (same-size images, so no resampling differences)
    square_style = to_tensor(skimage.data.coffee(), 64, 64)
    scores = ev(square_style, content, square_style)
    assert scores["style_mean_std"] == pytest.approx(0.0, abs=1e-6)
    assert scores["style_gram"] == pytest.approx(0.0, abs=1e-6)
    assert scores["content"] > 0  # it is not the content
    # and with the content the same image, everything is zero; a different style is not
    scores = ev(style, style, style)
    assert scores == {"content": 0.0, "style_mean_std": 0.0, "style_gram": 0.0}
    assert ev(style, style, content)["style_gram"] > 0


def test_scores_match_the_definitions(ev, encoder, content, style, noise):
    scores = ev(noise, content, style)
    with torch.no_grad():
        layers = sorted(set(GRAM_LAYERS) | set(MEAN_STD_LAYERS))
        fo, fc, fs = encoder(noise, layers), encoder(content, layers), encoder(style, layers)
    expected_content = content_loss(fo["relu4_1"], fc["relu4_1"]).item()
    expected_ms = sum(mean_std_loss(fo[n], calc_mean_std(fs[n])).item() for n in MEAN_STD_LAYERS)
    expected_gram = sum(gram_loss(fo[n], gram_matrix(fs[n])).item() for n in GRAM_LAYERS)
    assert scores["content"] == pytest.approx(expected_content, rel=1e-4)
    assert scores["style_mean_std"] == pytest.approx(expected_ms, rel=1e-4)
    assert scores["style_gram"] == pytest.approx(expected_gram, rel=1e-4)


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


def test_summarize():
    rows = [
        {"content": 1.0, "style_mean_std": 2.0, "style_gram": 10.0, "name": "a"},
        {"content": 3.0, "style_mean_std": 4.0, "style_gram": 20.0, "name": "b"},
        {"content": 5.0, "style_mean_std": 0.0, "style_gram": 60.0, "name": "c"},
    ]
    assert summarize(rows) == {"content": 3.0, "style_mean_std": 2.0, "style_gram": 30.0}
    assert summarize(rows[:1]) == {"content": 1.0, "style_mean_std": 2.0, "style_gram": 10.0}
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
        {"content": 1.0, "style_mean_std": 1.0, "style_gram": 5.0},
        {"content": 3.0, "style_mean_std": 1.0, "style_gram": 1.0},
        {"content": 2.0, "style_mean_std": 2.0, "style_gram": 2.0},
        {"content": 1.0, "style_mean_std": 1.0, "style_gram": 1.0},
        {"content": None, "style_mean_std": 1.0, "style_gram": 1.0},
    ]
    theirs = [
        {"content": 2.0, "style_mean_std": 2.0, "style_gram": 2.0},
        {"content": 2.0, "style_mean_std": 2.0, "style_gram": 2.0},
        {"content": 2.0, "style_mean_std": 2.0, "style_gram": 2.0},  # ties are not wins
        {"error": "the peer failed"},  # not scored: left out
        {"content": 2.0, "style_mean_std": 2.0, "style_gram": 2.0},
    ]
    assert win_counts(zip(ours, theirs)) == {"content": 1, "style_mean_std": 2, "style_gram": 1, "all": 0, "pairs": 3}
    assert win_counts(zip(ours, theirs), ("content", "style_mean_std")) == {
        "content": 1,
        "style_mean_std": 2,
        "all": 1,
        "pairs": 3,
    }
    assert win_counts([]) == {"content": 0, "style_mean_std": 0, "style_gram": 0, "all": 0, "pairs": 0}
