"""Plain helpers shared by test modules (import as ``from helpers import ...``)."""

import numpy as np
import torch
import torch.nn.functional as tF


def to_tensor(arr: np.ndarray, h: int, w: int) -> torch.Tensor:
    """(H, W, 3) uint8 array -> (1, 3, h, w) float in [0, 1], antialiased resize."""
    x = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float().div(255).unsqueeze(0)
    return tF.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
