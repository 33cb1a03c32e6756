"""Training a feed-forward network to be stable under small motions (for video).

A strided network paints a scene that moved by a fraction of its 4-px grid, zoomed a little or
turned a little with its texture in another place, and sensor or compression noise moves the
texture too: that is most of the flicker left once instance-norm statistics are shared across
frames (:mod:`instyle.video.stabilize`). The remedy of Gupta et al. 2017 ("Characterizing and
improving stability in neural style transfer") and Huang et al. 2017 (real-time video style
transfer's temporal loss), without video data: warp a training photo by a random small motion M
(shift, zoom, rotation), add noise, and ask the network's output on it to be the target warped
by the same M:

    L_stab = mean over valid pixels of |g(M(x) + n) − M(t(x))|₁        t(x): the target output of x

where ``t`` is the frozen teacher in distillation (:mod:`instyle.train.distill`), or the network's
own output (detached) when it is trained with the perceptual losses (:mod:`instyle.train.fast`,
as Huang et al.'s temporal loss between two outputs): the perceptual losses keep the texture
sharp while this one asks it to stay in place. Distillation alone blurs it (the student learns
the average of the teacher's textures over the grid's phases, and loses texture detail:
benchmarks/video.py's texture measure, docs/video.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Motion:
    """The range of the random motions: shift up to ``shift`` px each way (a frame's motion at
    24 fps, every phase of the grid), zoom by up to ``zoom`` (relative), turn up to ``rotate``
    degrees."""

    shift: float = 4.0
    zoom: float = 0.04
    rotate: float = 2.0


def check_stability(weight: float, noise: float) -> None:
    """ValueError unless the stability loss's weight is in [0, 1000] and its noise in [0, 0.5]."""
    if not 0.0 <= weight <= 1000.0:
        raise ValueError(f"stability weight must be in [0, 1000], got {weight}")
    if not 0.0 <= noise <= 0.5:
        raise ValueError(f"noise must be in [0, 0.5], got {noise}")


def random_motion(n: int, hw: Sequence[int], motion: Motion = Motion(), *, device=None) -> Tensor:
    """(n, 2, 3) affine matrices for :func:`torch.nn.functional.affine_grid`, in its normalized
    coordinates ([-1, 1] across the image), one uniform random motion each."""
    h, w = hw
    u = torch.rand(n, 4, device=device) * 2 - 1  # (n, 4) in [-1, 1): dx, dy, zoom, angle
    scale = 1.0 + motion.zoom * u[:, 2]  # output px -> input px: >1 zooms out
    angle = u[:, 3] * math.radians(motion.rotate)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.zeros(n, 2, 3, device=device)
    # normalized coordinates stretch x by w/2 and y by h/2: rotate in pixel space
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * h / w
    theta[:, 1, 0], theta[:, 1, 1] = sin * w / h, cos
    theta[:, 0, 2] = u[:, 0] * motion.shift * 2 / w
    theta[:, 1, 2] = u[:, 1] * motion.shift * 2 / h
    return theta


def warp_affine(x: Tensor, theta: Tensor) -> tuple[Tensor, Tensor]:
    """``x`` (N, C, H, W) resampled by ``theta`` (N, 2, 3) (bicubic, edges replicated) ->
    (warped (N, C, H, W), valid (N, 1, H, W): 1 where the sample came from inside the image)."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (N, H, W, 2)
    warped = F.grid_sample(x, grid, mode="bicubic", padding_mode="border", align_corners=False)
    # a px-wide margin inside: bicubic reads 2 px around each sample
    h, w = x.shape[-2:]
    margin = torch.tensor([1 - 4.0 / w, 1 - 4.0 / h], device=x.device)
    valid = (grid.abs() <= margin).all(dim=-1, keepdim=True).permute(0, 3, 1, 2)
    return warped, valid.to(x.dtype)


def motion_consistency(model, x: Tensor, selector, target: Tensor, noise: float) -> Tensor:
    """L_stab for one batch: ``x`` (B, 3, H, W) in [0, 1] moved by a random small motion plus
    Gaussian noise of std ``noise``, through ``model(moved, selector)``, against ``target``
    (B, 3, H, W: the output wanted for ``x``, without gradient) moved alike."""
    theta = random_motion(x.shape[0], x.shape[-2:], Motion(), device=x.device)  # (B, 2, 3)
    moved, valid = warp_affine(x.float(), theta)  # (B, 3, H, W), (B, 1, H, W)
    moved = (moved + noise * torch.randn_like(moved)).clamp(0.0, 1.0)
    with torch.no_grad():
        target_moved, _ = warp_affine(target.detach().float(), theta)
    return stability_loss(model(moved.to(x.dtype), selector).float(), target_moved, valid)


def stability_loss(model_out: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Mean absolute difference over the valid pixels: ``model_out``, ``target`` (N, C, H, W),
    ``valid`` (N, 1, H, W) in {0, 1}."""
    diff = (model_out - target).abs() * valid
    return diff.sum() / (valid.sum() * model_out.shape[1]).clamp_min(1.0)
