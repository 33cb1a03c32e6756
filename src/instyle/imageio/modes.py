"""Every Pillow mode to RGB (+ alpha): 1-, 8-, 16- and 32-bit grayscale, float, palette (with
per-entry alpha), CMYK, YCbCr and the alpha-carrying modes, as float32 arrays in [0, 1]."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import torch


def declared_int_max(pil: Image.Image) -> float | None:
    """Full-scale value of a mode ``I`` image, from the file's header where it says so.

    Only TIFF declares it (BitsPerSample, SampleFormat: 2 = signed). Must be called on the
    image as opened: copies (``exif_transpose``) lose the TIFF tags.
    """
    tags = getattr(pil, "tag_v2", None)
    if pil.mode != "I" or tags is None:
        return None
    try:
        bits = tags.get(258)
        bits = int(bits[0] if isinstance(bits, (tuple, list)) else bits)
        sample_format = tags.get(339, 1)
        sample_format = int(sample_format[0] if isinstance(sample_format, (tuple, list)) else sample_format)
    except (TypeError, ValueError, IndexError):
        return None
    if not 1 <= bits <= 32:
        return None
    return float(2 ** (bits - 1) - 1 if sample_format == 2 else 2**bits - 1)


def _int_max(arr: np.ndarray, declared: float | None) -> float:
    """Full-scale value of a mode ``I`` (32-bit signed int) image.

    The declared bit depth (TIFF) when there is one. Other sources (16-bit PGM/PPM, which
    Pillow rescales to 0..65535; older Pillows' 16-bit PNGs) carry none, so: 16-bit when
    every value fits, else the full signed 32-bit range.
    """
    if declared:
        return declared
    return 65535.0 if arr.size == 0 or int(arr.max()) <= 65535 else float(2**31 - 1)


def _key_alpha(arr: np.ndarray, key: object, scale16: bool = False) -> np.ndarray | None:
    """Alpha (H, W) for a colour-key transparency (PNG tRNS on a gray or RGB image)."""
    if isinstance(key, (int, np.integer)) and arr.ndim == 2:
        return (arr != int(key)).astype(np.float32)
    if isinstance(key, tuple) and arr.ndim == 3 and len(key) == arr.shape[2]:
        k = np.array([int(v) for v in key], dtype=np.int64)
        if scale16 and (k > 255).any():
            # A 16-bit key on an RGB image that Pillow reduced to 8 bits (high byte).
            k = k >> 8
        return (arr.astype(np.int64) != k).any(axis=2).astype(np.float32)
    return None


def to_arrays(pil: Image.Image, int_max: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Any Pillow mode -> (rgb (H, W, 3) float32 in [0, 1], alpha (H, W) float32 or None).

    ``rgb`` is *not* composited yet; ``alpha`` is None when there is no transparency.
    ``int_max``: the declared full-scale value of a mode ``I`` image, if known.
    """
    mode = pil.mode
    info = pil.info or {}
    alpha: np.ndarray | None = None

    if mode in ("La", "RGBa", "PA"):  # premultiplied / palette+alpha: let Pillow unpack
        pil = pil.convert("LA" if mode == "La" else "RGBA")
        mode = pil.mode
    elif mode == "P":
        has_alpha = "transparency" in info or (pil.palette is not None and pil.palette.mode == "RGBA")
        pil = pil.convert("RGBA" if has_alpha else "RGB")
        mode = pil.mode
    elif mode == "1":
        pil = pil.convert("L")
        mode = "L"

    if mode == "RGB":
        arr = np.asarray(pil, dtype=np.uint8)  # (H, W, 3)
        if "transparency" in info:
            alpha = _key_alpha(arr, info["transparency"], scale16=True)
        rgb = arr.astype(np.float32)
        np.divide(rgb, 255.0, out=rgb)  # in place: the common case, possibly 64M pixels
    elif mode == "RGBA":
        arr = np.asarray(pil, dtype=np.uint8)  # (H, W, 4)
        rgb = arr[..., :3].astype(np.float32) / 255.0
        alpha = arr[..., 3].astype(np.float32) / 255.0
    elif mode == "L":
        arr = np.asarray(pil, dtype=np.uint8)  # (H, W)
        if "transparency" in info:
            alpha = _key_alpha(arr, info["transparency"])
        rgb = np.repeat((arr.astype(np.float32) / 255.0)[..., None], 3, axis=2)
    elif mode == "LA":
        arr = np.asarray(pil, dtype=np.uint8)  # (H, W, 2)
        rgb = np.repeat((arr[..., 0].astype(np.float32) / 255.0)[..., None], 3, axis=2)
        alpha = arr[..., 1].astype(np.float32) / 255.0
    elif mode.startswith("I;16"):  # 16-bit gray, any byte order: full scale is 65535
        arr = np.asarray(pil).astype(np.int64)  # (H, W)
        if "transparency" in info:
            alpha = _key_alpha(arr, info["transparency"])
        gray = np.clip(arr, 0, 65535).astype(np.float32) / 65535.0
        rgb = np.repeat(gray[..., None], 3, axis=2)
    elif mode == "I":  # 32-bit signed int gray
        arr = np.asarray(pil).astype(np.int64)  # (H, W)
        top = _int_max(arr, int_max)
        gray = (np.clip(arr, 0, top) / top).astype(np.float32)
        rgb = np.repeat(gray[..., None], 3, axis=2)
    elif mode == "F":  # 32-bit float gray: taken as already in [0, 1], clamped
        arr = np.nan_to_num(np.asarray(pil, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        rgb = np.repeat(np.clip(arr, 0.0, 1.0)[..., None], 3, axis=2)
    else:
        # CMYK (Pillow's JpegImagePlugin has already undone Adobe's inversion), YCbCr,
        # LAB, HSV, RGBX, ...: Pillow's own conversion to RGB.
        try:
            conv = pil.convert("RGB")
        except (ValueError, OSError, KeyError) as exc:
            raise ValueError(f"unsupported image mode {mode!r}") from exc
        rgb = np.asarray(conv, dtype=np.uint8).astype(np.float32) / 255.0

    if alpha is not None and float(alpha.min()) >= 1.0:
        alpha = None  # an alpha channel that is opaque everywhere is no transparency
    return np.ascontiguousarray(rgb, dtype=np.float32), alpha


def composite_white(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """(H, W, 3) rgb over white with (H, W) alpha (straight, not premultiplied)."""
    if alpha is None:
        return rgb
    a = alpha[..., None]  # (H, W, 1)
    return rgb * a + (1.0 - a)


def hwc_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float32 numpy -> (1, 3, H, W) float32 tensor."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)).unsqueeze(0)


def image_to_tensor(pil: Image.Image) -> torch.Tensor:
    """Pillow image -> (1, 3, H, W) float32 in [0, 1].

    Meant for RGB images; any other mode is converted as :func:`read_image` does
    (alpha composited over white and dropped, 16-bit scaled by 65535, ...).
    """
    if pil.mode == "RGB" and "transparency" not in (pil.info or {}):
        arr = np.asarray(pil, dtype=np.uint8).astype(np.float32) / 255.0  # (H, W, 3)
        return hwc_to_tensor(arr)
    rgb, alpha = to_arrays(pil)
    return hwc_to_tensor(np.clip(composite_white(rgb, alpha), 0.0, 1.0))


def tensor_to_hwc(t: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) tensor -> (H, W, 3) float32 numpy on the CPU (the inverse of :func:`hwc_to_tensor`)."""
    import torch

    return t[0].detach().to(device="cpu", dtype=torch.float32).permute(1, 2, 0).contiguous().numpy()


def resize_plane(plane: np.ndarray, wh: tuple[int, int]) -> np.ndarray:
    """(H, W) float32 -> (h, w) float32 (``wh`` = (w, h)), Pillow LANCZOS in float ('F') mode, clamped:
    how images (and their alpha) are resized as they are read."""
    out = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), mode="F").resize(wh, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def resize_longer_array(rgb: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) -> longer side ``size``, aspect kept, each side >= 1 px, with Pillow's bilinear
    filter in float mode: antialiased like :func:`instyle.resize.resize_longer` (torch's
    antialiased bilinear follows Pillow's), so style images give the torch runtime's statistics
    without torch."""
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    wh = (max(1, round(w * scale)), max(1, round(h * scale)))
    if wh == (w, h):
        return rgb
    planes = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(rgb[..., c], dtype=np.float32), mode="F").resize(
                wh, Image.Resampling.BILINEAR
            ),
            dtype=np.float32,
        )
        for c in range(3)
    ]
    return np.stack(planes, axis=2)  # (h, w, 3)


def pad_reflect_array(x: np.ndarray, pad: tuple[int, int, int, int]) -> np.ndarray:
    """(H, W, C) padded by ``pad`` = (left, right, top, bottom): reflected, or edge-replicated where
    the image is too small to reflect (:func:`instyle.sizes.can_reflect`), the rule of torch's
    :func:`instyle.nn.functional.pad_reflect`."""
    from ..sizes import can_reflect

    left, right, top, bottom = pad
    if not any(pad):
        return x
    mode: Literal["reflect", "edge"] = "reflect" if can_reflect(x.shape[:2], pad) else "edge"
    return np.pad(x, ((top, bottom), (left, right), (0, 0)), mode=mode)
