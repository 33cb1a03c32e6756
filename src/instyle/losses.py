"""Perceptual losses on VGG-19 features: content, style (Gram, mean/std, MMD), total variation.

Per-layer functions take feature maps (N, C, H, W); :class:`PerceptualLoss` combines them over
named layers with per-layer weights and caches the targets.

Gram matching is an MMD (Li et al. 2017, "Demystifying Neural Style Transfer"): with the
feature vectors at each position as samples, X = {x_i} (N_x of them), Y = {y_j},
    ‖G_X/N_x − G_Y/N_y‖²_F = MMD²(X, Y) with the kernel k(x, y) = (xᵀy)²,
so ``gram_loss == mmd_loss(kernel="poly2") / C²`` (MSE averages over the C² entries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor

from .choices import GRAM_STYLE_LAYERS, STYLE_LOSSES
from .color import rgb_to_lab
from .nn.functional import Stats, calc_mean_std, gram_matrix, sliced_wasserstein, total_variation


def target_energy(target: Tensor, dim: Sequence[int] | None = None) -> Tensor:
    """Mean square of a loss target (over ``dim`` only, per sample, if given), at least 1e-12.

    Raw losses on Caffe-scale VGG-19 features span orders of magnitude across layers (relu4_1's
    Gram loss dwarfs relu5_1's); a term divided by its target's energy is scale-free, so equal
    layer weights mean equal influence and a style weight is a plain ratio. Used to balance the
    optimizer's layers and the fast networks' loss terms.
    """
    sq = target.float().pow(2)
    return (sq.mean() if dim is None else sq.mean(dim=tuple(dim))).clamp_min(1e-12)


def content_loss(feat: Tensor, target: Tensor) -> Tensor:
    """Feature reconstruction loss: mean squared error, (N, C, H, W) vs same shape."""
    return F.mse_loss(feat.float(), target.float())


def gram_loss(feat: Tensor, target_gram: Tensor) -> Tensor:
    """MSE between the normalized Gram matrix of ``feat`` and a target Gram (N or 1, C, C).

    With G normalized by H·W this is 4× Gatys et al.'s per-layer E_l.
    """
    g = gram_matrix(feat)
    return F.mse_loss(g, target_gram.float().expand_as(g))


def mean_std_loss(feat: Tensor, target: Stats) -> Tensor:
    """AdaIN's style loss: MSE of per-channel means + MSE of per-channel stds.

    ``target`` is a ``(mean, std)`` pair of (N or 1, C, 1, 1) tensors.
    """
    mean, std = calc_mean_std(feat)
    t_mean, t_std = target
    return F.mse_loss(mean, t_mean.float().expand_as(mean)) + F.mse_loss(std, t_std.float().expand_as(std))


def _relative_mse(x: Tensor, target: Tensor) -> Tensor:
    """Per sample, mean((x − target)²) over the target's energy (:func:`target_energy`), then the
    batch mean: the one rule of every balanced term. (N, …) and (N or 1, …) -> ()."""
    t = target.float().expand_as(x)
    dims = tuple(range(1, x.dim()))
    return ((x.float() - t).pow(2).mean(dim=dims) / target_energy(t, dims)).mean()


def balanced_mean_std_loss(feat: Tensor, target: Stats) -> Tensor:
    """:func:`mean_std_loss` divided by the target's energy mean(μ² + σ²), per sample, then
    averaged over the batch: a scale-free term (0 when matched, 1 when the output's statistics are
    all zero).

    Raw terms on Caffe-scale VGG-19 differ by orders of magnitude between layers, so a raw sum over
    relu1_1…relu4_1 is almost all relu4_1 and blind to colour and fine texture; balanced terms give
    each layer the same say (the effect of the AdaIN authors' normalised VGG-19, where every filter
    has mean activation 1). Per sample, so a dark painting counts as much as a bright one.
    """
    mean, std = calc_mean_std(feat)
    t_mean, t_std = (t.float().expand_as(mean) for t in target)
    return _relative_mse(torch.cat([mean, std], dim=1), torch.cat([t_mean, t_std], dim=1))


def balanced_gram_loss(feat: Tensor, target_gram: Tensor) -> Tensor:
    """:func:`gram_loss` divided by the target Gram matrix's mean square, per sample."""
    return _relative_mse(gram_matrix(feat), target_gram)


def balanced_content_loss(feat: Tensor, target: Tensor) -> Tensor:
    """:func:`content_loss` divided by the target's mean square, per sample."""
    return _relative_mse(feat, target)


def color_distance(
    img: Tensor, target: Tensor, *, max_pixels: int = 16384, n_projections: int = 64, seed: int = 0
) -> Tensor:
    """Palette distance: sliced Wasserstein-1 between the pixel colours of ``img`` (N, 3, H, W) and
    ``target`` (N or 1, 3, H', W') in CIELAB, in ΔE units, per sample (N,). Each direction sees a
    shift by its projection, so a uniform colour shift of ΔE scores about ΔE/2 (the mean |cos| in 3-D).

    Where the pixels sit does not count, only which colours occur and how often: a painting's
    palette, its cheapest and most noticed trait. Images over ``max_pixels`` are compared on an
    evenly strided subset of their pixels. Fixed directions (``seed``), so scores are repeatable.
    """

    def points(x: Tensor) -> Tensor:
        lab = rgb_to_lab(x).flatten(2).transpose(1, 2)  # (N, H·W, 3)
        step = max(1, -(-lab.shape[1] // max_pixels))
        return lab[:, ::step]

    gen = torch.Generator().manual_seed(seed)
    # in float32 even under autocast: bf16 carries Lab values near 100 to within ±0.4, the size of
    # the differences being measured
    with torch.autocast(img.device.type, enabled=False):
        return sliced_wasserstein(points(img.float()), points(target.float()), n_projections, generator=gen)


def _positions(feat: Tensor) -> Tensor:
    # (N, C, H, W) -> (N, H·W, C): one C-dim sample per spatial position.
    return feat.float().flatten(2).transpose(1, 2)


def mmd_loss(
    feat: Tensor,
    target: Tensor,
    kernel: str = "poly2",
    *,
    sigma: float | None = None,
    max_samples: int = 1024,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Squared MMD between the position-wise feature distributions of ``feat`` and ``target``.

    Kernels (Li et al. 2017): ``linear`` k = xᵀy (matches means), ``poly2`` k = (xᵀy)²
    (matches Gram matrices exactly), ``gaussian`` k = exp(−‖x−y‖²/2σ²) with σ² defaulting to
    the mean squared distance (median heuristic's cheaper cousin). The Gaussian kernel costs
    O(n²): positions are subsampled to at most ``max_samples`` per image.

    Args:
        feat, target: (N, C, H, W) and (N or 1, C, H', W').

    Returns:
        MMD² averaged over the batch (a scalar, ≥ 0 up to rounding).
    """
    x, y = _positions(feat), _positions(target)
    if y.shape[0] == 1 and x.shape[0] > 1:
        y = y.expand(x.shape[0], -1, -1)
    if kernel == "linear":
        return (x.mean(1) - y.mean(1)).pow(2).sum(1).mean()
    if kernel == "poly2":
        # Σ_ii' (x_iᵀx_i')²/n² = ‖XᵀX/n‖²_F, so MMD² = ‖G_x − G_y‖²_F with G = XᵀX/n (C×C).
        gx = x.transpose(1, 2) @ x / x.shape[1]
        gy = y.transpose(1, 2) @ y / y.shape[1]
        return (gx - gy).pow(2).sum((1, 2)).mean()
    if kernel == "gaussian":
        x, y = _subsample(x, max_samples, generator), _subsample(y, max_samples, generator)
        dxx, dyy, dxy = torch.cdist(x, x).pow(2), torch.cdist(y, y).pow(2), torch.cdist(x, y).pow(2)
        s2 = (sigma**2) if sigma is not None else dxy.mean(dim=(1, 2), keepdim=True).detach().clamp_min(1e-8)
        k = lambda d: torch.exp(-d / (2 * s2))  # noqa: E731
        return (k(dxx).mean((1, 2)) + k(dyy).mean((1, 2)) - 2 * k(dxy).mean((1, 2))).mean()
    raise ValueError(f"unknown MMD kernel {kernel!r}; choose linear, poly2 or gaussian")


def _subsample(x: Tensor, n: int, generator: torch.Generator | None) -> Tensor:
    # (N, P, C) -> (N, min(P, n), C), the same random positions for every sample.
    if x.shape[1] <= n:
        return x
    idx = torch.randperm(x.shape[1], generator=generator, device="cpu")[:n].to(x.device)
    return x[:, idx]


def tv_loss(img: Tensor) -> Tensor:
    """Total-variation regularizer of an image batch (N, 3, H, W)."""
    return total_variation(img.float())


@dataclass
class StyleTarget:
    """Precomputed style statistics of one style image at one layer."""

    gram: Tensor | None = None  # (1, C, C)
    mean_std: Stats | None = None  # 2 × (1, C, 1, 1)
    features: Tensor | None = None  # (1, C, H, W), for MMD


def style_target(feat: Tensor, kind: str) -> StyleTarget:
    """The statistics that a style loss of ``kind`` compares against."""
    feat = feat.detach()
    if kind == "gram":
        return StyleTarget(gram=gram_matrix(feat))
    if kind == "mean_std":
        return StyleTarget(mean_std=calc_mean_std(feat))
    if kind.startswith("mmd_"):
        return StyleTarget(features=feat)
    raise ValueError(f"unknown style loss {kind!r}; choose from {', '.join(STYLE_LOSSES)}")


def blend_targets(targets: Sequence[StyleTarget], weights: Sequence[float]) -> StyleTarget:
    """Weighted combination of several styles' targets (weights normalized to sum to 1).

    Gram matrices and mean/std blend linearly. For MMD the features are concatenated
    (positions sampled in proportion to the weights), i.e. a mixture of the distributions.
    """
    wt = torch.tensor(weights, dtype=torch.float64)
    if len(targets) != len(wt) or (wt < 0).any() or wt.sum() <= 0:
        raise ValueError("style weights must be non-negative, one per style, and not all zero")
    w = (wt / wt.sum()).tolist()
    first = targets[0]
    # The targets are of one kind (style_target's), so the statistic set in the first is set in
    # each; a sum over them (one at least) is a Tensor, never sum()'s start 0.
    if first.gram is not None:
        grams = [cast(Tensor, t.gram) for t in targets]
        return StyleTarget(gram=cast(Tensor, sum(wi * g for wi, g in zip(w, grams))))
    if first.mean_std is not None:
        stats = [cast(Stats, t.mean_std) for t in targets]
        return StyleTarget(
            mean_std=(
                cast(Tensor, sum(wi * s[0] for wi, s in zip(w, stats))),
                cast(Tensor, sum(wi * s[1] for wi, s in zip(w, stats))),
            )
        )
    features = [cast(Tensor, t.features) for t in targets]
    parts = []
    total = min(f.shape[2] * f.shape[3] for f in features)
    for wi, f in zip(w, features):
        pos = f.flatten(2)
        keep = max(1, round(wi * total)) if wi > 0 else 0
        if keep:
            idx = torch.linspace(0, pos.shape[2] - 1, keep).round().long()
            parts.append(pos[:, :, idx])
    feats = torch.cat(parts, dim=2)
    return StyleTarget(features=feats.unsqueeze(3))  # (1, C, P, 1)


def style_loss(feat: Tensor, target: StyleTarget, kind: str) -> Tensor:
    """One layer's style loss of ``kind`` (see :data:`STYLE_LOSSES`)."""
    # ``target`` comes from style_target(..., kind): the statistic of that kind is set
    if kind == "gram":
        return gram_loss(feat, cast(Tensor, target.gram))
    if kind == "mean_std":
        return mean_std_loss(feat, cast(Stats, target.mean_std))
    if kind.startswith("mmd_"):
        return mmd_loss(feat, cast(Tensor, target.features), kind[4:])
    raise ValueError(f"unknown style loss {kind!r}; choose from {', '.join(STYLE_LOSSES)}")


@dataclass
class LossWeights:
    """Layer weights and term weights of a perceptual loss.

    ``content_layers`` / ``style_layers`` map VGG-19 layer names to per-layer weights.
    """

    content_layers: dict[str, float] = field(default_factory=lambda: {"relu4_2": 1.0})
    style_layers: dict[str, float] = field(default_factory=lambda: {n: 1.0 for n in GRAM_STYLE_LAYERS})
    content_weight: float = 1.0
    style_weight: float = 1.0
    tv_weight: float = 0.0
    style_loss: str = "gram"

    def __post_init__(self) -> None:
        if self.style_loss not in STYLE_LOSSES:
            raise ValueError(f"unknown style loss {self.style_loss!r}; choose from {', '.join(STYLE_LOSSES)}")
        for name, v in (
            ("content_weight", self.content_weight),
            ("style_weight", self.style_weight),
            ("tv_weight", self.tv_weight),
        ):
            if not v >= 0:
                raise ValueError(f"{name} must be >= 0, got {v}")
        if not self.style_layers and not self.content_layers:
            raise ValueError("need at least one content or style layer")
        for name, w in {**self.content_layers, **self.style_layers}.items():
            if not w >= 0:
                raise ValueError(f"layer weight of {name} must be >= 0, got {w}")

    @property
    def layers(self) -> list[str]:
        return list(dict.fromkeys([*self.content_layers, *self.style_layers]))


def weighted_layer_sum(values: Mapping[str, Tensor], weights: Mapping[str, float]) -> Tensor:
    """Σ_l w_l · values[l] over the layers in ``weights``."""
    # the callers pass weights for one layer at least: a Tensor, never sum()'s start 0
    return cast(Tensor, sum(w * values[name] for name, w in weights.items()))


def perceptual_terms(
    feats: Mapping[str, Tensor],
    img: Tensor,
    weights: LossWeights,
    *,
    content_targets: Mapping[str, Tensor],
    style_targets: Mapping[str, StyleTarget],
) -> dict[str, Tensor]:
    """Weighted ``content``, ``style``, ``tv`` terms and their ``total`` (scalars).

    ``feats``: encoder features of ``img`` (N, 3, H, W) at ``weights.layers``.
    """
    zero = img.new_zeros((), dtype=torch.float32)
    content = (
        weighted_layer_sum(
            {n: content_loss(feats[n], content_targets[n]) for n in weights.content_layers}, weights.content_layers
        )
        if weights.content_layers and content_targets
        else zero
    )
    style = (
        weighted_layer_sum(
            {n: style_loss(feats[n], style_targets[n], weights.style_loss) for n in weights.style_layers},
            weights.style_layers,
        )
        if weights.style_layers and style_targets
        else zero
    )
    tv = tv_loss(img) if weights.tv_weight > 0 else zero
    terms = {
        "content": weights.content_weight * content,
        "style": weights.style_weight * style,
        "tv": weights.tv_weight * tv,
    }
    terms["total"] = terms["content"] + terms["style"] + terms["tv"]
    return terms
