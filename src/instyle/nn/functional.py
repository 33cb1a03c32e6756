"""Stateless tensor math shared by every model, loss and control in instyle.

Everything here is a pure function of its tensor arguments (no modules, no state),
in the spirit of pytorch-AdaIN's ``function.py``; the one context a keyed instance norm reads
(video's statistics filter) lives in :mod:`.stats_filter`, and the ONNX forms of the
normalization in :mod:`.onnx_ops`. Shapes use N (batch), C (channels),
H, W (spatial size).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..blend import blend_weights, mix
from ..sizes import can_reflect
from .stats_filter import Stats, current_filter

DEFAULT_EPS = 1e-5


def _check_4d(x: Tensor, name: str) -> None:
    if x.dim() != 4:
        raise ValueError(f"{name} must be a 4-D tensor (N, C, H, W), got shape {tuple(x.shape)}")


def pad_reflect(x: Tensor, pad: int | Sequence[int]) -> Tensor:
    """Reflection padding, or edge replication where the map is too small to reflect.

    The one padding rule of every network in instyle (VGG with ``padding="reflect"``, the AdaIN
    decoder, the fast generators): reflect, as the models were trained, unless a pad is not
    smaller than the side it mirrors (a 1-px map, or a tiny image padded to the networks'
    minimum), which reflection cannot do; then replicate the edge instead of failing.

    Args:
        x: (N, C, H, W).
        pad: one width for all four sides, or (left, right, top, bottom).

    Returns:
        (N, C, H + top + bottom, W + left + right).
    """
    pads = (pad,) * 4 if isinstance(pad, int) else tuple(pad)
    return F.pad(x, pads, mode="reflect" if can_reflect(x.shape[-2:], pads) else "replicate")


def calc_mean_std(feat: Tensor, eps: float = DEFAULT_EPS) -> Stats:
    """Per-sample, per-channel mean and standard deviation over H×W.

    Args:
        feat: (N, C, H, W) features.
        eps: added to the (biased) variance before the square root, so a constant
            channel or a 1×1 map gives std = sqrt(eps) instead of 0 (never NaN).

    Returns:
        ``(mean, std)``, each (N, C, 1, 1), in float32 or wider even for half inputs.
    """
    _check_4d(feat, "feat")
    n, c, h, w = feat.shape
    var = None
    if (
        feat.dtype == torch.float32
        and not feat.requires_grad
        and not torch.jit.is_tracing()
        and (feat.is_contiguous() or feat.is_contiguous(memory_format=torch.channels_last))
    ):
        # Fast path (inference on float32 maps, NCHW or NHWC): Σx and Σx² reduced along H×W of a
        # (N, C, HW) or (N, HW, C) view in one vectorized pass each (faster than var_mean,
        # which takes two passes, on channels-last maps), then var = E[x²] − μ². Kept only where
        # cancellation is harmless (σ² > 1e-3·E[x²], i.e. |μ|/σ < ~31: relative error < 1e-4);
        # otherwise the exact two-pass form below (also what ONNX export traces: no data-dependent branch).
        y, dim = (
            (feat.view(n, c, h * w), 2) if feat.is_contiguous() else (feat.permute(0, 2, 3, 1).reshape(n, h * w, c), 1)
        )
        mean = y.sum(dim) / (h * w)
        sq = y.square().sum(dim) / (h * w)
        var = sq - mean.square()
        if not bool((var > 1e-3 * sq).all()):
            var = None
    if var is None:
        x = feat.flatten(2)
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        # Biased variance, as in instance normalization (Ulyanov et al. 2016).
        var, mean = torch.var_mean(x, dim=2, correction=0)
    std = (var + eps).sqrt()
    return mean.view(n, c, 1, 1), std.view(n, c, 1, 1)


def instance_norm(
    feat: Tensor,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = DEFAULT_EPS,
    key: object = None,
) -> Tensor:
    """Instance normalization (Ulyanov et al. 2016): y = γ·(x − μ_nc)/σ_nc + β.

    μ_nc, σ_nc are taken per sample and per channel over H×W, so one sample's output never
    depends on the rest of the batch, and training and inference use identical statistics.

    Args:
        feat: (N, C, H, W).
        weight: γ of shape (C,) or (N, C) (per-sample γ, used by conditional IN), or None.
        bias: β of the same shapes as ``weight``, or None.
        key: identifies the caller to a :func:`statistics_filter` (None: never filtered).
    """
    exporting = torch.onnx.is_in_onnx_export()
    stats_filter = current_filter() if key is not None else None
    if exporting:
        from .onnx_ops import OnnxInstanceNorm, OnnxMeanStd  # only while writing ONNX

        if stats_filter is None:
            out = OnnxInstanceNorm.apply(feat, eps, int(feat.shape[1]))  # one ONNX node
        else:  # statistics from the filter: y = x·s + t, s = γ/σ', t = β − μ'·s, per channel
            mean, std = stats_filter(key, *OnnxMeanStd.apply(feat, eps))  # (N, C, 1, 1) twice
            scale = std.reciprocal() if weight is None else _as_channel_param(weight, std) / std
            shift = -mean * scale if bias is None else _as_channel_param(bias, mean) - mean * scale
            return feat * scale + shift
    else:
        mean, std = calc_mean_std(feat, eps)  # (N, C, 1, 1) float32
        if stats_filter is not None:
            mean, std = stats_filter(key, mean, std)
        if not torch.jit.is_tracing() and bool((mean.abs() <= 100 * std).all()):
            # One fused pass: y = x·s + t with s = γ/σ, t = β − μ·γ/σ (float32, then cast); exact
            # enough where |μ|/σ ≤ 100 (the x·s − μ·s cancellation loses < 1e-5·|μ|/σ).
            scale = std.reciprocal()
            if weight is not None:
                scale = scale * _as_channel_param(weight, scale)
            shift = -mean * scale
            if bias is not None:
                shift = shift + _as_channel_param(bias, shift)
            return torch.addcmul(shift.to(feat.dtype), feat, scale.to(feat.dtype))
        out = (feat - mean.to(feat.dtype)) / std.to(feat.dtype)
    if weight is not None:
        out = out * _as_channel_param(weight, feat)
    if bias is not None:
        out = out + _as_channel_param(bias, feat)
    return out


def _as_channel_param(p: Tensor, feat: Tensor) -> Tensor:
    # (C,) -> (1, C, 1, 1); (N, C) -> (N, C, 1, 1)
    if p.dim() == 1:
        return p.view(1, -1, 1, 1).to(feat.dtype)
    if p.dim() == 2:
        return p.view(p.shape[0], p.shape[1], 1, 1).to(feat.dtype)
    raise ValueError(f"affine parameter must be (C,) or (N, C), got shape {tuple(p.shape)}")


def adain(content: Tensor, style: Tensor | Stats, eps: float = DEFAULT_EPS, key: object = None) -> Tensor:
    """Adaptive instance normalization (Huang & Belongie 2017, eq. 8).

    AdaIN(x, y) = σ(y)·(x − μ(x))/σ(x) + μ(y): the content features are normalized per
    channel and then take on the style's per-channel mean and std.

    Args:
        content: (N, C, H, W) content features.
        style: (N or 1, C, H', W') style features, or a ``(mean, std)`` pair of
            (N or 1, C, 1, 1) tensors (e.g. a stored style preset).
        eps: variance epsilon of the content statistics.
        key: identifies the content's statistics to a :func:`statistics_filter`.

    Returns:
        (N, C, H, W) features whose per-channel mean/std equal the style's.
    """
    _check_4d(content, "content")
    if isinstance(style, (tuple, list)):
        s_mean, s_std = style
    else:
        _check_4d(style, "style")
        s_mean, s_std = calc_mean_std(style, eps)
    if s_mean.shape[1] != content.shape[1]:
        raise ValueError(f"channel mismatch: content has {content.shape[1]}, style has {s_mean.shape[1]}")
    # Normalize with γ = 1, β = 0, then scale by σ(y) and shift by μ(y).
    normalized = instance_norm(content, eps=eps, key=key)
    return normalized * s_std.to(content.dtype) + s_mean.to(content.dtype)


def alpha_blend(stylized: Tensor, content: Tensor, alpha: float | Tensor) -> Tensor:
    """The content–style trade-off (Huang & Belongie 2017, sec. 7.1): α·t + (1 − α)·f(c).

    Args:
        stylized: (N, C, H, W) AdaIN output t.
        content: (N, C, H, W) content features f(c).
        alpha: in [0, 1]; 1 returns ``stylized`` itself.
    """
    if isinstance(alpha, Tensor):  # a graph input (ONNX export): no Python branch on its value
        return alpha * stylized + (1.0 - alpha) * content
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return stylized if alpha == 1.0 else alpha * stylized + (1.0 - alpha) * content


def normalize_weights(weights: Sequence[float] | None, n: int) -> Tensor:
    """Blend weights of ``n`` styles as a (n,) float32 tensor summing to 1 (equal weights if None),
    by the one rule of :func:`instyle.blend.blend_weights`."""
    return torch.tensor(blend_weights(weights, n), dtype=torch.float32)


def mix_stats(stats: Sequence[Stats], weights: Sequence[float] | Tensor) -> Stats:
    """Blend several styles' statistics: (Σ_k w_k·μ_k, Σ_k w_k·σ_k), weights summing to 1.

    AdaIN is affine in (μ, σ) for fixed content, so AdaIN with these mixed statistics equals the
    weighted interpolation of the styles' AdaIN outputs (Huang & Belongie 2017, sec. 7.2).
    Each pair: (N or 1, C, 1, 1).
    """
    w = weights.tolist() if isinstance(weights, Tensor) else [float(x) for x in weights]
    return mix([m.float() for m, _ in stats], w), mix([s.float() for _, s in stats], w)


def masked_mean_std(feat: Tensor, mask: Tensor, eps: float = DEFAULT_EPS) -> Stats:
    """Per-channel mean and std of ``feat`` over the positions where ``mask`` is true.

    Args:
        feat: (N, C, H, W).
        mask: (N or 1, 1, H, W) bool or {0, 1}; an empty region gives mean 0, std sqrt(eps).

    Returns:
        ``(mean, std)``, each (N, C, 1, 1) float32.
    """
    _check_4d(feat, "feat")
    m = mask.to(torch.float32).expand(feat.shape[0], 1, *feat.shape[-2:])
    x = feat.float()
    count = m.sum(dim=(2, 3), keepdim=True).clamp_min(1.0)  # (N, 1, 1, 1)
    mean = (x * m).sum(dim=(2, 3), keepdim=True) / count
    var = ((x - mean).pow(2) * m).sum(dim=(2, 3), keepdim=True) / count
    return mean, (var + eps).sqrt()


def adain_regions(content: Tensor, labels: Tensor, styles: Sequence[Stats], eps: float = DEFAULT_EPS) -> Tensor:
    """AdaIN per region (Huang & Belongie 2017, sec. 7.2, spatial control).

    Each region's content features are normalized with that region's own statistics and take on
    the statistics of its style; positions labelled −1 keep the content features unchanged.

    Args:
        content: (N, C, H, W) features.
        labels: (N or 1, 1, H, W) integer region index per position, −1 for "no style".
        styles: one ``(mean, std)`` pair, each (N or 1, C, 1, 1), per region index.
    """
    _check_4d(content, "content")
    out = content.clone()
    for k, (s_mean, s_std) in enumerate(styles):
        region = labels == k  # (N|1, 1, H, W)
        if not bool(region.any()):
            continue
        mean, std = masked_mean_std(content, region, eps)
        stylized = (content.float() - mean) / std * s_std.float() + s_mean.float()
        out = torch.where(region, stylized.to(content.dtype), out)
    return out


def gram_matrix(feat: Tensor, normalize: bool = True) -> Tensor:
    """Gram matrix G = F·Fᵀ of features F reshaped to (N, C, H·W) (Gatys et al. 2016).

    Args:
        feat: (N, C, H, W).
        normalize: divide by H·W (the per-position average of the channel outer products),
            which keeps the scale independent of image size.

    Returns:
        (N, C, C), float32. Half-precision inputs are multiplied in float32, except under
        autocast, where the product runs in the autocast dtype (bf16 with fp32 accumulation,
        faster on CPUs with native bf16: docs/benchmarks.md) and only the result is float32.
    """
    _check_4d(feat, "feat")
    n, c, h, w = feat.shape
    f = feat.reshape(n, c, h * w)
    if f.dtype in (torch.float16, torch.bfloat16) and not torch.is_autocast_enabled(f.device.type):
        f = f.float()
    g = torch.bmm(f, f.transpose(1, 2)).float()  # (N, C, H·W) @ (N, H·W, C) -> (N, C, C)
    return g / (h * w) if normalize else g


def total_variation(img: Tensor) -> Tensor:
    """Anisotropic total variation: mean |∂x| + mean |∂y| over a (N, C, H, W) batch."""
    _check_4d(img, "img")
    tv = img.new_zeros(())
    if img.shape[3] > 1:
        tv = tv + (img[:, :, :, 1:] - img[:, :, :, :-1]).abs().mean()
    if img.shape[2] > 1:
        tv = tv + (img[:, :, 1:, :] - img[:, :, :-1, :]).abs().mean()
    return tv


def _sort_last(x: Tensor) -> Tensor:
    """``torch.sort(x, dim=-1).values``, differentiable; on the CPU through NumPy's argsort and a
    gather (torch 2.13's CPU sort took ~3x NumPy's argsort on (8, 64, 4096) float32 here)."""
    if x.device.type != "cpu":
        return torch.sort(x, dim=-1).values
    import numpy as np

    order = torch.from_numpy(np.argsort(x.detach().numpy(), axis=-1))
    return x.gather(-1, order)


def sliced_wasserstein(
    x: Tensor, y: Tensor, n_projections: int = 64, *, quantiles: int = 256, generator: torch.Generator | None = None
) -> Tensor:
    """Sliced Wasserstein-1 distance between two point clouds, per sample (Rabin et al. 2011).

    Both clouds are projected on the same ``n_projections`` random unit directions; in 1-D the
    Wasserstein-1 distance is the mean gap between sorted values, compared at ``quantiles``
    evenly spaced quantiles so the clouds may have different sizes. Differentiable in ``x`` (sort
    passes gradients to the values it moved). Used on pixel colours (CIELAB): a palette distance in
    the units of the points (ΔE for Lab).

    Args:
        x: (N, P, D) points; y: (N or 1, Q, D).
        generator: draws the directions (the same directions for every sample).

    Returns:
        (N,) distances, float32.
    """
    if x.dim() != 3 or y.dim() != 3 or x.shape[-1] != y.shape[-1] or y.shape[0] not in (1, x.shape[0]):
        raise ValueError(
            f"point clouds must be (N, P, D) and (N or 1, Q, D), got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.shape[1] == 0 or y.shape[1] == 0:
        raise ValueError("point clouds must not be empty")
    d = x.shape[-1]
    dirs = torch.randn(d, n_projections, generator=generator, dtype=torch.float32).to(x.device)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)

    def sorted_quantiles(points: Tensor) -> Tensor:
        # (N, P, D) -> (N, K, q): each projection's values at the centres of q equal-mass bins; sorted
        # along the last, contiguous dimension (sorting along P of an (N, P, K) view strides through memory)
        proj = _sort_last((points.float() @ dirs).transpose(1, 2).contiguous())
        p = proj.shape[2]
        q = min(quantiles, p)
        idx = ((torch.arange(q, device=x.device, dtype=torch.float32) + 0.5) * p / q).long().clamp_max(p - 1)
        return proj[:, :, idx]

    qx, qy = sorted_quantiles(x), sorted_quantiles(y)
    if qx.shape[2] != qy.shape[2]:  # a cloud smaller than ``quantiles``: compare at the smaller count
        q = min(qx.shape[2], qy.shape[2])
        qx = qx[:, :, torch.linspace(0, qx.shape[2] - 1, q).round().long()]
        qy = qy[:, :, torch.linspace(0, qy.shape[2] - 1, q).round().long()]
    return (qx - qy.expand_as(qx)).abs().mean(dim=(1, 2))
