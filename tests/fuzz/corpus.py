"""The fuzz corpus: odd but plausible inputs a user's command may meet, made in memory at test time.

Every entry is something instyle must either stylize (a legal image, however small, thin, odd in
mode or orientation) or refuse with one line (not an image, cut short, a bomb, not a file). Nothing
here is committed as a file: :func:`build_corpus` makes the bytes, :meth:`Entry.make` puts one entry
(a file, a folder, a FIFO, a symlink loop, or nothing) at a path.

The classes, as docs/cli.md's "Input and output rules" list them:

* sizes 1×1 … 8×8, 1×N and N×1 strips, aspect 1:1000 both ways;
* every Pillow mode: 1, L, LA, P, P with per-entry alpha (PA), I, I;16, F, RGB, RGBA, CMYK
  (JPEG and TIFF), YCbCr, and 16-bit RGB;
* the 8 EXIF orientations (sizes swap for 5–8);
* animated GIF, WebP and PNG (the first frame is used, and the command says so);
* a 0-byte file, truncated PNG and JPEG, a PNG named .jpg, a JPEG named .webp, text named .jpg,
  a folder named .png, a symlink loop, a FIFO, a missing file;
* header-only decompression bombs: PNG, JPEG, WebP and TIFF declaring hundreds of megapixels.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from helpers import make_png

ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class Entry:
    """One corpus input.

    Attributes:
        id: the test id.
        name: file name, extension included (the folder a command reads it from is the suite's).
        kind: ``file``, ``dir`` (a folder with that name), ``fifo``, ``loop`` (a symlink to itself
            through a second link) or ``missing`` (nothing at that path).
        data: the bytes of a ``file``.
        size: (width, height) of the upright first frame when the entry is a legal image;
            None when every command must refuse it.
        frames: frames of an animation (a command using one says it took the first).
    """

    id: str
    name: str
    kind: str = "file"
    data: bytes = b""
    size: tuple[int, int] | None = None
    frames: int = 1

    @property
    def readable(self) -> bool:
        return self.size is not None

    @property
    def bytes_only(self) -> bool:
        """Whether the entry is plain bytes (so it can also be piped to standard input)."""
        return self.kind == "file"

    def make(self, folder: Path) -> Path:
        """Create the entry in ``folder`` (made if needed) and return its path."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.name
        if self.kind == "file":
            path.write_bytes(self.data)
        elif self.kind == "dir":
            path.mkdir()
            (path / "inside.txt").write_text("a folder, not an image\n")
        elif self.kind == "fifo":
            os.mkfifo(path)  # nobody writes to it: opening it to read would block forever
        elif self.kind == "loop":
            other = folder / (".loop-" + self.name)
            os.symlink(other.name, path)
            os.symlink(path.name, other)
        elif self.kind != "missing":
            raise ValueError(f"unknown entry kind {self.kind!r}")
        return path


# --------------------------------------------------------------------------- makers


def _pixels(w: int, h: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """(h, w, channels) uint8: smooth gradients plus noise, so every mode has some structure."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = (xx * 255 // max(1, w - 1) + yy * 127 // max(1, h - 1)) % 256
    arr = base[..., None] + rng.integers(-30, 31, (h, w, channels))
    return np.clip(arr, 0, 255).astype(np.uint8)


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _rgb(w: int, h: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(_pixels(w, h, 3, seed))


def _modes() -> list[Entry]:
    w, h = 7, 5
    rgb = _rgb(w, h, 1)
    gray = rgb.convert("L")
    rgba = Image.fromarray(np.concatenate([_pixels(w, h, 3, 2), _pixels(w, h, 1, 3)], axis=2))
    i16 = Image.fromarray(np.asarray(gray, dtype=np.uint16) * 257)
    i32 = Image.fromarray(np.asarray(gray, dtype=np.int32) * 65793)
    fl = Image.fromarray(np.asarray(gray, dtype=np.float32) / 255.0)
    # palette with per-entry alpha (what Pillow calls PA once unpacked): PLTE + a tRNS byte per entry
    idx = (np.asarray(gray) // 64).astype(np.uint8)
    pa = make_png(
        w,
        h,
        3,
        8,
        [bytes(r) for r in idx],
        trns=bytes([0, 90, 180, 255]),
        plte=bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 250, 250, 250]),
    )
    rgb16 = make_png(
        w, h, 2, 16, [(np.asarray(rgb, dtype=np.uint16)[r] * 257).astype(">u2").tobytes() for r in range(h)]
    )
    out = [
        ("1", "png", _save(gray.convert("1"), "PNG")),
        ("L", "png", _save(gray, "PNG")),
        ("LA", "png", _save(rgba.convert("LA"), "PNG")),
        ("P", "png", _save(rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG")),
        ("P-gif", "gif", _save(rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "GIF")),
        ("PA", "png", pa),
        ("I", "tif", _save(i32, "TIFF")),
        ("I16", "png", _save(i16, "PNG")),
        ("I16-tiff", "tif", _save(i16, "TIFF")),
        ("F", "tif", _save(fl, "TIFF")),
        ("RGB", "jpg", _save(rgb, "JPEG", quality=95)),
        ("RGB-bmp", "bmp", _save(rgb, "BMP")),
        ("RGB16", "png", rgb16),
        ("RGBA", "png", _save(rgba, "PNG")),
        ("RGBA-webp", "webp", _save(rgba, "WEBP", lossless=True)),
        ("CMYK", "jpg", _save(rgb.convert("CMYK"), "JPEG", quality=95)),
        ("CMYK-tiff", "tif", _save(rgb.convert("CMYK"), "TIFF")),
        ("YCbCr", "tif", _save(rgb.convert("YCbCr"), "TIFF")),
    ]
    return [Entry(f"mode-{m}", f"mode {m}.{ext}", data=data, size=(w, h)) for m, ext, data in out]


def _sizes() -> list[Entry]:
    dims = [
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 4),
        (5, 4),
        (8, 8),
        (3, 1),
        (1, 3),
        (1, 8),
        (8, 1),
        (1, 300),
        (300, 2),
        (1, 1000),
        (1000, 1),
    ]
    return [
        Entry(f"size-{w}x{h}", f"size {w}x{h}.png", data=_save(_rgb(w, h, w * 7 + h), "PNG"), size=(w, h))
        for w, h in dims
    ]


def _orientations() -> list[Entry]:
    w, h = 6, 4
    out = []
    for o in range(1, 9):
        exif = Image.Exif()
        exif[ORIENTATION_TAG] = o
        data = _save(_rgb(w, h, o), "JPEG", quality=95, exif=exif.tobytes())
        out.append(Entry(f"exif-{o}", f"exif {o}.jpg", data=data, size=(h, w) if o >= 5 else (w, h)))
    return out


def _animations() -> list[Entry]:
    frames = [_rgb(6, 5, s) for s in range(3)]
    kw = dict(save_all=True, append_images=frames[1:], duration=80, loop=0)
    return [
        Entry("anim-gif", "anim.gif", data=_save(frames[0], "GIF", **kw), size=(6, 5), frames=3),
        Entry("anim-webp", "anim.webp", data=_save(frames[0], "WEBP", **kw), size=(6, 5), frames=3),
        Entry("anim-png", "anim.png", data=_save(frames[0], "PNG", **kw), size=(6, 5), frames=3),
    ]


def _jpeg_bomb() -> bytes:
    """A real 8×8 JPEG whose frame header (SOF0) is rewritten to 65,000×65,000, cut after the scan header."""
    data = bytearray(_save(_rgb(8, 8), "JPEG", quality=90))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 65000, 65000)  # marker, length(2), precision(1), height, width
    sos = data.index(b"\xff\xda")
    return bytes(data[: sos + 14])


def _webp_bomb() -> bytes:
    """A lossy WebP whose VP8 frame header declares 16,383×16,383 (the format's largest), no more data."""
    data = bytearray(_save(_rgb(16, 16), "WEBP", quality=80))
    vp8 = data.index(b"VP8 ")
    struct.pack_into("<HH", data, vp8 + 8 + 6, 16383, 16383)  # chunk header (8), frame tag (3), start code (3)
    return bytes(data[: vp8 + 8 + 10 + 16])


def _tiff_bomb() -> bytes:
    """A TIFF whose only directory declares 100,000×100,000 8-bit gray pixels, with one byte of data."""
    entries = [
        (256, 4, 100_000),
        (257, 4, 100_000),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 0),
        (277, 3, 1),
        (278, 4, 100_000),
        (279, 4, 1),
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    data_offset = 8 + ifd_size
    out = bytearray(b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries)))
    for tag, typ, value in entries:
        value = data_offset if tag == 273 else value
        out += struct.pack("<HHI", tag, typ, 1) + (
            struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
        )
    return bytes(out + struct.pack("<I", 0) + b"\x00")


def _broken() -> list[Entry]:
    png = _save(_rgb(40, 30, 5), "PNG")
    jpg = _save(_rgb(40, 30, 6), "JPEG", quality=90)
    return [
        Entry("empty", "empty.png", data=b""),
        Entry("truncated-png", "truncated.png", data=png[: len(png) // 2]),
        Entry("truncated-jpg", "truncated.jpg", data=jpg[: len(jpg) // 2]),
        Entry("png-named-jpg", "really a png.jpg", data=png, size=(40, 30)),
        Entry("jpg-named-webp", "really a jpeg.webp", data=jpg, size=(40, 30)),
        Entry("text-named-jpg", "notes.jpg", data="a shopping list, not a photo ✓\n".encode()),
        Entry("dir-named-png", "folder.png", kind="dir"),
        Entry("symlink-loop", "loop.png", kind="loop"),
        Entry("fifo", "fifo.png", kind="fifo"),
        Entry("missing", "missing.png", kind="missing"),
        Entry("bomb-png", "bomb.png", data=make_png(100_000, 100_000, 2, 8, None)),
        Entry("bomb-jpeg", "bomb.jpg", data=_jpeg_bomb()),
        Entry("bomb-webp", "bomb.webp", data=_webp_bomb()),
        Entry("bomb-tiff", "bomb.tif", data=_tiff_bomb()),
    ]


@lru_cache(maxsize=1)
def build_corpus() -> tuple[Entry, ...]:
    """Every entry, in a fixed order (deterministic bytes)."""
    entries = (*_sizes(), *_modes(), *_orientations(), *_animations(), *_broken())
    ids = [e.id for e in entries]
    assert len(set(ids)) == len(ids), "corpus ids must be unique"
    return entries
