"""Reading and writing image files: the only place in instyle that touches them.

Tensors
-------
Images travel through instyle as float32 tensors of shape ``(1, 3, H, W)`` with values in
``[0, 1]`` (RGB, batch of one). Every Pillow mode is turned into that form here: 8-bit,
16-bit and 32-bit grayscale, palette, CMYK (including Adobe's inverted CMYK JPEGs),
YCbCr, float, 1-bit and the alpha-carrying modes. The EXIF orientation is applied first,
so a photo taken with the phone on its side arrives upright. Of a multi-frame file
(GIF, TIFF, WebP, APNG) only the first frame is used, and an :class:`~instyle.errors.InstyleWarning`
says so (the CLI prints it as one line).

Alpha policy
------------
The networks only see RGB. Transparent and translucent areas are therefore composited
over **white** (``rgb * a + (1 - a)``) for processing, and the alpha channel itself is
kept in :attr:`ImageData.alpha` (``(1, 1, H, W)`` float in ``[0, 1]``; ``None`` when the
source has no transparency, i.e. no alpha channel, no transparent colour key, or an alpha
channel that is fully opaque everywhere). :func:`save_image` takes that alpha back,
resizes it (bilinear) to the size of the stylized image and re-applies it, so a cut-out
stays a cut-out. Formats without alpha (JPEG, BMP) get the image composited over white.

Safety
------
Every failure to read a file (missing, a folder, a FIFO or device, empty, not an image,
truncated, corrupt, too large, permission denied, an unsupported mode) becomes an :class:`InstyleError` whose
message is one line naming the file and the reason. The pixel count is checked from the
header, before anything is decoded, against ``max_pixels`` (default 64 million, or
``$INSTYLE_MAX_PIXELS``). Pillow's global settings (``Image.MAX_IMAGE_PIXELS``,
``ImageFile.LOAD_TRUNCATED_IMAGES``) are never changed: truncated files are refused
because the pixels are decoded (``.load()``) inside the guarded block. Note that Pillow's
own hard limit (``2 * Image.MAX_IMAGE_PIXELS``, about 179 million pixels by default) still
applies even if ``$INSTYLE_MAX_PIXELS`` is set higher, unless the application raises
Pillow's limit itself.

Writing is atomic: the image goes to a hidden temporary file in the destination folder,
is flushed and fsynced, and is then renamed over the destination, so a crash or an error
never leaves a half-written file behind, and an existing file is only replaced when asked.
"""

from __future__ import annotations

import io
import os
import re
import stat
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, features

from .atomic import write_with
from .errors import InstyleError, InstyleWarning, UsageError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "SAVE_EXTENSIONS",
    "MAX_PIXELS_ENV",
    "ImageData",
    "read_image",
    "load_image",
    "save_image",
    "image_to_tensor",
    "tensor_to_image",
    "list_images",
]

#: Largest image (width * height) that :func:`read_image` decodes unless told otherwise.
DEFAULT_MAX_PIXELS = 64_000_000
#: Environment variable that overrides :data:`DEFAULT_MAX_PIXELS` (read at call time).
MAX_PIXELS_ENV = "INSTYLE_MAX_PIXELS"
#: Most bytes read from standard input (a file has no such limit: it is read as decoded).
MAX_STDIN_BYTES = 1 << 30

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
#: Extensions :func:`list_images` picks up (lower case; matched case-insensitively).
#: Everything :func:`save_image` writes, plus GIF, which can be read (first frame) only.
IMAGE_EXTENSIONS: tuple[str, ...] = SAVE_EXTENSIONS + (".gif",)

# Pillow formats never opened: EPS is rendered by running Ghostscript in a subprocess,
# which is not something a style-transfer tool should do on an arbitrary input file.
_EXCLUDED_FORMATS = frozenset({"EPS"})

# File signatures of the common formats, only used to tell "a corrupt PNG" apart from
# "not an image at all" in error messages.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),
    (b"MM\x00+", "TIFF"),
)

_TRUNCATED = "file is truncated or corrupt"
_NOT_IMAGE = "not an image file (or an unsupported format)"

@dataclass
class ImageData:
    """A decoded image, ready for the networks."""

    rgb: torch.Tensor  # (1, 3, H, W) float32 in [0, 1]; transparent pixels composited over white
    alpha: torch.Tensor | None  # (1, 1, H, W) float32 in [0, 1], or None: no transparency
    source: str  # the path as given, "<stdin>", "<bytes>" or a stream's name
    original_size: tuple[int, int]  # (width, height) after EXIF orientation, before resizing
    frames: int = 1  # frames (pages) in the file; only the first is decoded

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of :attr:`rgb`."""
        return int(self.rgb.shape[-1]), int(self.rgb.shape[-2])


# --------------------------------------------------------------------------- helpers


def _display(name: str) -> str:
    """``name`` quoted for a one-line message: control characters are escaped."""
    if all(ch.isprintable() for ch in name):
        return f"'{name}'"
    return repr(name)


def _one_line(text: object) -> str:
    """The first non-empty line of ``str(text)``, with control characters escaped."""
    s = str(text).strip()
    line = s.splitlines()[0].strip() if s else ""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in line)


def _read_error(source: str, reason: str) -> InstyleError:
    return InstyleError(f"cannot read image {_display(source)}: {reason}")


def _max_pixels(max_pixels: int) -> int:
    """The pixel limit in force: an explicit non-default value wins, else the env var."""
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)):
        raise UsageError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    if max_pixels < 1:
        raise UsageError(f"max_pixels must be a positive integer, got {max_pixels}")
    if max_pixels != DEFAULT_MAX_PIXELS:
        return int(max_pixels)
    env = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not env:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(env.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"{MAX_PIXELS_ENV} must be a positive integer, got {env!r}")
    return value


def _sniff(head: bytes) -> str | None:
    """Name of the format whose signature ``head`` starts with, if it is a common one."""
    for sig, name in _SIGNATURES:
        if head.startswith(sig):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


def _open_formats() -> list[str]:
    Image.init()
    return [f for f in Image.OPEN if f not in _EXCLUDED_FORMATS]


def _too_large(w: int, h: int, limit: int, hint: str) -> str:
    return f"image is too large ({w}x{h} = {w * h:,} pixels; the limit is {limit:,}{hint})"


def _bomb_reason(exc: Exception, limit: int, hint: str) -> str:
    """Reason for a refusal by Pillow's own decompression-bomb check."""
    m = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = f"{int(m.group(1)):,} pixels" if m else "too many pixels"
    pil_limit = Image.MAX_IMAGE_PIXELS
    if isinstance(exc, Image.DecompressionBombError) and pil_limit and limit > 2 * pil_limit:
        return (
            f"image is too large ({pixels}; over Pillow's hard limit of "
            f"{2 * pil_limit:,} pixels)"
        )
    return f"image is too large ({pixels}; the limit is {limit:,}{hint})"


def _declared_int_max(pil: Image.Image) -> float | None:
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
        sample_format = int(
            sample_format[0] if isinstance(sample_format, (tuple, list)) else sample_format
        )
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


def _to_arrays(
    pil: Image.Image, int_max: float | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
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


def _composite_white(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """(H, W, 3) rgb over white with (H, W) alpha (straight, not premultiplied)."""
    if alpha is None:
        return rgb
    a = alpha[..., None]  # (H, W, 1)
    return rgb * a + (1.0 - a)


def _target_size(w: int, h: int, size: int) -> tuple[int, int]:
    """(width, height) with the longer side equal to ``size``, aspect kept, sides >= 1."""
    if w >= h:
        return size, max(1, round(h * size / w))
    return max(1, round(w * size / h)), size


def _resize_plane(plane: np.ndarray, wh: tuple[int, int]) -> np.ndarray:
    """(H, W) float32 -> (h, w) float32, Pillow LANCZOS in float ('F') mode, clamped."""
    out = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), mode="F").resize(
        wh, Image.Resampling.LANCZOS
    )
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def _hwc_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float32 numpy -> (1, 3, H, W) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)).unsqueeze(0)


def _open_source(src: object) -> tuple[BinaryIO, str, bool]:
    """(binary file object, display name, whether we must close it) for a read source."""
    if isinstance(src, str) and src == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise _read_error("<stdin>", "standard input is not available")
        try:
            data = stream.read(MAX_STDIN_BYTES + 1)
        except OSError as exc:
            raise _read_error("<stdin>", _one_line(exc.strerror or exc)) from None
        if len(data) > MAX_STDIN_BYTES:
            raise _read_error("<stdin>", f"more than {MAX_STDIN_BYTES >> 30} GiB on standard input; "
                                         "give the image as a file")
        return io.BytesIO(data), "<stdin>", True
    if isinstance(src, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(src)), "<bytes>", True
    if isinstance(src, (str, os.PathLike)):
        path = os.fspath(src)
        name = os.fsdecode(path)
        if os.path.isdir(path):
            raise _read_error(name, "is a directory, not a file")
        try:
            # O_NONBLOCK: opening a FIFO nobody writes to returns at once instead of waiting forever;
            # fstat on what was opened (no check-then-open race) then refuses anything not a file.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            raise _read_error(name, "no such file") from None
        except IsADirectoryError:
            raise _read_error(name, "is a directory, not a file") from None
        except PermissionError:
            raise _read_error(name, "permission denied") from None
        except OSError as exc:
            raise _read_error(name, _one_line(exc.strerror or exc)) from None
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise _read_error(name, "is a directory, not a file")
            if not stat.S_ISREG(mode):
                kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
                raise _read_error(name, f"is {kind}, not a regular file")
            if hasattr(os, "set_blocking"):
                os.set_blocking(fd, True)
            f = os.fdopen(fd, "rb")  # closed by read_image
        except BaseException:
            os.close(fd)
            raise
        return f, name, True
    if hasattr(src, "read"):
        raw_name = getattr(src, "name", None)
        name = raw_name if isinstance(raw_name, str) and raw_name else "<stream>"
        try:
            seekable = bool(src.seekable()) if hasattr(src, "seekable") else False
        except (OSError, ValueError):
            seekable = False
        if seekable:
            return src, name, False  # type: ignore[return-value]
        try:
            data = src.read()
        except (OSError, ValueError) as exc:
            raise _read_error(name, _one_line(exc)) from None
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("read_image needs a binary stream (open the file with 'rb')")
        return io.BytesIO(bytes(data)), name, True
    raise TypeError(
        f"read_image takes a path, '-', bytes or a binary file object, not {type(src).__name__}"
    )


# --------------------------------------------------------------------------- reading


def read_image(
    src: str | os.PathLike | bytes | BinaryIO,
    *,
    size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ImageData:
    """Decode an image file into an :class:`ImageData`.

    ``src`` is a path, ``"-"`` (read standard input), the file's bytes, or a binary file
    object. ``size``, if given, resizes (Lanczos) so that the longer side equals ``size``
    (up or down), keeping the aspect ratio. ``max_pixels`` (width * height, default 64M or
    ``$INSTYLE_MAX_PIXELS``; an explicit non-default value wins) is checked from the header
    before decoding. Any problem with the file raises :class:`InstyleError` (one line).
    """
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise UsageError(f"image size must be a positive integer, got {size!r}")
        size = int(size)
    limit = _max_pixels(max_pixels)
    # Only a limit that came from the default or the environment can be raised that way.
    hint = f", set {MAX_PIXELS_ENV} to raise it" if max_pixels == DEFAULT_MAX_PIXELS else ""

    fp, source, close = _open_source(src)
    try:
        try:
            pos = fp.tell()
            head = fp.read(16)
            fp.seek(pos)
        except (OSError, ValueError) as exc:
            raise _read_error(source, _one_line(exc)) from None
        if not head:
            raise _read_error(source, "file is empty")

        pil_limit = Image.MAX_IMAGE_PIXELS
        with warnings.catch_warnings():
            # Pillow's remarks about odd metadata (corrupt EXIF, ...) are not the user's
            # problem: the pixels either decode (fine) or fail (an error below).
            warnings.simplefilter("ignore", UserWarning)
            # Pillow warns about images above its own limit (~89M pixels). When ours is
            # lower (the default), such an image is over ours too: make it an error. When
            # ours was raised above Pillow's, our own header check is the one that counts.
            # (Added last: later filters take precedence, and this is a RuntimeWarning.)
            if pil_limit is not None and limit <= pil_limit:
                warnings.simplefilter("error", Image.DecompressionBombWarning)
            else:
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            pil, int_max, frames = _decode(fp, source, limit, hint, head)
    finally:
        if close:
            fp.close()

    # (width, height) after orientation, before resizing.
    original_size = (int(pil.width), int(pil.height))
    try:
        rgb, alpha = _to_arrays(pil, int_max)  # (H, W, 3) float32, (H, W) float32 | None
    except MemoryError:
        raise _read_error(source, "not enough memory to decode it") from None
    except Exception as exc:  # noqa: BLE001 - Pillow can raise nearly anything here
        msg = _one_line(exc)
        reason = msg if msg.startswith("unsupported image mode") else f"cannot convert mode {pil.mode!r} to RGB"
        raise _read_error(source, reason) from None

    rgb = _composite_white(rgb, alpha)
    if size is not None:
        wh = _target_size(original_size[0], original_size[1], size)
        if wh != original_size:
            rgb = np.stack([_resize_plane(rgb[..., c], wh) for c in range(3)], axis=2)  # (h, w, 3)
            if alpha is not None:
                alpha = _resize_plane(alpha, wh)  # (h, w)

    np.clip(rgb, 0.0, 1.0, out=rgb)  # in place; compositing may overshoot by an ulp
    rgb_t = _hwc_to_tensor(rgb)  # (1, 3, H, W)
    alpha_t = None
    if alpha is not None:
        alpha_t = torch.from_numpy(np.ascontiguousarray(alpha, dtype=np.float32))[None, None]  # (1, 1, H, W)
    if frames > 1:
        warnings.warn(f"{_display(source)} has {frames} frames; using the first frame only",
                      InstyleWarning, stacklevel=2)
    return ImageData(rgb=rgb_t, alpha=alpha_t, source=source, original_size=original_size, frames=frames)


def _decode(
    fp: BinaryIO, source: str, limit: int, hint: str, head: bytes
) -> tuple[Image.Image, float | None, int]:
    """Open, size-check, decode (first frame) and EXIF-orient; every failure -> InstyleError.

    Returns the upright image, for a 32-bit integer image its declared full scale (else None),
    and the number of frames in the file.
    """
    kind = _sniff(head)
    try:
        im = Image.open(fp, formats=_open_formats())
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _read_error(source, _bomb_reason(exc, limit, hint)) from None
    except Image.UnidentifiedImageError:
        raise _read_error(source, _TRUNCATED if kind else _NOT_IMAGE) from None
    except MemoryError:
        raise _read_error(source, "not enough memory to decode it") from None
    except Exception:  # noqa: BLE001 - OSError, SyntaxError, struct.error, ValueError, ...
        raise _read_error(source, _TRUNCATED if kind else _NOT_IMAGE) from None

    try:
        # Header check, before a single pixel is decoded.
        w, h = (int(v) for v in im.size)
        if w <= 0 or h <= 0:
            raise _read_error(source, f"image has a zero width or height ({w}x{h})")
        if w * h > limit:
            raise _read_error(source, _too_large(w, h, limit, hint))
        try:
            im.load()  # decodes the first frame; raises on truncated / corrupt data
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _read_error(source, _bomb_reason(exc, limit, hint)) from None
        except MemoryError:
            raise _read_error(source, "not enough memory to decode it") from None
        except Exception:  # noqa: BLE001
            raise _read_error(source, _TRUNCATED) from None
        w, h = (int(v) for v in im.size)  # some formats (ICO, GIF) settle the size on load
        if w <= 0 or h <= 0:
            raise _read_error(source, f"image has a zero width or height ({w}x{h})")
        if w * h > limit:
            raise _read_error(source, _too_large(w, h, limit, hint))
        int_max = _declared_int_max(im)

        try:
            oriented = ImageOps.exif_transpose(im)  # copy, turned upright
        except MemoryError:
            raise _read_error(source, "not enough memory to decode it") from None
        except Exception:  # noqa: BLE001 - unreadable EXIF: keep the pixels as stored
            oriented = im.copy()
        if oriented is None:  # pragma: no cover - only with in_place=True
            oriented = im
        try:
            frames = max(1, int(getattr(im, "n_frames", 1)))  # after load: frame 0 is already decoded
        except Exception:  # noqa: BLE001 - a damaged later frame: the first one is all we use
            frames = 1
        return oriented, int_max, frames
    finally:
        try:
            im.close()
        except Exception:  # noqa: BLE001 # pragma: no cover
            pass


def load_image(
    src: str | os.PathLike | bytes | BinaryIO,
    *,
    size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> torch.Tensor:
    """``read_image(src, size=size, max_pixels=max_pixels).rgb``: (1, 3, H, W) float32."""
    return read_image(src, size=size, max_pixels=max_pixels).rgb


# --------------------------------------------------------------------------- conversions


def image_to_tensor(pil: Image.Image) -> torch.Tensor:
    """Pillow image -> (1, 3, H, W) float32 in [0, 1].

    Meant for RGB images; any other mode is converted as :func:`read_image` does
    (alpha composited over white and dropped, 16-bit scaled by 65535, ...).
    """
    if pil.mode == "RGB" and "transparency" not in (pil.info or {}):
        arr = np.asarray(pil, dtype=np.uint8).astype(np.float32) / 255.0  # (H, W, 3)
        return _hwc_to_tensor(arr)
    rgb, alpha = _to_arrays(pil)
    return _hwc_to_tensor(np.clip(_composite_white(rgb, alpha), 0.0, 1.0))


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
    if tuple(a.shape[-2:]) != tuple(hw):
        a = F.interpolate(a, size=hw, mode="bilinear", align_corners=False, antialias=True)
    return a[0].clamp(0.0, 1.0)  # (1, H, W)


# --------------------------------------------------------------------------- writing


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
                f"cannot write image {_display(name)}: {what} is not supported; "
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
        return _save_stdout(pil)

    return _save_atomic(name, pil, fmt, options, overwrite)


def _save_stdout(pil: Image.Image) -> None:
    out = getattr(sys.stdout, "buffer", None)
    if out is None:
        raise InstyleError("cannot write image to standard output: it is not a binary stream")
    try:
        is_tty = bool(sys.stdout.isatty())
    except (AttributeError, ValueError, OSError):
        is_tty = False
    if is_tty:
        raise UsageError(
            "refusing to write binary image data to a terminal; redirect standard output "
            "or give an output file name"
        )
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    try:
        out.write(buf.getvalue())
        out.flush()
    except OSError as exc:
        raise InstyleError(f"cannot write image to standard output: {_one_line(exc.strerror or exc)}") from None
    return None


def _save_atomic(name: str, pil: Image.Image, fmt: str, options: dict, overwrite: bool) -> Path:
    return write_with(name, lambda f: pil.save(f, format=fmt, **options), overwrite=overwrite, what="image")


# --------------------------------------------------------------------------- folders


def list_images(folder: str | os.PathLike, *, recursive: bool = False) -> list[Path]:
    """Image files (by extension, case-insensitive) in ``folder``, sorted.

    Hidden files and, with ``recursive``, hidden folders are skipped (they are editor,
    OS or temporary files such as macOS's ``._photo.jpg``). Raises :class:`InstyleError`
    if ``folder`` does not exist, is not a folder, or holds no image.
    """
    root = Path(folder)
    shown = _display(os.fsdecode(os.fspath(folder)))
    if not root.exists():
        raise InstyleError(f"folder {shown} does not exist")
    if not root.is_dir():
        raise InstyleError(f"{shown} is not a folder")
    found: list[Path] = []
    try:
        if recursive:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                found.extend(Path(dirpath) / f for f in filenames)
        else:
            found = list(root.iterdir())
    except OSError as exc:
        raise InstyleError(f"cannot list folder {shown}: {_one_line(exc.strerror or exc)}") from None
    images = sorted(
        p
        for p in found
        if not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
    )
    if not images:
        where = " (or its subfolders)" if recursive else ""
        raise InstyleError(
            f"folder {shown}{where} holds no images (looked for {', '.join(IMAGE_EXTENSIONS)})"
        )
    return images
