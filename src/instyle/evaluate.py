"""Score stylized images against their content and style images.

Every method in instyle (and every peer in ``benchmarks/``) is compared with these numbers, lower
is better. The **balanced** scores come first; they are the ones checked against blind
side-by-side judgments (``benchmarks/blind.py``, docs/quality.md):

* ``style``: mean over relu1_1…relu4_1 of [MSE(means) + MSE(stds)] / mean(μ_s² + σ_s²), each
  layer's AdaIN style term divided by the style's own energy there, so every layer has the same
  say (:func:`instyle.losses.balanced_mean_std_loss`);
* ``color``: sliced Wasserstein distance between the output's and the painting's pixel colours in
  CIELAB, in ΔE units (:func:`instyle.losses.color_distance`): the palette;
* ``content``: relu4_1 MSE / mean(f_c²), output vs photo (:func:`~instyle.losses.balanced_content_loss`);
* ``gram``: mean over relu1_1…relu5_1 of the Gram MSE / the style Gram's mean square.

The **raw** sums stay as secondary columns (never targets): ``content_raw`` (relu4_1 MSE),
``style_mean_std`` (Σ of AdaIN's per-layer terms) and ``style_gram`` (Σ of H·W-normalised Gram
MSEs). On the Caffe-scale VGG-19 here relu4_1 carries nearly all of the raw mean/std sum and
relu1_1 almost none, so the raw sums are blind to colour and fine texture, and AdaIN sets relu4_1's
statistics by construction; how often each score agrees with the blind choices: docs/quality.md.

All three images are resized so their longer side is ``size`` pixels (the output to exactly the
content's evaluation size), so scores are comparable across methods and output resolutions.
Features are those of the standard (max-pool, zero-pad) VGG-19 on Caffe-scale input. The encoder
is the same for every method scored.

Comparing methods over many content x style pairs: :func:`spread_pairs` picks pairs that cover
the images, :func:`summarize` averages each metric, :func:`win_counts` counts the pairs one
method wins against another.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from .choices import ADAIN_LAYER, ADAIN_STYLE_LAYERS, GRAM_STYLE_LAYERS
from .device import resolve_device
from .losses import (
    balanced_content_loss,
    balanced_gram_loss,
    balanced_mean_std_loss,
    color_distance,
    content_loss,
    gram_loss,
    mean_std_loss,
)
from .nn.functional import calc_mean_std, gram_matrix
from .resize import resize_longer, resize_to
from .vgg import VGG19Encoder

EVAL_SIZE = 512
CONTENT_LAYER = ADAIN_LAYER  # relu4_1
MEAN_STD_LAYERS = ADAIN_STYLE_LAYERS  # relu1_1 … relu4_1
GRAM_LAYERS = GRAM_STYLE_LAYERS  # relu1_1 … relu5_1
#: The balanced scores (targets, checked against blind judgments), then the raw sums (secondary).
BALANCED_METRICS = ("style", "color", "content", "gram")
RAW_METRICS = ("content_raw", "style_mean_std", "style_gram")
METRICS = BALANCED_METRICS + RAW_METRICS
REFERENCE_CACHE = 32  # photos and paintings kept encoded


class Evaluator:
    """Callable scorer: ``Evaluator()(output, content, style) -> {"content": …, ...}``.

    Example:
        >>> ev = Evaluator()                                                     # doctest: +SKIP
        >>> ev(load_image("out.png"), load_image("photo.jpg"), load_image("starry.jpg"))  # doctest: +SKIP
        {'style': 0.061, 'color': 7.9, 'content': 0.52, 'gram': 0.32, 'content_raw': 1234.5, ...}
    """

    def __init__(
        self, *, size: int = EVAL_SIZE, encoder: VGG19Encoder | None = None, device: str | torch.device = "cpu"
    ):
        if size < 16:
            raise ValueError(f"evaluation size must be >= 16, got {size}")
        self.size = size
        self.device = resolve_device(device)
        self.encoder = (encoder or VGG19Encoder(last_layer="relu5_1")).to(self.device)
        self._layers = sorted(set(GRAM_LAYERS) | set(MEAN_STD_LAYERS) | {CONTENT_LAYER})
        # The photos and paintings of the last few calls, resized and encoded: scoring many methods on
        # the same pairs encodes each reference once. Keyed by the tensor object (held, so its id is
        # not reused) and its version counter (an in-place change invalidates it).
        self._references: OrderedDict[tuple[int, int], tuple[Tensor, Tensor, dict[str, Tensor]]] = OrderedDict()

    @torch.no_grad()
    def features(self, img: Tensor) -> dict[str, Tensor]:
        return self.encoder(img.to(self.device).float(), self._layers)

    def _reference(self, img: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """(``img`` resized to the evaluation size, its features), cached."""
        key = (id(img), img._version)
        hit = self._references.get(key)
        if hit is None:
            resized = resize_longer(img, self.size)
            hit = self._references[key] = (img, resized, self.features(resized))
            while len(self._references) > REFERENCE_CACHE:
                self._references.popitem(last=False)
        self._references.move_to_end(key)
        return hit[1], hit[2]

    @torch.no_grad()
    def __call__(self, output: Tensor, content: Tensor, style: Tensor) -> dict[str, float]:
        content, fc = self._reference(content)
        style, fs = self._reference(style)
        output = resize_to(output, content.shape[-2:])
        fo = self.features(output)
        stats = {n: calc_mean_std(fs[n]) for n in MEAN_STD_LAYERS}
        grams = {n: gram_matrix(fs[n]) for n in GRAM_LAYERS}
        mean = lambda xs: float(sum(xs) / len(xs))  # noqa: E731
        return {
            "style": mean([balanced_mean_std_loss(fo[n], stats[n]) for n in MEAN_STD_LAYERS]),
            "color": float(color_distance(output.to(self.device), style.to(self.device))),
            "content": float(balanced_content_loss(fo[CONTENT_LAYER], fc[CONTENT_LAYER])),
            "gram": mean([balanced_gram_loss(fo[n], grams[n]) for n in GRAM_LAYERS]),
            "content_raw": float(content_loss(fo[CONTENT_LAYER], fc[CONTENT_LAYER])),
            "style_mean_std": float(sum(mean_std_loss(fo[n], stats[n]) for n in MEAN_STD_LAYERS)),
            "style_gram": float(sum(gram_loss(fo[n], grams[n]) for n in GRAM_LAYERS)),
        }


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Mean of each metric over the rows that have it (a row without a score for a metric, or with
    None, e.g. a failed run, is left out of that mean); NaN where no row has it."""
    means = {}
    for m in METRICS:
        values = [r[m] for r in rows if r.get(m) is not None]
        means[m] = sum(values) / len(values) if values else float("nan")
    return means


def spread_pairs(n_contents: int, n_styles: int, limit: int | None = None) -> list[tuple[int, int]]:
    """(content, style) index pairs of an ``n_contents`` x ``n_styles`` grid, spread so that a few
    cover many images: up to the diagonal's length, evenly spaced diagonal pairs (each image at most
    once); beyond it, the diagonal then the shifted diagonals (content i with style i + 1, i + 2, ...,
    modulo ``n_styles``) until ``limit`` pairs (None: every pair of the grid, in that order)."""
    total = n_contents * n_styles
    n = total if limit is None else min(max(limit, 0), total)
    diagonal = min(n_contents, n_styles)
    if n <= diagonal:
        picked = sorted({round(k * (diagonal - 1) / max(1, n - 1)) for k in range(n)})
        return [(i, i) for i in picked]
    order: list[tuple[int, int]] = []
    for shift in range(n_styles):
        for i in range(n_contents):
            pair = (i, (i + shift) % n_styles)
            if pair not in order:
                order.append(pair)
    return order[:n]


def win_counts(
    pairs: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]], metrics: Sequence[str] = METRICS
) -> dict[str, int]:
    """How often one method beats another on the same (content, style) pairs.

    ``pairs``: (ours, theirs) score rows of the same pair; pairs where either lacks one of
    ``metrics`` (or has None) are left out. Returns, per metric, on how many pairs ours is lower
    (better); ``"all"``: on how many it is lower on every one of ``metrics``; ``"pairs"``: how many
    were compared.
    """
    counts = {m: 0 for m in metrics}
    counts["all"] = counts["pairs"] = 0
    for ours, theirs in pairs:
        if any(ours.get(m) is None or theirs.get(m) is None for m in metrics):
            continue
        better = [ours[m] < theirs[m] for m in metrics]
        for m, b in zip(metrics, better):
            counts[m] += b
        counts["all"] += all(better)
        counts["pairs"] += 1
    return counts


def format_table(rows: Iterable[dict[str, object]], columns: Sequence[str]) -> str:
    """A plain-text table; floats in 4 significant digits."""

    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    rows = list(rows)
    cells: list[list[str]] = [list(columns)] + [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
