"""Tests for instyle.imageio's pixel limit: decompression bombs refused from the header, before
decoding; the limit from $INSTYLE_MAX_PIXELS; Pillow's globals left alone."""

from __future__ import annotations

import time
import warnings

import pytest
from PIL import Image, ImageFile

from helpers import make_png
from image_io.helpers import check_error
from instyle.errors import InstyleError, UsageError
from instyle.imageio import (
    DEFAULT_MAX_PIXELS,
    read_image,
)

# --------------------------------------------------------------------------- decompression bombs


def test_bomb_refused_from_header_without_decoding(tmp_path, monkeypatch):
    p = tmp_path / "bomb.png"
    Image.new("1", (4000, 4000)).save(p)  # a cheap 16-megapixel PNG

    def no_decoding(self, *a, **k):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    t0 = time.perf_counter()
    with pytest.raises(InstyleError) as ei:
        read_image(p, max_pixels=1_000_000)
    assert time.perf_counter() - t0 < 1.0
    check_error(ei.value, "bomb.png")
    assert "too large" in str(ei.value) and "4000x4000" in str(ei.value)
    assert "INSTYLE_MAX_PIXELS" not in str(ei.value)  # an explicit limit, not the env's


def test_bomb_limit_from_environment(tmp_path, monkeypatch):
    p = tmp_path / "mid.png"
    Image.new("1", (2000, 1000)).save(p)
    monkeypatch.setenv("INSTYLE_MAX_PIXELS", "1_000_000")
    with pytest.raises(InstyleError, match="INSTYLE_MAX_PIXELS"):
        read_image(p)
    assert read_image(p, max_pixels=3_000_000).size == (2000, 1000)  # explicit value wins
    monkeypatch.setenv("INSTYLE_MAX_PIXELS", "3000000")
    assert read_image(p).size == (2000, 1000)
    monkeypatch.setenv("INSTYLE_MAX_PIXELS", "lots")
    with pytest.raises(UsageError):
        read_image(p)


@pytest.mark.parametrize("side", [10_000, 20_000, 70_000])
def test_huge_headers_refused(tmp_path, side):
    # Header-only PNGs over Pillow's own warning (89M) and error (179M) limits, and far over.
    p = tmp_path / f"huge{side}.png"
    p.write_bytes(make_png(side, side, 2, 8, None))
    pil_limit = Image.MAX_IMAGE_PIXELS
    t0 = time.perf_counter()
    with pytest.raises(InstyleError) as ei:
        read_image(p)
    assert time.perf_counter() - t0 < 1.0
    check_error(ei.value, p.name)
    assert "too large" in str(ei.value)
    assert pil_limit == Image.MAX_IMAGE_PIXELS  # Pillow's global is left alone
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_no_bomb_warning_escapes(tmp_path):
    p = tmp_path / "w.png"
    p.write_bytes(make_png(10_000, 10_000, 0, 1, None))  # 100M pixels, over Pillow's 89M
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InstyleError, match="too large"):
            read_image(p)
        # Allowed by our limit: the bomb warning is not fatal; the missing pixel data is.
        with pytest.raises(InstyleError, match="truncated or corrupt"):
            read_image(p, max_pixels=150_000_000)
    assert [str(w.message) for w in caught] == []


def test_default_max_pixels_constant():
    assert DEFAULT_MAX_PIXELS == 64_000_000
