"""Writing images: any (1, 3, H, W) tensor to PNG, JPEG, WebP, BMP or TIFF, with its alpha
channel re-applied, atomically (a temporary file, then a rename)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, features

from ..atomic import write_with
from ..choices import DEFAULT_PNG_COMPRESS
from ..errors import UsageError, quoted
from .modes import resize_plane
from .streams import write_stdout

if TYPE_CHECKING:
    import torch

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


def _as_hwc(img) -> np.ndarray:
    """An image tensor (1, 3, H, W) or (3, H, W), or a numpy array (H, W, 3), as a (H, W, 3) float32
    array on the CPU, NaN/inf made finite, clamped to [0, 1]."""
    if isinstance(img, np.ndarray):
        arr = img[0] if img.ndim == 4 and img.shape[0] == 1 else img
        shape_ok = arr.ndim == 3 and arr.shape[2] == 3
        what = "an image array of shape (H, W, 3)"
    else:
        import torch

        if not isinstance(img, torch.Tensor):
            raise TypeError(f"expected a torch.Tensor or a numpy array, got {type(img).__name__}")
        t = img.detach()
        t = t[0] if t.dim() == 4 and t.shape[0] == 1 else t
        shape_ok = t.dim() == 3 and t.shape[0] == 3
        arr = t.to(device="cpu", dtype=torch.float32).permute(1, 2, 0).numpy() if shape_ok else t
        what = "an image tensor of shape (1, 3, H, W) or (3, H, W)"
    if not shape_ok:
        raise ValueError(f"expected {what}, got {tuple(img.shape)}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"image has a zero height or width: {tuple(img.shape)}")
    arr = np.nan_to_num(np.asarray(arr, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(arr, 0.0, 1.0)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """(H, W, C) float in [0, 1] -> (H, W, C) uint8, rounded to nearest (ties to even)."""
    return np.round(arr * np.float32(255.0)).astype(np.uint8)


def tensor_to_image(t) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor, or (H, W, 3) array -> RGB Pillow image (clamped to [0, 1],
    rounded)."""
    return Image.fromarray(_to_uint8(_as_hwc(t)), mode="RGB")


def _prepare_alpha(alpha, hw: tuple[int, int]) -> np.ndarray:
    """A mask: tensor (1, 1, h, w), (1, h, w) or (h, w), or array (h, w) -> (H, W, 1) float32 in
    [0, 1] at size ``hw`` = (H, W) (tensors resized by :mod:`instyle.resize`, arrays as they are read)."""
    if isinstance(alpha, np.ndarray):
        a = alpha
        while a.ndim > 2 and a.shape[0] == 1:
            a = a[0]
        if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
            raise ValueError(f"alpha must have shape (h, w), got {tuple(alpha.shape)}")
        a = np.nan_to_num(a.astype(np.float32), nan=1.0, posinf=1.0, neginf=0.0)
        if a.shape != tuple(hw):
            a = resize_plane(a, (hw[1], hw[0]))
    else:
        import torch

        from ..resize import resize_to

        if not isinstance(alpha, torch.Tensor):
            raise TypeError(f"alpha must be a torch.Tensor or a numpy array, got {type(alpha).__name__}")
        t = alpha.detach().to(device="cpu", dtype=torch.float32)
        while t.dim() > 2 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 2 or t.shape[0] < 1 or t.shape[1] < 1:
            raise ValueError(f"alpha must have shape (1, 1, h, w) or (h, w), got {tuple(alpha.shape)}")
        t = torch.nan_to_num(t, nan=1.0, posinf=1.0, neginf=0.0)[None, None]  # (1, 1, h, w)
        a = resize_to(t, hw)[0, 0].numpy()
    return np.clip(a, 0.0, 1.0)[..., None]  # (H, W, 1)


def save_image(
    dst: str | os.PathLike,
    img: torch.Tensor | np.ndarray,
    *,
    alpha: torch.Tensor | np.ndarray | None = None,
    overwrite: bool = False,
    quality: int = 95,
    png_compress: int = DEFAULT_PNG_COMPRESS,
    size: tuple[int, int] | None = None,
) -> Path | None:
    """Write ``img`` (a (1, 3, H, W) or (3, H, W) tensor, or a (H, W, 3) numpy array; float, clamped
    to [0, 1]) to ``dst``.

    The format follows the extension (:data:`SAVE_EXTENSIONS`); ``"-"`` writes PNG bytes to
    standard output and returns None. ``alpha`` ((1, 1, h, w) or (h, w) in [0, 1]) is resized
    to the image size and re-applied (RGBA output; JPEG and BMP get the image composited
    over white instead). ``quality`` (1-100) is used by JPEG and WebP, ``png_compress`` (0-9:
    0 stores, 1 is zlib's fast run-length mode, 2-9 its deflate levels) by PNG. The file is
    written atomically (temporary file in the same folder, fsync, rename); missing folders are
    created. An existing ``dst`` is only replaced with
    ``overwrite=True``. ``size`` = (width, height) resamples the image to that size first
    (Lanczos; a result computed at a smaller size for its brush strokes, :func:`instyle.sizes.stroke_side`).
    """
    _check_quality(quality, png_compress)
    to_stdout = isinstance(dst, str) and dst == "-"
    if to_stdout:
        fmt, keeps_alpha, name = "PNG", True, "<stdout>"
    else:
        name = os.fsdecode(os.fspath(dst))
        ext = os.path.splitext(name)[1].lower()
        if ext not in _SAVE_FORMATS:
            what = f"extension {ext!r}" if ext else "no extension"
            raise UsageError(
                f"cannot write image {quoted(name)}: {what} is not supported; use one of {', '.join(SAVE_EXTENSIONS)}"
            )
        fmt, keeps_alpha = _SAVE_FORMATS[ext]

    pil = _to_pil(img, alpha, keeps_alpha, size)
    options = _options(fmt, quality, png_compress)
    if to_stdout:
        write_stdout(pil, **options)
        return None

    return _save_atomic(name, pil, fmt, options, overwrite)


def _to_pil(img, alpha, keeps_alpha: bool, size: tuple[int, int] | None = None) -> Image.Image:
    """The image (see :func:`save_image`) as an RGB Pillow image, or RGBA with ``alpha`` re-applied
    when the format ``keeps_alpha`` (else composited over white); resampled to ``size`` = (W, H)."""
    rgb = _as_hwc(img)  # (H, W, 3) in [0, 1]
    if size is not None and (rgb.shape[1], rgb.shape[0]) != (int(size[0]), int(size[1])):
        # resampled in 8 bits: the result is written in 8 bits anyway, and Pillow's uint8 Lanczos
        # is several times faster than its float planes at 4000 px
        wh = (int(size[0]), int(size[1]))
        if min(wh) < 1:
            raise ValueError(f"size must be positive (width, height), got {size!r}")
        small = Image.fromarray(_to_uint8(rgb), mode="RGB").resize(wh, Image.Resampling.LANCZOS)
        rgb = np.asarray(small, dtype=np.float32) / np.float32(255.0)  # (H', W', 3)
    a = _prepare_alpha(alpha, rgb.shape[:2]) if alpha is not None else None  # (H, W, 1) | None
    if a is not None and keeps_alpha:
        return Image.fromarray(_to_uint8(np.concatenate([rgb, a], axis=2)), mode="RGBA")
    if a is not None:
        rgb = rgb * a + (1.0 - a)  # composite over white: (H, W, 3)
    return Image.fromarray(_to_uint8(rgb), mode="RGB")


_Z_RLE = 3  # zlib.h: Z_RLE, matches of distance one only


def _options(fmt: str, quality: int, png_compress: int) -> dict:
    """Pillow's save options for ``fmt``."""
    if fmt == "JPEG":
        # 4:4:4 chroma at high quality: stylized images are full of fine coloured detail.
        return {"quality": int(quality), "subsampling": 0 if quality >= 90 else 2, "optimize": True}
    if fmt == "WEBP":
        return {"quality": int(quality), "method": 4}
    if fmt == "TIFF":
        return {"compression": "tiff_deflate" if features.check("libtiff") else None}
    if fmt != "PNG":
        return {}
    if png_compress == 1:
        # zlib's run-length strategy: on stylized pictures as small as deflate at level 6-9 and
        # faster than deflate even at level 1, whose files are larger (docs/benchmarks.md).
        return {"compress_level": 1, "compress_type": _Z_RLE}
    return {"compress_level": int(png_compress)}  # 0: stored; 2-9: deflate at that level


def encode_image(
    img: torch.Tensor | np.ndarray,
    fmt: str,
    *,
    alpha: torch.Tensor | np.ndarray | None = None,
    quality: int = 95,
    png_compress: int = DEFAULT_PNG_COMPRESS,
    size: tuple[int, int] | None = None,
) -> bytes:
    """The bytes :func:`save_image` would write to a file with extension ``fmt`` (``"png"``,
    ``".jpg"``, ``"webp"``…; same image, alpha, quality and size rules), in memory: for the web server.

    Example:
        >>> import numpy as np
        >>> encode_image(np.zeros((2, 3, 3), np.float32), "png")[:8]
        b'\\x89PNG\\r\\n\\x1a\\n'
    """
    ext = fmt.lower() if fmt.startswith(".") else "." + fmt.lower()
    if ext not in _SAVE_FORMATS:
        raise UsageError(f"cannot encode an image as {fmt!r}; use one of {', '.join(SAVE_EXTENSIONS)}")
    _check_quality(quality, png_compress)
    name, keeps_alpha = _SAVE_FORMATS[ext]
    buf = io.BytesIO()
    _to_pil(img, alpha, keeps_alpha, size).save(buf, format=name, **_options(name, quality, png_compress))
    return buf.getvalue()


def _check_quality(quality: int, png_compress: int) -> None:
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise UsageError(f"quality must be an integer from 1 to 100, got {quality!r}")
    if isinstance(png_compress, bool) or not isinstance(png_compress, (int, np.integer)) or not 0 <= png_compress <= 9:
        raise UsageError(f"PNG compression must be an integer from 0 to 9, got {png_compress!r}")


def _save_atomic(name: str, pil: Image.Image, fmt: str, options: dict, overwrite: bool) -> Path:
    return write_with(name, lambda f: pil.save(f, format=fmt, **options), overwrite=overwrite, what="image")
