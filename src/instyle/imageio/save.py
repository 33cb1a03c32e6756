"""Writing images: any (1, 3, H, W) tensor to PNG, JPEG, WebP, BMP or TIFF, with its alpha
channel re-applied, atomically (a temporary file, then a rename)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, features

from ..atomic import write_with
from ..errors import UsageError, quoted
from ..resize import resize_to
from .streams import write_stdout

# Extension -> (Pillow format, whether the format keeps an alpha channel).
# BMP can technically hold 32-bit BGRA, but most readers ignore that alpha, so a BMP is
# written composited over white like a JPEG.
_SAVE_FORMATS: dict[str, tuple[str, bool]] = {
    ".png": ("PNG", True),
    ".jpg": ("JPEG", False),
    ".jpeg": ("JPEG", False),
    ".webp": ("WEBP", True),
    ".bmp": ("BMP", False),
    ".tif": ("TIFF", True),
    ".tiff": ("TIFF", True),
}

#: Extensions :func:`save_image` can write (the format is chosen from the extension).
SAVE_EXTENSIONS: tuple[str, ...] = tuple(_SAVE_FORMATS)


def _as_chw(img: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) or (3, H, W) -> (3, H, W) float32 on the CPU, finite, clamped to [0, 1]."""
    if not isinstance(img, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(img).__name__}")
    t = img.detach()
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 3 or t.shape[0] != 3:
        raise ValueError(f"expected an image tensor of shape (1, 3, H, W) or (3, H, W), got {tuple(img.shape)}")
    if t.shape[1] < 1 or t.shape[2] < 1:
        raise ValueError(f"image tensor has a zero height or width: {tuple(img.shape)}")
    t = t.to(device="cpu", dtype=torch.float32)
    t = torch.nan_to_num(t, nan=0.0, posinf=1.0, neginf=0.0)
    return t.clamp(0.0, 1.0)


def _to_uint8(t: torch.Tensor) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> (H, W, C) uint8, rounded to nearest."""
    return t.mul(255.0).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def tensor_to_image(t: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) float -> RGB Pillow image (clamped to [0, 1], rounded)."""
    return Image.fromarray(_to_uint8(_as_chw(t)), mode="RGB")


def _prepare_alpha(alpha: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """(1, 1, h, w), (1, h, w) or (h, w) mask -> (1, H, W) float32 in [0, 1] at size ``hw``."""
    if not isinstance(alpha, torch.Tensor):
        raise TypeError(f"alpha must be a torch.Tensor, got {type(alpha).__name__}")
    a = alpha.detach().to(device="cpu", dtype=torch.float32)
    while a.dim() > 2 and a.shape[0] == 1:
        a = a[0]
    if a.dim() != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"alpha must have shape (1, 1, h, w) or (h, w), got {tuple(alpha.shape)}")
    a = torch.nan_to_num(a, nan=1.0, posinf=1.0, neginf=0.0)[None, None]  # (1, 1, h, w)
    a = resize_to(a, hw)
    return a[0].clamp(0.0, 1.0)  # (1, H, W)


def save_image(
    dst: str | os.PathLike,
    img: torch.Tensor,
    *,
    alpha: torch.Tensor | None = None,
    overwrite: bool = False,
    quality: int = 95,
) -> Path | None:
    """Write ``img`` ((1, 3, H, W) or (3, H, W) float, clamped to [0, 1]) to ``dst``.

    The format follows the extension (:data:`SAVE_EXTENSIONS`); ``"-"`` writes PNG bytes to
    standard output and returns None. ``alpha`` ((1, 1, h, w) or (h, w) in [0, 1]) is resized
    to the image size and re-applied (RGBA output; JPEG and BMP get the image composited
    over white instead). ``quality`` (1-100) is used by JPEG and WebP. The file is written
    atomically (temporary file in the same folder, fsync, rename); missing folders are
    created. An existing ``dst`` is only replaced with ``overwrite=True``.
    """
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise UsageError(f"quality must be an integer from 1 to 100, got {quality!r}")
    to_stdout = isinstance(dst, str) and dst == "-"
    if to_stdout:
        fmt, keeps_alpha, name = "PNG", True, "<stdout>"
    else:
        name = os.fsdecode(os.fspath(dst))
        ext = os.path.splitext(name)[1].lower()
        if ext not in _SAVE_FORMATS:
            what = f"extension {ext!r}" if ext else "no extension"
            raise UsageError(
                f"cannot write image {quoted(name)}: {what} is not supported; "
                f"use one of {', '.join(SAVE_EXTENSIONS)}"
            )
        fmt, keeps_alpha = _SAVE_FORMATS[ext]

    rgb = _as_chw(img)  # (3, H, W) in [0, 1]
    hw = (int(rgb.shape[1]), int(rgb.shape[2]))
    a = _prepare_alpha(alpha, hw) if alpha is not None else None  # (1, H, W) | None
    if a is not None and keeps_alpha:
        pil = Image.fromarray(_to_uint8(torch.cat([rgb, a], dim=0)), mode="RGBA")
    else:
        if a is not None:
            rgb = rgb * a + (1.0 - a)  # composite over white: (3, H, W)
        pil = Image.fromarray(_to_uint8(rgb), mode="RGB")

    options: dict[str, object] = {}
    if fmt == "JPEG":
        # 4:4:4 chroma at high quality: stylized images are full of fine coloured detail.
        options = {"quality": int(quality), "subsampling": 0 if quality >= 90 else 2, "optimize": True}
    elif fmt == "WEBP":
        options = {"quality": int(quality), "method": 4}
    elif fmt == "TIFF":
        options = {"compression": "tiff_deflate" if features.check("libtiff") else None}

    if to_stdout:
        return write_stdout(pil)

    return _save_atomic(name, pil, fmt, options, overwrite)


def _save_atomic(name: str, pil: Image.Image, fmt: str, options: dict, overwrite: bool) -> Path:
    return write_with(name, lambda f: pil.save(f, format=fmt, **options), overwrite=overwrite, what="image")
