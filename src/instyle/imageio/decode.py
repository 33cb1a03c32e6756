"""Decoding image files safely: open, check the size from the header, decode the first frame,
turn it upright, convert it to RGB (+ alpha); every failure is one :class:`~instyle.errors.InstyleError`
line. Also: listing the images of a folder.

Decoding needs numpy and Pillow only (:func:`read_array`); torch is imported only to hand the
result over as tensors (:func:`read_image`), so the torch-free paths (the ONNX runtime) read
images exactly as the rest of instyle does.
"""

from __future__ import annotations

import importlib
import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image, ImageOps

from ..errors import ImageTooLargeError, InstyleError, InstyleWarning, UsageError, one_line, quoted
from ..sizes import target_size
from .modes import composite_white, declared_int_max, hwc_to_tensor, resize_plane, to_arrays
from .save import SAVE_EXTENSIONS
from .streams import open_source, read_error

if TYPE_CHECKING:
    import torch
    from PIL.ImageFile import ImageFile

#: Largest image (width * height) that :func:`read_image` decodes unless told otherwise.
DEFAULT_MAX_PIXELS = 64_000_000

#: Environment variable that overrides :data:`DEFAULT_MAX_PIXELS` (read at call time).
MAX_PIXELS_ENV = "INSTYLE_MAX_PIXELS"
#: Extensions :func:`list_images` picks up (lower case; matched case-insensitively).
#: Everything :func:`~instyle.imageio.save_image` writes, plus GIF, which can be read (first frame) only.
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
class ImageArray:
    """A decoded image as numpy arrays (no torch needed)."""

    rgb: np.ndarray  # (H, W, 3) float32 in [0, 1]; transparent pixels composited over white
    alpha: np.ndarray | None  # (H, W) float32 in [0, 1], or None: no transparency
    source: str  # the path as given, "<stdin>", "<bytes>" or a stream's name
    original_size: tuple[int, int]  # (width, height) after EXIF orientation, before resizing
    frames: int = 1  # frames (pages) in the file; only the first is decoded

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of :attr:`rgb`."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])

    def resized(self, size: int) -> ImageArray:
        """The image with its longer side ``size`` px (Lanczos, as :func:`read_array` resizes;
        aspect kept); itself when it already has that size."""
        wh = target_size(self.size[0], self.size[1], int(size))
        if wh == self.size:
            return self
        rgb = np.stack([resize_plane(self.rgb[..., c], wh) for c in range(3)], axis=2)  # (h, w, 3)
        alpha = resize_plane(self.alpha, wh) if self.alpha is not None else None  # (h, w)
        return ImageArray(
            rgb=rgb, alpha=alpha, source=self.source, original_size=self.original_size, frames=self.frames
        )

    def to_tensors(self) -> ImageData:
        """The same image as (1, 3, H, W) / (1, 1, H, W) float32 tensors."""
        import torch

        alpha = None
        if self.alpha is not None:
            alpha = torch.from_numpy(np.ascontiguousarray(self.alpha, dtype=np.float32))[None, None]
        return ImageData(
            rgb=hwc_to_tensor(self.rgb),
            alpha=alpha,
            source=self.source,
            original_size=self.original_size,
            frames=self.frames,
        )


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


def sniff_format(head: bytes) -> str | None:
    """Name of the format whose signature ``head`` (the first 16 bytes or more) starts with, if it is
    a common one: PNG, JPEG, GIF, BMP, TIFF or WebP; None otherwise. What a file is, from its bytes
    (never its name): the web server accepts exactly these.

    Example:
        >>> sniff_format(b"\\x89PNG\\r\\n\\x1a\\n...."), sniff_format(b"hello")
        ('PNG', None)
    """
    for sig, name in _SIGNATURES:
        if head.startswith(sig):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


#: Pillow's format id and plugin module of each format :func:`sniff_format` names: a file with one of
#: these signatures is opened by that plugin alone, so a command does not import Pillow's forty
#: plugins (a measurable part of its start-up: benchmarks/startup.py) to read a JPEG.
_PLUGINS: dict[str, tuple[str, str]] = {
    "PNG": ("PNG", "PngImagePlugin"),
    "JPEG": ("JPEG", "JpegImagePlugin"),
    "GIF": ("GIF", "GifImagePlugin"),
    "BMP": ("BMP", "BmpImagePlugin"),
    "TIFF": ("TIFF", "TiffImagePlugin"),
    "WebP": ("WEBP", "WebPImagePlugin"),
}


def _open_formats(kind: str | None = None) -> list[str]:
    """Pillow formats to try: the one ``kind`` names (its plugin imported), else every one Pillow
    has but :data:`_EXCLUDED_FORMATS`."""
    if kind in _PLUGINS:
        fmt, module = _PLUGINS[kind]
        try:
            importlib.import_module(f"PIL.{module}")
        except ImportError:  # a Pillow built without it (WebP): every plugin is tried below
            pass
        if fmt in Image.OPEN:
            return [fmt]
    Image.init()
    return [f for f in Image.OPEN if f not in _EXCLUDED_FORMATS]


def _open(fp: BinaryIO, kind: str | None) -> ImageFile:
    """``Image.open`` by the plugin of the file's signature, then (a file that only starts like
    one: "BM...") by every plugin."""
    formats, start = _open_formats(kind), fp.tell()
    try:
        return Image.open(fp, formats=formats)
    except Image.UnidentifiedImageError:
        if len(formats) > 1:
            raise
    fp.seek(start)
    return Image.open(fp, formats=_open_formats())


def _too_large(w: int, h: int, limit: int, hint: str) -> str:
    return f"image is too large ({w}x{h} = {w * h:,} pixels; the limit is {limit:,}{hint})"


def _bomb_reason(exc: Exception, limit: int, hint: str) -> str:
    """Reason for a refusal by Pillow's own decompression-bomb check."""
    m = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = f"{int(m.group(1)):,} pixels" if m else "too many pixels"
    pil_limit = Image.MAX_IMAGE_PIXELS
    if isinstance(exc, Image.DecompressionBombError) and pil_limit and limit > 2 * pil_limit:
        return f"image is too large ({pixels}; over Pillow's hard limit of {2 * pil_limit:,} pixels)"
    return f"image is too large ({pixels}; the limit is {limit:,}{hint})"


def read_array(
    src: str | os.PathLike | bytes | BinaryIO,
    *,
    size: int | None = None,
    max_size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ImageArray:
    """Decode an image file into an :class:`ImageArray` (numpy; see :func:`read_image` for tensors).

    ``src`` is a path, ``"-"`` (read standard input), the file's bytes, or a binary file
    object. ``size``, if given, resizes (Lanczos) so that the longer side equals ``size``
    (up or down); ``max_size`` only shrinks an image whose longer side is larger; the aspect ratio
    is kept. ``max_pixels`` (width * height, default 64M or ``$INSTYLE_MAX_PIXELS``; an explicit
    non-default value wins) is checked from the header before decoding. Any problem with the file
    raises :class:`InstyleError` (one line).
    """
    for name, value in (("size", size), ("max size", max_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise UsageError(f"image {name} must be a positive integer, got {value!r}")
    if size is not None and max_size is not None:
        raise UsageError("give an image size or a largest size, not both")
    limit = _max_pixels(max_pixels)
    # Only a limit that came from the default or the environment can be raised that way.
    hint = f", set {MAX_PIXELS_ENV} to raise it" if max_pixels == DEFAULT_MAX_PIXELS else ""
    fp, source, close = open_source(src)
    try:
        try:
            pos = fp.tell()
            head = fp.read(16)
            fp.seek(pos)
        except (OSError, ValueError) as exc:
            raise read_error(source, one_line(exc)) from None
        if not head:
            raise read_error(source, "file is empty")

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
            # the longer side the caller will resize to, if it shrinks: decoding may start smaller
            header_target = max_size if max_size is not None else size
            pil, int_max, frames, original_size = _decode(fp, source, limit, hint, head, header_target)
    finally:
        if close:
            fp.close()

    target = max_size if max_size is not None and max(original_size) > max_size else size
    if target is not None and pil.mode in ("RGB", "L") and "transparency" not in pil.info:
        # Shrinking by 4x or more: first by an integer factor in 8 bits (Pillow's box reduce), then
        # Lanczos in float below over the last 2-4x (Pillow's reducing_gap=2: as fair as Lanczos
        # all the way): a 24-MP photo never becomes 288 MB of float32, and a 23-KB solid
        # 6000x4000 PNG does not cost seconds.
        k = max(pil.size) // (2 * target)
        if k >= 2:
            pil = pil.reduce(k)
    try:
        rgb, alpha = to_arrays(pil, int_max)  # (H, W, 3) float32, (H, W) float32 | None
    except MemoryError:
        raise read_error(source, "not enough memory to decode it") from None
    except Exception as exc:
        msg = one_line(exc)
        reason = msg if msg.startswith("unsupported image mode") else f"cannot convert mode {pil.mode!r} to RGB"
        raise read_error(source, reason) from None

    rgb = composite_white(rgb, alpha)
    np.clip(rgb, 0.0, 1.0, out=rgb)  # in place; compositing may overshoot by an ulp
    if max_size is not None and max(original_size) > max_size:
        size = max_size
    if frames > 1:
        warnings.warn(f"{quoted(source)} has {frames} frames; using the first frame only", InstyleWarning, stacklevel=3)
    image = ImageArray(
        rgb=np.ascontiguousarray(rgb), alpha=alpha, source=source, original_size=original_size, frames=frames
    )
    return image.resized(size) if size is not None else image


def read_image(
    src: str | os.PathLike | bytes | BinaryIO,
    *,
    size: int | None = None,
    max_size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ImageData:
    """Decode an image file into an :class:`ImageData`: :func:`read_array` (same arguments), as
    (1, 3, H, W) float32 tensors."""
    return read_array(src, size=size, max_size=max_size, max_pixels=max_pixels).to_tensors()


def _check_jpeg_data(im: ImageFile, fp: BinaryIO, source: str) -> None:
    """Refuse a JPEG with less coded data than its size needs. Every 8x8 block of the luma plane
    costs at least one bit (its DC difference and end-of-block codes), so a header that claims
    4890x4890 followed at once by an end marker (631 bytes) is a truncated file. libjpeg decodes
    it without an error, as grey, at full cost."""
    if not im.tile:
        return
    start = im.tile[0][2]
    pos = fp.tell()
    try:
        end = fp.seek(0, os.SEEK_END)
    finally:
        fp.seek(pos)
    w, h = im.size
    if (end - start) * 8 < math.ceil(w / 8) * math.ceil(h / 8):
        raise read_error(source, _TRUNCATED)


def _decode(
    fp: BinaryIO, source: str, limit: int, hint: str, head: bytes, target: int | None = None
) -> tuple[Image.Image, float | None, int, tuple[int, int]]:
    """Open, size-check, decode (first frame) and EXIF-orient; every failure -> InstyleError.

    Returns the upright image, for a 32-bit integer image its declared full scale (else None),
    the number of frames in the file, and the upright size the file declares. A JPEG at least four
    times ``target`` (the longer side it will be shrunk to) is decoded at 1/2, 1/4 or 1/8 scale in
    the DCT (libjpeg's draft mode), still at least twice ``target`` (the rest is Lanczos, as fair as
    Lanczos all the way): a 24-MP photo decodes in a fraction of the time and memory.
    """
    kind = sniff_format(head)
    try:
        im = _open(fp, kind)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise read_error(source, _bomb_reason(exc, limit, hint), ImageTooLargeError) from None
    except Image.UnidentifiedImageError:
        raise read_error(source, _TRUNCATED if kind else _NOT_IMAGE) from None
    except MemoryError:
        raise read_error(source, "not enough memory to decode it") from None
    except Exception:
        raise read_error(source, _TRUNCATED if kind else _NOT_IMAGE) from None

    try:
        # Header check, before a single pixel is decoded.
        w, h = (int(v) for v in im.size)
        if w <= 0 or h <= 0:
            raise read_error(source, f"image has a zero width or height ({w}x{h})")
        if w * h > limit:
            raise read_error(source, _too_large(w, h, limit, hint), ImageTooLargeError)
        declared = (w, h)
        if kind == "JPEG":
            _check_jpeg_data(im, fp, source)
            if target is not None and max(w, h) >= 4 * target:
                scale = 2 * target / max(w, h)
                im.draft(im.mode, (math.ceil(w * scale), math.ceil(h * scale)))
        try:
            im.load()  # decodes the first frame; raises on truncated / corrupt data
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise read_error(source, _bomb_reason(exc, limit, hint), ImageTooLargeError) from None
        except MemoryError:
            raise read_error(source, "not enough memory to decode it") from None
        except Exception:
            raise read_error(source, _TRUNCATED) from None
        w, h = (int(v) for v in im.size)  # some formats (ICO, GIF) settle the size on load
        if w <= 0 or h <= 0:
            raise read_error(source, f"image has a zero width or height ({w}x{h})")
        if w * h > limit:
            raise read_error(source, _too_large(w, h, limit, hint), ImageTooLargeError)
        int_max = declared_int_max(im)

        try:
            oriented = ImageOps.exif_transpose(im)  # copy, turned upright
        except MemoryError:
            raise read_error(source, "not enough memory to decode it") from None
        except Exception:
            oriented = im.copy()
        if oriented is None:  # pragma: no cover - only with in_place=True
            oriented = im
        turned = oriented.size != im.size  # a quarter turn (EXIF orientations 5-8)
        upright = declared[::-1] if turned else declared
        try:
            frames = max(1, int(getattr(im, "n_frames", 1)))  # after load: frame 0 is already decoded
        except Exception:
            frames = 1
        return oriented, int_max, frames, upright
    finally:
        try:
            im.close()
        except Exception:  # pragma: no cover
            pass


def load_image(
    src: str | os.PathLike | bytes | BinaryIO,
    *,
    size: int | None = None,
    max_size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> torch.Tensor:
    """``read_image(src, ...).rgb``: (1, 3, H, W) float32."""
    return read_image(src, size=size, max_size=max_size, max_pixels=max_pixels).rgb


def list_images(folder: str | os.PathLike, *, recursive: bool = False) -> list[Path]:
    """Image files (by extension, case-insensitive) in ``folder``, sorted.

    Hidden files and, with ``recursive``, hidden folders are skipped (they are editor,
    OS or temporary files such as macOS's ``._photo.jpg``). Raises :class:`InstyleError`
    if ``folder`` does not exist, is not a folder, or holds no image.
    """
    root = Path(folder)
    shown = quoted(os.fsdecode(os.fspath(folder)))
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
        raise InstyleError(f"cannot list folder {shown}: {one_line(exc.strerror or exc)}") from None
    images = sorted(
        p for p in found if not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
    )
    if not images:
        where = " (or its subfolders)" if recursive else ""
        raise InstyleError(f"folder {shown}{where} holds no images (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return images
