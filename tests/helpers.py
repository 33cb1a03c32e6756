"""Plain helpers shared by test modules (import as ``from helpers import ...``)."""

import struct
import zlib

import numpy as np
import torch
import torch.nn.functional as F


def to_tensor(arr: np.ndarray, h: int, w: int) -> torch.Tensor:
    """(H, W, 3) uint8 array -> (1, 3, h, w) float in [0, 1], antialiased resize."""
    x = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float().div(255).unsqueeze(0)
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)


def write_images(folder, n: int, *, size=(100, 80), seed: int = 0, start: int = 0) -> list:
    """Write ``n`` small random RGB PNGs (``size`` = (width, height)) named ``{i}.png`` into
    ``folder`` (created); returns their paths. Training tests use them as content/style sets."""
    from pathlib import Path

    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(start, start + n):
        # smooth-ish random colours (a coarse grid upsampled), so crops differ from each other
        coarse = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)
        img = Image.fromarray(coarse).resize(size, Image.BILINEAR)
        arr = np.asarray(img).astype(np.int16) + rng.integers(-20, 21, (size[1], size[0], 3))
        path = folder / f"{i}.png"
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png(
    width: int,
    height: int,
    color_type: int,
    depth: int,
    rows: list | None,
    trns: bytes | None = None,
    plte: bytes | None = None,
) -> bytes:
    """A PNG written by hand (Pillow cannot write 16-bit RGB). rows=None: header only."""
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0))
    if plte is not None:
        out += _chunk(b"PLTE", plte)
    if trns is not None:
        out += _chunk(b"tRNS", trns)
    if rows is not None:
        out += _chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + r for r in rows)))
    return out + _chunk(b"IEND", b"")
