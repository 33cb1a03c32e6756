"""Resizing image tensors: antialiased bilinear, the one way instyle resizes tensors."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor


def resize_to(img: Tensor, hw: Sequence[int]) -> Tensor:
    """(N, C, H, W) -> (N, C, h, w); returned as is when already that size."""
    hw = (int(hw[0]), int(hw[1]))
    if tuple(img.shape[-2:]) == hw:
        return img
    return F.interpolate(img, size=hw, mode="bilinear", align_corners=False, antialias=True)


def resize_longer(img: Tensor, size: int) -> Tensor:
    """(N, C, H, W) -> longer side ``size``, aspect kept, each side >= 1 px."""
    h, w = img.shape[-2:]
    scale = size / max(h, w)
    return resize_to(img, (max(1, round(h * scale)), max(1, round(w * scale))))
