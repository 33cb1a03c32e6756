"""Tests for instyle.imageio's decoding beyond modes: EXIF orientation, resizing (size, max_size)
and read_array, the torch-free reader."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from image_io.helpers import check_tensor, photo, rgb_of, save_pil
from instyle.errors import UsageError
from instyle.imageio import (
    read_image,
)

# --------------------------------------------------------------------------- EXIF


def _oriented_jpeg(path: Path, orientation: int) -> Path:
    im = Image.new("RGB", (40, 20), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 8, 8))  # red mark in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    im.save(path, exif=exif.tobytes(), quality=95)
    return path


@pytest.mark.parametrize(
    "orientation, size, corner",
    [
        (1, (40, 20), "top-left"),
        (6, (20, 40), "top-right"),  # rotate 90 degrees clockwise to display
        (8, (20, 40), "bottom-left"),  # rotate 90 degrees counter-clockwise
        (3, (40, 20), "bottom-right"),
    ],
)
def test_exif_orientation(tmp_path, orientation, size, corner):
    d = read_image(_oriented_jpeg(tmp_path / f"o{orientation}.jpg", orientation))
    assert d.original_size == size
    w, h = size
    rgb = rgb_of(d)
    assert rgb.shape == (h, w, 3)
    where = {
        "top-left": (2, 2),
        "top-right": (2, w - 3),
        "bottom-left": (h - 3, 2),
        "bottom-right": (h - 3, w - 3),
    }
    for name, (y, x) in where.items():
        red = rgb[y, x, 0] > 0.8 and rgb[y, x, 2] < 0.2
        assert red == (name == corner), (name, rgb[y, x])


def test_exif_orientation_applied_before_resize(tmp_path):
    d = read_image(_oriented_jpeg(tmp_path / "o6.jpg", 6), size=20)
    assert d.original_size == (20, 40)
    assert d.rgb.shape == (1, 3, 20, 10)


# --------------------------------------------------------------------------- resizing


@pytest.mark.parametrize(
    "wh, size, expect",
    [
        ((64, 48), 32, (32, 24)),  # landscape, down
        ((48, 64), 32, (24, 32)),  # portrait, down
        ((64, 48), 128, (128, 96)),  # up
        ((30, 30), 7, (7, 7)),
        ((1000, 2), 10, (10, 1)),  # the short side never drops to 0
        ((64, 48), 64, (64, 48)),  # already there
    ],
)
def test_resize_longer_side(tmp_path, wh, size, expect):
    im = Image.fromarray(photo(*wh)) if max(wh) <= 200 else Image.new("RGB", wh, (200, 100, 50))
    d = read_image(save_pil(tmp_path / "r.png", im), size=size)
    assert d.rgb.shape == (1, 3, expect[1], expect[0])
    assert d.original_size == wh
    check_tensor(d.rgb)


def test_resize_keeps_flat_colour_and_resizes_alpha(tmp_path):
    im = Image.new("RGBA", (60, 30), (255, 0, 0, 255))
    im.paste((0, 0, 0, 0), (30, 0, 60, 30))  # right half transparent
    d = read_image(save_pil(tmp_path / "a.png", im), size=20)
    assert d.rgb.shape == (1, 3, 10, 20)
    assert d.alpha.shape == (1, 1, 10, 20)
    assert float(d.alpha.min()) >= 0 and float(d.alpha.max()) <= 1
    assert d.alpha[0, 0, 5, 2] > 0.99 and d.alpha[0, 0, 5, 17] < 0.01
    np.testing.assert_allclose(d.rgb[0, :, 5, 2].numpy(), [1, 0, 0], atol=0.01)
    np.testing.assert_allclose(d.rgb[0, :, 5, 17].numpy(), [1, 1, 1], atol=0.01)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "64"])
def test_bad_size_is_usage_error(tmp_path, bad):
    p = save_pil(tmp_path / "a.png", Image.new("RGB", (4, 4)))
    with pytest.raises(UsageError):
        read_image(p, size=bad)


def test_read_array_is_read_image_without_torch(tmp_path):
    from instyle.imageio import read_array

    p = save_pil(tmp_path / "a.png", Image.fromarray(photo(30, 20)))
    a, d = read_array(p), read_image(p)
    assert a.rgb.shape == (20, 30, 3) and a.rgb.dtype == np.float32 and a.size == d.size == (30, 20)
    np.testing.assert_array_equal(a.rgb, rgb_of(d))
    code = (
        "import sys; from instyle.imageio import read_array, save_image; "
        f"a = read_array({str(p)!r}, max_size=10); save_image({str(tmp_path / 'b.png')!r}, a.rgb); "
        "print('torch' in sys.modules, a.size)"
    )
    import subprocess

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "(10,", "7)"]
    assert Image.open(tmp_path / "b.png").size == (10, 7)


@pytest.mark.parametrize(
    "wh, max_size, expect",
    [((30, 20), 10, (10, 7)), ((30, 20), 30, (30, 20)), ((30, 20), 100, (30, 20)), ((5, 40), 8, (1, 8))],
)
def test_max_size_only_shrinks(tmp_path, wh, max_size, expect):
    p = save_pil(tmp_path / "a.png", Image.fromarray(photo(*wh)))
    assert read_image(p, max_size=max_size).size == expect
    with pytest.raises(UsageError, match="not both"):
        read_image(p, size=10, max_size=10)
