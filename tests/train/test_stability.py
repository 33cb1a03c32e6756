"""Tests for instyle.train.stability: random small motions, their warps and valid masks, and the
stability loss, alone and inside distillation and fast-network training."""

from __future__ import annotations

import math

import pytest
import torch

from instyle.train.stability import (
    Motion,
    check_stability,
    motion_consistency,
    random_motion,
    stability_loss,
    warp_affine,
)


def _shift(n, dx, dy, hw):
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 2], theta[:, 1, 2] = dx * 2 / hw[1], dy * 2 / hw[0]
    return theta


def test_an_integer_shift_moves_the_pixels_and_masks_the_border():
    x = torch.rand(2, 3, 24, 32)
    warped, valid = warp_affine(x, _shift(2, 3, -2, (24, 32)))
    # output pixel (i, j) samples input (i + dy, j + dx): exact at integer shifts
    torch.testing.assert_close(warped[..., 4:-4, 4:-6], x[..., 2:-6, 7:-3], atol=1e-5, rtol=0)
    assert valid.shape == (2, 1, 24, 32)
    assert valid[..., 10, 10].eq(1).all()
    assert valid[..., :, -3:].eq(0).all()  # sampled from outside the image (3 px right)
    assert valid[..., :3, :].eq(0).all()  # and 2 px above it, plus the margin


def test_random_motions_stay_in_their_ranges():
    torch.manual_seed(0)
    m = Motion(shift=4.0, zoom=0.04, rotate=2.0)
    theta = random_motion(500, (60, 80), m)
    shift_px = torch.stack([theta[:, 0, 2] * 80 / 2, theta[:, 1, 2] * 60 / 2], 1)
    assert shift_px.abs().max() <= 4.0 and shift_px.abs().max() > 3.5
    # in pixel units the linear part is scale × rotation
    a = theta[:, 0, 0]
    b = theta[:, 1, 0] * 60 / 80
    scale, angle = torch.sqrt(a * a + b * b), torch.atan2(b, a)
    assert (scale - 1).abs().max() <= 0.04 + 1e-6 and (scale - 1).abs().max() > 0.03
    assert angle.abs().max() <= math.radians(2.0) + 1e-6
    torch.testing.assert_close(theta[:, 1, 1], a)  # the same scale and angle on both axes


def test_the_loss_is_zero_for_a_network_that_moves_with_its_input_and_not_for_one_that_does_not():
    torch.manual_seed(0)
    x = torch.rand(3, 3, 40, 40)
    follows = lambda z, sel: z * 0.5 + 0.25  # noqa: E731 - pointwise: moves with the scene
    assert motion_consistency(follows, x, None, follows(x, None), noise=0.0) < 1e-3
    pinned = torch.rand(1, 3, 40, 40)  # a texture fixed to the frame, whatever the scene does
    fixed = lambda z, sel: 0.5 * z + pinned  # noqa: E731
    assert motion_consistency(fixed, x, None, fixed(x, None), noise=0.0) > 0.05
    # noise alone moves a pointwise network's output by about noise x its slope x sqrt(2/pi)
    assert motion_consistency(follows, x, None, follows(x, None), noise=0.1) == pytest.approx(0.04, rel=0.5)


def test_the_loss_averages_over_valid_pixels_only():
    out, target = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    valid = torch.zeros(1, 1, 4, 4)
    valid[..., :2, :] = 1
    target[..., 2:, :] = 100.0  # outside the mask: ignored
    assert stability_loss(out, target, valid).item() == pytest.approx(1.0)
    assert stability_loss(out, target, torch.zeros_like(valid)).item() == 0.0


@pytest.mark.parametrize("weight, noise", [(-1.0, 0.0), (2000.0, 0.0), (1.0, -0.1), (1.0, 0.6)])
def test_bad_settings_are_refused(weight, noise):
    with pytest.raises(ValueError):
        check_stability(weight, noise)
