"""Colour preservation (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer").

Two methods, both on RGB images (N, 3, H, W) in [0, 1]:

* **colour matching** (``match_colors``): before stylization, give the style image the content
  image's colour mean and covariance (a linear map, CORAL — Sun et al. 2016 — / "colour
  histogram matching" in Gatys et al.);
* **luminance-only transfer** (``luminance_only`` + ``combine_luminance``): transfer style on
  the luminance channel only and keep the content's chroma (YIQ).

``rgb_to_lab`` gives CIELAB (D65), where distances roughly follow perceived colour differences:
the palette scores of :mod:`instyle.evaluate` and the colour loss of AdaIN training use it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .luma import RGB_TO_YIQ
from .resize import resize_to

# NTSC YIQ (Gatys et al. 2017 use YIQ for luminance-only transfer).
_RGB_TO_YIQ = torch.tensor(RGB_TO_YIQ, dtype=torch.float64)
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _apply_3x3(m: Tensor, img: Tensor) -> Tensor:
    # (3, 3) · (N, 3, H, W) per pixel
    return torch.einsum("ij,njhw->nihw", m.to(img.dtype).to(img.device), img)


def rgb_to_yiq(img: Tensor) -> Tensor:
    """(N, 3, H, W) RGB -> YIQ."""
    return _apply_3x3(_RGB_TO_YIQ, img)


def yiq_to_rgb(img: Tensor) -> Tensor:
    """(N, 3, H, W) YIQ -> RGB (not clamped)."""
    return _apply_3x3(_YIQ_TO_RGB, img)


# sRGB (linear) -> CIE XYZ, D65 white (IEC 61966-2-1), and the D65 reference white.
_RGB_TO_XYZ = torch.tensor(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]],
    dtype=torch.float64,
)
_D65_WHITE = (0.95047, 1.0, 1.08883)


def rgb_to_lab(img: Tensor) -> Tensor:
    """(N, 3, H, W) sRGB in [0, 1] -> CIELAB (D65): L in [0, 100], a and b roughly in [-110, 110].

    Differentiable (the cube root is linearised near 0, as the standard does, so its gradient stays
    finite); values outside [0, 1] are clamped first.
    """
    x = img.float().clamp(0, 1)
    lin = torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055).clamp_min(1e-8) ** 2.4)
    xyz = _apply_3x3(_RGB_TO_XYZ, lin)
    xyz = xyz / xyz.new_tensor(_D65_WHITE).view(1, 3, 1, 1)
    delta = 6.0 / 29.0
    f = torch.where(xyz > delta**3, xyz.clamp_min(delta**3) ** (1.0 / 3.0), xyz / (3 * delta**2) + 4.0 / 29.0)
    fx, fy, fz = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    return torch.cat([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)


def luminance(img: Tensor) -> Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) luma Y."""
    return rgb_to_yiq(img)[:, :1]


def _sym_matrix_power(cov: Tensor, power: float) -> Tensor:
    # Symmetric PSD matrix to a real power via eigendecomposition; (3, 3).
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(1e-10) ** power
    return vecs @ torch.diag(vals) @ vecs.T


def match_colors(source: Tensor, target: Tensor, eps: float = 1e-5) -> Tensor:
    """Recolour ``source`` so its RGB mean and covariance equal ``target``'s (CORAL).

    x' = Σ_t^{1/2} Σ_s^{-1/2} (x − μ_s) + μ_t, computed in float64, result clamped to [0, 1].

    Args:
        source: (1, 3, H, W) image to recolour (e.g. the style image).
        target: (1, 3, H', W') image whose colours to take (e.g. the content image).
    """
    if source.dim() != 4 or source.shape[1] != 3 or target.dim() != 4 or target.shape[1] != 3:
        raise ValueError("match_colors expects (N, 3, H, W) RGB images")
    out = []
    for s, t in zip(source, target.expand(source.shape[0], -1, -1, -1)):
        xs = s.reshape(3, -1).double()  # (3, P)
        xt = t.reshape(3, -1).double()
        mu_s, mu_t = xs.mean(1, keepdim=True), xt.mean(1, keepdim=True)
        eye = torch.eye(3, dtype=torch.float64, device=xs.device) * eps
        cov_s = torch.cov(xs) + eye if xs.shape[1] > 1 else eye
        cov_t = torch.cov(xt) + eye if xt.shape[1] > 1 else eye
        a = _sym_matrix_power(cov_t, 0.5) @ _sym_matrix_power(cov_s, -0.5)
        out.append((a @ (xs - mu_s) + mu_t).reshape(s.shape))
    return torch.stack(out).to(source.dtype).clamp(0, 1)


def luminance_only(img: Tensor, reference: Tensor | None = None) -> Tensor:
    """Grey 3-channel image of ``img``'s luminance; if ``reference`` is given, the luminance is
    first shifted and scaled to the reference's luminance mean and std (Gatys et al. 2017, eq. 5).
    (N, 3, H, W) -> (N, 3, H, W).
    """
    y = luminance(img)
    if reference is not None:
        yr = luminance(reference)
        # Population (biased) std: defined for a 1×1 image too (the unbiased one is NaN there).
        y = (y - y.mean()) / y.std(correction=0).clamp_min(1e-6) * yr.std(correction=0) + yr.mean()
    return y.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def combine_luminance(stylized: Tensor, content: Tensor) -> Tensor:
    """The stylized image's luminance with the content's chroma (I, Q): (N, 3, H, W), clamped.

    ``content`` is resized to ``stylized``'s size if needed.
    """
    content = resize_to(content, stylized.shape[-2:])
    yiq = rgb_to_yiq(content)
    yiq = torch.cat([luminance(stylized), yiq[:, 1:]], dim=1)
    return yiq_to_rgb(yiq).clamp(0, 1)
