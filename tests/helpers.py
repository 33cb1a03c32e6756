"""Plain helpers shared by test modules (import as ``from helpers import ...``)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F


def to_tensor(arr: np.ndarray, h: int, w: int) -> torch.Tensor:
    """(H, W, 3) uint8 array -> (1, 3, h, w) float in [0, 1], antialiased resize."""
    x = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float().div(255).unsqueeze(0)
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)


def random_rgb(rng: np.random.Generator, size=(100, 80), *, grid=None) -> np.ndarray:
    """(H, W, 3) uint8 random colours for ``size`` = (width, height), drawn from ``rng``: noise in
    every pixel, or with ``grid`` = (width, height) a coarse random grid upsampled bilinearly
    (smooth blobs of colour)."""
    w, h = size
    if grid is None:
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    from PIL import Image

    coarse = rng.integers(0, 256, (grid[1], grid[0], 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize(tuple(size), Image.BILINEAR))


def write_photo(path, size=(100, 80), *, grid=None, seed: int = 0):
    """Save :func:`random_rgb` (seeded with ``seed``) as an image file at ``path``; returns the path."""
    from PIL import Image

    Image.fromarray(random_rgb(np.random.default_rng(seed), size, grid=grid)).save(path)
    return path


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
        arr = random_rgb(rng, size, grid=(5, 5)).astype(np.int16) + rng.integers(-20, 21, (size[1], size[0], 3))
        path = folder / f"{i}.png"
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def smooth_rgb(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth colourful (h, w, 3) uint8 image (gradients + a little noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([x / max(w - 1, 1), y / max(h - 1, 1), 0.5 + 0.5 * np.sin((x + y) / 5)], axis=2)
    return np.clip(img * 200 + rng.integers(0, 40, size=img.shape), 0, 255).astype(np.uint8)


def smooth_tensor(h: int, w: int, seed: int = 0, *, grid: int = 5, noise: float = 0.08, sat=None) -> torch.Tensor:
    """A smooth (1, 3, h, w) RGB image in [0, 1]: a random ``grid`` x ``grid`` upsampled bilinearly,
    plus ``noise`` times uniform noise; ``sat`` (if given) scales the colour about the grey."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, grid, grid, generator=g)
    img = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    img = img + noise * torch.rand(1, 3, h, w, generator=g)
    if sat is not None:
        grey = img.mean(dim=1, keepdim=True)
        img = grey + sat * (img - grey)
    return img.clamp(0, 1)


def tiny_fast_net(path, styles: Sequence[str] = ("alpha", "beta", "gamma"), *, seed: int = 0):
    """A tiny seeded multi-style fast network (conditional instance norm, width 0.125, one residual
    block) saved at ``path``; returns the path (:func:`instyle.checkpoint.save_model`'s)."""
    from instyle.checkpoint import save_model
    from instyle.models import JohnsonConfig, JohnsonNet

    torch.manual_seed(seed)
    config = JohnsonConfig(norm="conditional_instance", width=0.125, residual_blocks=1, styles=tuple(styles))
    return save_model(path, JohnsonNet(config))


# --------------------------------------------------------------------------- instyle in a subprocess


def subprocess_env(**extra) -> dict[str, str]:
    """This process's environment with ``extra`` on top, for a subprocess."""
    return {**os.environ, **{k: str(v) for k, v in extra.items()}}


#: The variables that subprocesses doing real work get on a small shared machine: one thread
#: (OpenMP, MKL), output unbuffered (read as it comes).
SUBPROCESS_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def instyle_cmd(argv) -> list[str]:
    """The command line that runs ``instyle ARGV`` in a fresh interpreter (this one's)."""
    return [sys.executable, "-m", "instyle", *map(str, argv)]


def run_instyle(argv, *, env=None, **kw) -> subprocess.CompletedProcess:
    """``subprocess.run`` of ``instyle ARGV`` (items made strings); ``env``: variables set on top of
    this process's environment (None: the environment as it is); ``kw`` goes to ``subprocess.run``."""
    return subprocess.run(instyle_cmd(argv), env=None if env is None else subprocess_env(**env), **kw)


def popen_instyle(argv, *, env=None, **kw) -> subprocess.Popen:
    """:func:`run_instyle`, started: a ``subprocess.Popen``."""
    return subprocess.Popen(instyle_cmd(argv), env=None if env is None else subprocess_env(**env), **kw)


# --------------------------------------------------------------------------- training command lines

#: A tiny, quick AdaIN training run on the CPU (``instyle train ...`` options): batch 2 of 32 px
#: crops from 48 px images, a width-0.25 network, fp32, no samples, quiet.
TINY_TRAIN = [
    "--batch-size",
    "2",
    "--image-size",
    "48",
    "--crop",
    "32",
    "--workers",
    "0",
    "--device",
    "cpu",
    "--width",
    "0.25",
    "--precision",
    "fp32",
    "--sample-every",
    "0",
    "--quiet",
]


def train_adain_argv(content, style, out, *extra) -> list:
    """``instyle train adain`` arguments for a tiny run (:data:`TINY_TRAIN`) from ``content`` and
    ``style`` folders into run folder ``out``, then ``extra``."""
    return ["train", "adain", "--content", content, "--style", style, "--out", out, *TINY_TRAIN, *extra]


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
