"""Helpers shared by the instyle.imageio tests (the folder is ``image_io``, not ``imageio``: pytest
imports test folders as top-level packages, and one named ``imageio`` would shadow the imageio
library that scikit-image uses)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from instyle.errors import InstyleError
from instyle.imageio import ImageData


def rgb_of(data: ImageData) -> np.ndarray:
    """(H, W, 3) numpy view of data.rgb, after checking the contract."""
    check_tensor(data.rgb)
    return data.rgb[0].permute(1, 2, 0).numpy()


def check_tensor(t: torch.Tensor) -> None:
    assert isinstance(t, torch.Tensor)
    assert t.dtype == torch.float32
    assert t.dim() == 4 and t.shape[0] == 1 and t.shape[1] == 3
    assert t.shape[2] >= 1 and t.shape[3] >= 1
    assert torch.isfinite(t).all()
    assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0


def check_error(exc: InstyleError, name: str) -> None:
    msg = str(exc)
    assert "\n" not in msg and "\r" not in msg, msg
    assert name in msg, msg
    assert "Traceback" not in msg


def photo(w: int = 64, h: int = 48) -> np.ndarray:
    """(h, w, 3) uint8 crop of scikit-image's bundled astronaut."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[100 : 100 + h, 180 : 180 + w])


def save_pil(path: Path, im: Image.Image, **kw) -> Path:
    im.save(path, **kw)
    return path
