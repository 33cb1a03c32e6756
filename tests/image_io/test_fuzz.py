"""Fuzz and property tests for instyle.imageio: malformed files of every format fail as one
InstyleError line (never a crash or warning); PNG round trips of any small L/RGB/RGBA image."""

from __future__ import annotations

import io
import random
import struct
import warnings
from functools import cache

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from helpers import make_png
from image_io.helpers import check_error, check_tensor, rgb_of
from instyle.errors import ImageTooLargeError, InstyleError
from instyle.imageio import (
    read_image,
)

# --------------------------------------------------------------------------- fuzzing


@cache
def _valid(fmt: str) -> bytes:
    from skimage import data

    arr = np.ascontiguousarray(data.chelsea()[60:108:2, 100:164:2])  # (24, 32, 3)
    im = Image.fromarray(arr)
    if fmt == "GIF":
        im = im.convert("P")
    buf = io.BytesIO()
    kwargs = {"compression": "tiff_deflate"} if fmt == "TIFF" else {}
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


_EXT = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "BMP": ".bmp", "WEBP": ".webp", "TIFF": ".tif"}


def _truncated(fmt: str, frac: float):
    def make() -> bytes:
        b = _valid(fmt)
        return b[: max(1, min(len(b) - 1, int(len(b) * frac)))]

    return make


def _flipped(fmt: str, seed: int, region: str):
    def make() -> bytes:
        b = bytearray(_valid(fmt))
        rng = random.Random(seed)
        lo, hi = (0, min(32, len(b))) if region == "header" else (len(b) // 4, len(b))
        for _ in range(3 if region == "header" else 8):
            b[rng.randrange(lo, hi)] ^= 1 << rng.randrange(8)
        return bytes(b)

    return make


def _random_bytes(n: int, seed: int):
    return lambda: random.Random(seed).randbytes(n)


_FUZZ: list[tuple[str, str, object]] = [
    ("zero-byte", ".png", lambda: b""),
    ("text-png", ".png", lambda: b"hello, this is text\n" * 5),
    ("text-jpg", ".jpg", lambda: "naïve text ✓\n".encode()),
    ("html-webp", ".webp", lambda: b"<!doctype html><html><body>404</body></html>"),
    ("png-magic-only", ".png", lambda: b"\x89PNG\r\n\x1a\n"),
    ("png-magic-garbage", ".png", lambda: b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(300)),
    (
        "png-bad-ihdr-crc",
        ".png",
        lambda: make_png(8, 8, 2, 8, [b"\0" * 24] * 8)[:29] + b"\0\0\0\0" + make_png(8, 8, 2, 8, [b"\0" * 24] * 8)[33:],
    ),
    ("png-no-idat", ".png", lambda: make_png(8, 8, 2, 8, None)),
    ("png-short-idat", ".png", lambda: make_png(8, 8, 2, 8, [b"\0" * 24] * 3)),
    ("png-bad-depth", ".png", lambda: make_png(8, 8, 2, 7, [b"\0" * 24] * 8)),
    ("png-bad-colortype", ".png", lambda: make_png(8, 8, 5, 8, [b"\0" * 24] * 8)),
    ("png-zero-height", ".png", lambda: make_png(8, 0, 2, 8, [])),
    ("png-huge", ".png", lambda: make_png(2**31 - 1, 2**31 - 1, 2, 8, None)),
    ("jpeg-soi-only", ".jpg", lambda: b"\xff\xd8"),
    ("jpeg-soi-eoi", ".jpg", lambda: b"\xff\xd8\xff\xd9"),
    ("jpeg-soi-garbage", ".jpg", lambda: b"\xff\xd8\xff" + random.Random(2).randbytes(500)),
    ("gif-header-only", ".gif", lambda: b"GIF89a\x10\x00\x10\x00\x00\x00\x00"),
    ("bmp-header-only", ".bmp", lambda: _valid("BMP")[:54]),
    ("bmp-negative-size", ".bmp", lambda: _valid("BMP")[:18] + struct.pack("<ii", -5, 0x7FFFFFFF) + _valid("BMP")[26:]),
    ("tiff-bad-ifd", ".tif", lambda: b"II*\x00" + struct.pack("<I", 0xFFFFFF00) + b"\0" * 40),
    ("tiff-ifd-loop", ".tif", lambda: b"II*\x00\x08\x00\x00\x00\x01\x00" + b"\0" * 10 + b"\x08\x00\x00\x00"),
    ("riff-not-webp", ".webp", lambda: b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\0" * 20),
    ("eps", ".png", lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"),
]
_FUZZ += [(f"random-{n}", ".png" if n % 2 else ".jpg", _random_bytes(n, n)) for n in (1, 7, 64, 1000, 5000)]
for _fmt in _EXT:
    _FUZZ += [
        (f"{_fmt.lower()}-cut-{f:.2f}", _EXT[_fmt], _truncated(_fmt, f))
        for f in (0.01, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9, 0.99)
    ]
    _FUZZ += [
        (f"{_fmt.lower()}-flip-{r}-{s}", _EXT[_fmt], _flipped(_fmt, s, r)) for r in ("header", "body") for s in (1, 2)
    ]


@pytest.mark.parametrize("name, ext, make", _FUZZ, ids=[c[0] for c in _FUZZ])
def test_fuzz_malformed_files(tmp_path, name, ext, make):
    p = tmp_path / f"fuzz-{name}{ext}"
    p.write_bytes(make())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning escapes either
        try:
            d = read_image(p)
        except InstyleError as exc:
            assert type(exc) in (InstyleError, ImageTooLargeError)  # exit code 1, never a usage error
            check_error(exc, p.name)
            assert str(exc).startswith(f"cannot read image '{p}': ")
        else:
            check_tensor(d.rgb)
            if d.alpha is not None:
                assert d.alpha.shape == (1, 1, *d.rgb.shape[-2:])
                assert torch.isfinite(d.alpha).all()


def test_fuzz_corpus_is_big_enough():
    assert len(_FUZZ) >= 60


# --------------------------------------------------------------------------- property test


@st.composite
def _small_images(draw):
    mode = draw(st.sampled_from(["L", "RGB", "RGBA"]))
    h = draw(st.integers(1, 32))
    w = draw(st.integers(1, 32))
    shape = (h, w) if mode == "L" else (h, w, len(mode))
    return mode, draw(arrays(np.uint8, shape))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_small_images())
def test_png_round_trip_property(case):
    mode, arr = case
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format="PNG")
    d = read_image(buf.getvalue())
    got = rgb_of(d)  # (H, W, 3)
    f = arr.astype(np.float64) / 255.0
    if mode == "L":
        want, want_alpha = np.repeat(f[..., None], 3, axis=2), None
    elif mode == "RGB":
        want, want_alpha = f, None
    else:
        a = f[..., 3:]
        want = f[..., :3] * a + (1 - a)
        want_alpha = None if arr[..., 3].min() == 255 else f[..., 3]
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1 / 255 + 1e-6
    if want_alpha is None:
        assert d.alpha is None
    else:
        assert d.alpha is not None
        assert np.abs(d.alpha[0, 0].numpy() - want_alpha).max() <= 1 / 255 + 1e-6
