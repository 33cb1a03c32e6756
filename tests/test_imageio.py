"""Tests for instyle.imageio: every image is made here, inside tmp_path or in memory."""

from __future__ import annotations

import io
import os
import random
import stat
import struct
import sys
import time
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, ImageFile

from helpers import make_png
from instyle import atomic, imageio
from instyle.errors import ImageTooLargeError, InstyleError, InstyleWarning, UsageError
from instyle.imageio import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    ImageData,
    encode_image,
    image_to_tensor,
    list_images,
    load_image,
    read_image,
    save_image,
    tensor_to_image,
)

# --------------------------------------------------------------------------- helpers


def rgb_of(data: ImageData) -> np.ndarray:
    """(H, W, 3) numpy view of data.rgb, after checking the contract."""
    check_tensor(data.rgb)
    return data.rgb[0].permute(1, 2, 0).numpy()


def check_tensor(t: torch.Tensor) -> None:
    assert isinstance(t, torch.Tensor)
    assert t.dtype == torch.float32
    assert t.dim() == 4 and t.shape[0] == 1 and t.shape[1] == 3
    assert t.shape[2] >= 1 and t.shape[3] >= 1
    assert torch.isfinite(t).all()
    assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0


def check_error(exc: InstyleError, name: str) -> None:
    msg = str(exc)
    assert "\n" not in msg and "\r" not in msg, msg
    assert name in msg, msg
    assert "Traceback" not in msg


def photo(w: int = 64, h: int = 48) -> np.ndarray:
    """(h, w, 3) uint8 crop of scikit-image's bundled astronaut."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[100 : 100 + h, 180 : 180 + w])


def save_pil(path: Path, im: Image.Image, **kw) -> Path:
    im.save(path, **kw)
    return path


# --------------------------------------------------------------------------- modes


def test_rgb_png_exact(tmp_path):
    arr = photo()
    p = save_pil(tmp_path / "a.png", Image.fromarray(arr))
    d = read_image(p)
    assert d.alpha is None
    assert d.source == str(p)
    assert d.original_size == (64, 48)
    assert d.size == (64, 48)
    np.testing.assert_array_equal(np.round(rgb_of(d) * 255).astype(np.uint8), arr)
    assert torch.equal(load_image(p), d.rgb)


def test_source_is_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_pil(tmp_path / "rel.png", Image.new("RGB", (3, 2), (10, 20, 30)))
    assert read_image("rel.png").source == "rel.png"
    assert read_image(Path("rel.png")).source == "rel.png"


def test_gray_L(tmp_path):
    im = Image.fromarray(np.array([[0, 128, 255]], np.uint8), mode="L")
    d = read_image(save_pil(tmp_path / "g.png", im))
    rgb = rgb_of(d)
    np.testing.assert_allclose(rgb[0, :, 0], [0, 128 / 255, 1], atol=1e-6)
    assert np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2])
    assert d.alpha is None


def test_mode_1(tmp_path):
    im = Image.new("1", (4, 2), 0)
    im.putpixel((1, 0), 1)
    d = read_image(save_pil(tmp_path / "b.png", im))
    rgb = rgb_of(d)
    assert rgb[0, 1].tolist() == [1, 1, 1]
    assert rgb[0, 0].tolist() == [0, 0, 0]


def test_palette(tmp_path):
    im = Image.new("P", (3, 1))
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (253 * 3))
    im.putdata([0, 1, 2])
    d = read_image(save_pil(tmp_path / "p.png", im))
    assert d.alpha is None
    np.testing.assert_allclose(rgb_of(d)[0], [[1, 0, 0], [0, 1, 0], [0, 0, 1]])


@pytest.mark.parametrize("ext", [".png", ".gif"])
def test_palette_with_transparency(tmp_path, ext):
    im = Image.new("P", (3, 1))
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (253 * 3))
    im.putdata([0, 1, 2])
    p = save_pil(tmp_path / f"pt{ext}", im, transparency=1)
    d = read_image(p)
    assert d.alpha is not None and d.alpha.shape == (1, 1, 1, 3)
    assert d.alpha.flatten().tolist() == [1.0, 0.0, 1.0]
    # the transparent green pixel is composited over white
    np.testing.assert_allclose(rgb_of(d)[0], [[1, 0, 0], [1, 1, 1], [0, 0, 1]])


def test_rgba_composited_over_white_and_alpha_kept(tmp_path):
    arr = np.zeros((1, 3, 4), np.uint8)
    arr[0, :, :3] = [[200, 0, 0], [0, 200, 0], [0, 0, 200]]
    arr[0, :, 3] = [255, 128, 0]
    d = read_image(save_pil(tmp_path / "a.png", Image.fromarray(arr, "RGBA")))
    assert d.alpha is not None and d.alpha.shape == (1, 1, 1, 3)
    np.testing.assert_allclose(d.alpha.flatten().numpy(), [1, 128 / 255, 0], atol=1e-6)
    rgb = rgb_of(d)
    a = 128 / 255
    np.testing.assert_allclose(rgb[0, 0], [200 / 255, 0, 0], atol=1e-6)
    np.testing.assert_allclose(rgb[0, 1], [1 - a, 200 / 255 * a + 1 - a, 1 - a], atol=1e-6)
    np.testing.assert_allclose(rgb[0, 2], [1, 1, 1], atol=1e-6)


def test_opaque_rgba_has_no_alpha(tmp_path):
    im = Image.new("RGBA", (5, 4), (1, 2, 3, 255))
    d = read_image(save_pil(tmp_path / "o.png", im))
    assert d.alpha is None


def test_LA(tmp_path):
    arr = np.array([[[100, 255], [100, 0]]], np.uint8)
    d = read_image(save_pil(tmp_path / "la.png", Image.fromarray(arr, "LA")))
    assert d.alpha.flatten().tolist() == [1.0, 0.0]
    np.testing.assert_allclose(rgb_of(d)[0], [[100 / 255] * 3, [1, 1, 1]], atol=1e-6)


def test_16bit_gray_png(tmp_path):
    rows = [np.array([0, 32768, 65535, 257], ">u2").tobytes()]
    p = tmp_path / "g16.png"
    p.write_bytes(make_png(4, 1, 0, 16, rows))
    with Image.open(p) as im:
        assert im.mode.startswith("I")  # Pillow keeps the 16 bits
    rgb = rgb_of(read_image(p))
    np.testing.assert_allclose(rgb[0, :, 1], [0, 32768 / 65535, 1, 257 / 65535], atol=1e-6)
    assert abs(rgb[0, 1, 0] - 0.5) < 1e-4


def test_16bit_gray_from_pillow_and_tiff(tmp_path):
    arr = np.array([[0, 1000, 65535]], np.uint16)
    for name in ("a.png", "a.tif"):
        p = save_pil(tmp_path / name, Image.fromarray(arr))
        np.testing.assert_allclose(rgb_of(read_image(p))[0, :, 0], arr[0] / 65535, atol=1e-6)
    big_endian = Image.new("I;16B", (2, 1))
    big_endian.putpixel((1, 0), 65535)
    p = save_pil(tmp_path / "be.tif", big_endian)
    np.testing.assert_allclose(rgb_of(read_image(p))[0, :, 2], [0, 1], atol=1e-6)


def test_16bit_gray_transparency_key(tmp_path):
    rows = [np.array([0, 1000, 65535], ">u2").tobytes()]
    p = tmp_path / "g16t.png"
    p.write_bytes(make_png(3, 1, 0, 16, rows, trns=struct.pack(">H", 1000)))
    d = read_image(p)
    assert d.alpha.flatten().tolist() == [1.0, 0.0, 1.0]
    np.testing.assert_allclose(rgb_of(d)[0, :, 0], [0, 1, 1], atol=1e-6)


def test_rgb_transparency_key(tmp_path):
    im = Image.fromarray(np.array([[[0, 100, 255], [1, 2, 3]]], np.uint8))
    d = read_image(save_pil(tmp_path / "k.png", im, transparency=(0, 100, 255)))
    assert d.alpha.flatten().tolist() == [0.0, 1.0]
    np.testing.assert_allclose(rgb_of(d)[0, 0], [1, 1, 1])


def test_32bit_int_tiff_scaled_by_bit_depth(tmp_path):
    arr = np.array([[0, 2**30, 2**31 - 1, -5]], np.int32)
    p = save_pil(tmp_path / "i32.tif", Image.fromarray(arr))
    with Image.open(p) as im:
        assert im.mode == "I"
    got = rgb_of(read_image(p))[0, :, 0]
    np.testing.assert_allclose(got, [0, 0.5, 1, 0], atol=1e-6)


def test_32bit_int_tiff_small_values_stay_small(tmp_path):
    # The bit depth comes from the TIFF header, not from the values: 65535 of 2**31 - 1.
    p = save_pil(tmp_path / "i32s.tif", Image.fromarray(np.array([[0, 65535]], np.int32)))
    got = rgb_of(read_image(p))[0, :, 0]
    np.testing.assert_allclose(got, [0, 65535 / (2**31 - 1)], rtol=1e-5, atol=1e-9)


def test_16bit_pgm_mode_I(tmp_path):
    # Pillow opens a 16-bit PGM as mode "I" rescaled to 0..65535 (maxval 1000 here).
    p = tmp_path / "g.pgm"
    p.write_bytes(b"P5\n3 1\n1000\n" + np.array([0, 500, 1000], ">u2").tobytes())
    with Image.open(p) as im:
        assert im.mode == "I"
    np.testing.assert_allclose(rgb_of(read_image(p))[0, :, 0], [0, 0.5, 1], atol=1e-4)


def test_float_tiff_clamped(tmp_path):
    arr = np.array([[-1.0, 0.25, 0.5, 2.0, np.nan]], np.float32)
    p = save_pil(tmp_path / "f.tif", Image.fromarray(arr, "F"))
    np.testing.assert_allclose(rgb_of(read_image(p))[0, :, 1], [0, 0.25, 0.5, 1, 0], atol=1e-6)


@pytest.mark.parametrize("ext", [".jpg", ".tif"])
def test_cmyk_pure_cyan(tmp_path, ext):
    # Pillow writes CMYK JPEGs with an Adobe marker (inverted CMYK), which it undoes on read.
    p = save_pil(tmp_path / f"c{ext}", Image.new("CMYK", (16, 16), (255, 0, 0, 0)))
    with Image.open(p) as im:
        assert im.mode == "CMYK"
        if ext == ".jpg":
            assert "adobe" in im.info
    rgb = rgb_of(read_image(p))
    np.testing.assert_allclose(rgb.reshape(-1, 3).mean(0), [0, 1, 1], atol=0.02)


def test_ycbcr_tiff(tmp_path):
    ycc = Image.new("RGB", (8, 8), (255, 0, 0)).convert("YCbCr")
    p = save_pil(tmp_path / "y.tif", ycc)
    with Image.open(p) as im:
        assert im.mode == "YCbCr"
    np.testing.assert_allclose(rgb_of(read_image(p)).reshape(-1, 3).mean(0), [1, 0, 0], atol=0.02)


def test_16bit_rgb_png_is_reduced_to_8bit_by_pillow(tmp_path):
    # Pillow (13) opens 16-bit RGB/RGBA PNGs as 8-bit RGB/RGBA (keeping the high byte).
    a = np.zeros((1, 2, 3), np.uint16)
    a[0, 0] = [65535, 32768, 0]
    a[0, 1] = [0, 65535, 1000]
    p = tmp_path / "rgb16.png"
    p.write_bytes(make_png(2, 1, 2, 16, [a.astype(">u2").tobytes()]))
    rgb = rgb_of(read_image(p))
    np.testing.assert_allclose(rgb[0, 0], [1, 128 / 255, 0], atol=1e-6)
    np.testing.assert_allclose(rgb[0, 1], [0, 1, 3 / 255], atol=1e-6)

    a4 = np.zeros((1, 2, 4), np.uint16)
    a4[0, 0] = [65535, 0, 0, 65535]
    a4[0, 1] = [0, 0, 0, 0]
    p4 = tmp_path / "rgba16.png"
    p4.write_bytes(make_png(2, 1, 6, 16, [a4.astype(">u2").tobytes()]))
    d = read_image(p4)
    assert d.alpha.flatten().tolist() == [1.0, 0.0]
    np.testing.assert_allclose(rgb_of(d)[0], [[1, 0, 0], [1, 1, 1]], atol=1e-6)


def test_multiframe_gif_and_tiff_use_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 6), c) for c in [(255, 0, 0), (0, 0, 255), (0, 255, 0)]]
    for name in ("anim.gif", "pages.tif"):
        p = tmp_path / name
        frames[0].save(p, save_all=True, append_images=frames[1:])
        with Image.open(p) as im:
            assert getattr(im, "n_frames", 1) == 3
        with pytest.warns(InstyleWarning, match=r"has 3 frames; using the first frame only"):
            d = read_image(p)
        assert d.frames == 3
        np.testing.assert_allclose(rgb_of(d).reshape(-1, 3).mean(0), [1, 0, 0], atol=0.01)


def test_one_frame_no_warning(tmp_path):
    p = save_pil(tmp_path / "still.gif", Image.new("RGB", (4, 4), (255, 0, 0)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(p).frames == 1


@pytest.mark.parametrize(
    "mode, expect_rgb",
    [
        ("La", (1.0, 1.0, 1.0)),  # L=0 premultiplied, A=0: fully transparent -> white
        ("PA", None),
        ("RGBa", None),
        ("LAB", None),
        ("HSV", None),
        ("RGBX", None),
        ("YCbCr", None),
        ("CMYK", (1.0, 1.0, 1.0)),  # CMYK (0, 0, 0, 0) is white
        ("I;16", (0.0, 0.0, 0.0)),
        ("I", (0.0, 0.0, 0.0)),
        ("F", (0.0, 0.0, 0.0)),
        ("1", (0.0, 0.0, 0.0)),
    ],
)
def test_image_to_tensor_any_mode(mode, expect_rgb):
    t = image_to_tensor(Image.new(mode, (5, 3)))
    check_tensor(t)
    assert t.shape == (1, 3, 3, 5)
    if expect_rgb is not None:
        np.testing.assert_allclose(t[0, :, 0, 0].numpy(), expect_rgb, atol=1e-6)


def test_image_to_tensor_premultiplied_La():
    im = Image.fromarray(np.array([[[100, 255], [50, 128]]], np.uint8), "LA").convert("La")
    t = image_to_tensor(im)
    a = 128 / 255
    np.testing.assert_allclose(t[0, 0, 0].numpy(), [100 / 255, 50 / 255 * a + 1 - a], atol=0.01)


def test_tensor_image_round_trip():
    arr = photo(20, 10)
    pil = Image.fromarray(arr)
    t = image_to_tensor(pil)
    assert t.shape == (1, 3, 10, 20) and t.dtype == torch.float32
    back = tensor_to_image(t)
    assert back.mode == "RGB" and back.size == (20, 10)
    np.testing.assert_array_equal(np.asarray(back), arr)
    assert np.array_equal(np.asarray(tensor_to_image(t[0])), arr)  # (3, H, W) too
    wild = torch.tensor([-1.0, 0.5, 2.0, float("nan")]).view(1, 1, 1, 4).expand(1, 3, 1, 4)
    assert np.asarray(tensor_to_image(wild))[0, :, 0].tolist() == [0, 128, 255, 0]


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


# --------------------------------------------------------------------------- saving


@pytest.mark.parametrize(
    "ext, tol", [(".png", 0), (".bmp", 0), (".tif", 0), (".tiff", 0), (".jpg", 0.03), (".jpeg", 0.03), (".webp", 0.04)]
)
def test_save_read_round_trip(tmp_path, ext, tol):
    arr = photo()
    t = torch.from_numpy(arr).permute(2, 0, 1).float().div(255).unsqueeze(0)  # (1, 3, H, W)
    out = save_image(tmp_path / f"out{ext}", t)
    assert out == tmp_path / f"out{ext}"
    assert out.is_file()
    with Image.open(out) as im:
        assert im.format == imageio.save._SAVE_FORMATS[ext][0]
        assert im.mode == "RGB"
    back = load_image(out)
    assert back.shape == t.shape
    err = (back - t).abs().mean().item()
    assert err <= tol + 1e-7, err
    if tol == 0:
        assert torch.equal(back, t)


def test_save_accepts_3d_and_clamps(tmp_path):
    t = torch.tensor([-0.5, 0.5, 1.5, float("nan")]).view(1, 1, 4).expand(3, 1, 4).clone()
    out = save_image(tmp_path / "c.png", t.requires_grad_())
    assert np.asarray(Image.open(out))[0, :, 0].tolist() == [0, 128, 255, 0]


def test_save_bad_tensor_shape(tmp_path):
    with pytest.raises(ValueError):
        save_image(tmp_path / "x.png", torch.zeros(1, 4, 5, 5))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["x.gif", "x.txt", "x", "x.PNG.bak"])
def test_unsupported_extension(tmp_path, name):
    with pytest.raises(UsageError) as ei:
        save_image(tmp_path / name, torch.zeros(1, 3, 2, 2))
    msg = str(ei.value)
    assert ".png" in msg and ".jpg" in msg and ".webp" in msg and "\n" not in msg
    assert ei.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_uppercase_extension_ok(tmp_path):
    out = save_image(tmp_path / "X.JPG", torch.zeros(1, 3, 4, 4))
    with Image.open(out) as im:
        assert im.format == "JPEG"


def test_bad_quality(tmp_path):
    with pytest.raises(UsageError):
        save_image(tmp_path / "x.jpg", torch.zeros(1, 3, 2, 2), quality=0)


def test_save_refuses_to_overwrite(tmp_path, monkeypatch):
    dst = tmp_path / "exists.png"
    save_image(dst, torch.zeros(1, 3, 4, 4))
    before = dst.read_bytes()
    with pytest.raises(InstyleError) as ei:
        save_image(dst, torch.ones(1, 3, 4, 4))
    assert str(ei.value) == f"{dst} already exists; pass --overwrite to replace it"
    assert ei.value.exit_code == 1
    assert dst.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["exists.png"]
    with monkeypatch.context() as m:  # refused up front: nothing is even encoded
        m.setattr(Image.Image, "save", lambda *a, **k: pytest.fail("encoded anyway"))
        with pytest.raises(InstyleError, match="already exists"):
            save_image(str(dst), torch.ones(1, 3, 4, 4))
    save_image(dst, torch.ones(1, 3, 4, 4), overwrite=True)
    assert dst.read_bytes() != before
    assert float(load_image(dst).min()) == 1.0
    assert sorted(os.listdir(tmp_path)) == ["exists.png"]


def test_save_creates_parents_and_normal_permissions(tmp_path):
    dst = tmp_path / "a" / "b" / "c.png"
    assert save_image(str(dst), torch.zeros(1, 3, 2, 2)) == dst
    assert dst.is_file()
    if os.name == "posix":
        mode = stat.S_IMODE(dst.stat().st_mode)
        assert mode == 0o666 & ~atomic._umask()  # not mkstemp's 0600


def test_save_into_a_directory_path(tmp_path):
    (tmp_path / "d.png").mkdir()
    with pytest.raises(InstyleError):
        save_image(tmp_path / "d.png", torch.zeros(1, 3, 2, 2), overwrite=True)


def _failing_save(exc: BaseException):
    real = Image.Image.save

    def save(self, fp, format=None, **kw):
        buf = io.BytesIO()
        real(self, buf, format=format, **kw)
        fp.write(buf.getvalue()[: len(buf.getvalue()) // 2])  # half written ...
        raise exc  # ... then the failure

    return save


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), ValueError("encoder broke")])
def test_save_is_atomic_on_failure(tmp_path, monkeypatch, exc):
    monkeypatch.setattr(Image.Image, "save", _failing_save(exc))
    folder = tmp_path / "out"
    with pytest.raises(InstyleError) as ei:
        save_image(folder / "x.png", torch.rand(1, 3, 16, 16))
    check_error(ei.value, "x.png")
    assert os.listdir(folder) == []  # no file, no temporary file


def test_failed_overwrite_keeps_old_file(tmp_path, monkeypatch):
    dst = tmp_path / "keep.jpg"
    save_image(dst, torch.zeros(1, 3, 8, 8))
    before = dst.read_bytes()
    monkeypatch.setattr(Image.Image, "save", _failing_save(OSError(5, "Input/output error")))
    with pytest.raises(InstyleError):
        save_image(dst, torch.ones(1, 3, 8, 8), overwrite=True)
    assert dst.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.jpg"]


def test_destination_appearing_during_save_is_not_clobbered(tmp_path, monkeypatch):
    dst = tmp_path / "race.png"
    real = Image.Image.save

    def racing_save(self, fp, format=None, **kw):
        dst.write_bytes(b"someone else's file")  # created after the exists() check
        return real(self, fp, format=format, **kw)

    monkeypatch.setattr(Image.Image, "save", racing_save)
    with pytest.raises(InstyleError, match="already exists"):
        save_image(dst, torch.zeros(1, 3, 4, 4))
    assert dst.read_bytes() == b"someone else's file"
    assert os.listdir(tmp_path) == ["race.png"]


def test_save_fsyncs_before_rename(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_link, real_replace = os.fsync, os.link, os.replace

    def fsync(fd):
        events.append("fsync")
        return real_fsync(fd)

    def link(a, b, *args, **kw):
        events.append("rename")
        return real_link(a, b, *args, **kw)

    def replace(a, b, *args, **kw):
        events.append("rename")
        return real_replace(a, b, *args, **kw)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(os, "replace", replace)
    save_image(tmp_path / "f.png", torch.zeros(1, 3, 4, 4))
    save_image(tmp_path / "f.png", torch.ones(1, 3, 4, 4), overwrite=True)
    assert events[:2] == ["fsync", "rename"] and events.count("rename") == 2
    assert events.index("rename", 2) > events.index("fsync", 2)


def test_interrupted_save_cleans_up(tmp_path, monkeypatch):
    monkeypatch.setattr(Image.Image, "save", _failing_save(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        save_image(tmp_path / "k.png", torch.zeros(1, 3, 4, 4))
    assert os.listdir(tmp_path) == []


def test_failed_rename_cleans_up(tmp_path, monkeypatch):
    def broken(*a, **k):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", broken)
    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(InstyleError):
        save_image(tmp_path / "r.png", torch.zeros(1, 3, 4, 4))
    assert os.listdir(tmp_path) == []


def test_save_without_hard_links(tmp_path, monkeypatch):
    def no_links(*a, **k):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    dst = save_image(tmp_path / "n.png", torch.zeros(1, 3, 4, 4))
    assert dst.is_file() and os.listdir(tmp_path) == ["n.png"]
    with pytest.raises(InstyleError, match="already exists"):
        save_image(dst, torch.zeros(1, 3, 4, 4))


def test_alpha_reapplied_on_png(tmp_path):
    rgb = torch.zeros(1, 3, 8, 8)
    rgb[:, 0] = 1.0  # red
    alpha = torch.zeros(1, 1, 8, 8)
    alpha[..., :, :4] = 1.0  # left half opaque
    out = save_image(tmp_path / "a.png", rgb, alpha=alpha)
    with Image.open(out) as im:
        assert im.mode == "RGBA"
        arr = np.asarray(im)
    assert arr[..., 3][:, :4].min() == 255 and arr[..., 3][:, 4:].max() == 0
    assert (arr[..., 0] == 255).all()
    d = read_image(out)
    assert torch.equal(d.alpha, alpha)


def test_alpha_resized_to_image(tmp_path):
    src = Image.new("RGBA", (40, 20), (0, 128, 0, 255))
    src.paste((0, 0, 0, 0), (20, 0, 40, 20))
    d = read_image(save_pil(tmp_path / "in.png", src))
    stylized = torch.rand(1, 3, 60, 120)  # a different size than the alpha (20x40)
    out = save_image(tmp_path / "out.png", stylized, alpha=d.alpha)
    with Image.open(out) as im:
        assert im.mode == "RGBA" and im.size == (120, 60)
        a = np.asarray(im)[..., 3]
    assert a[:, :55].min() == 255 and a[:, 65:].max() == 0
    out2 = save_image(tmp_path / "out2.webp", stylized, alpha=d.alpha[0, 0])  # (h, w) also
    with Image.open(out2) as im:
        assert im.mode == "RGBA"


@pytest.mark.parametrize("ext", [".jpg", ".bmp"])
def test_alpha_on_format_without_alpha_composites_over_white(tmp_path, ext):
    rgb = torch.zeros(1, 3, 8, 8)  # black
    alpha = torch.zeros(1, 1, 8, 8)
    alpha[..., :4, :] = 1.0  # top half opaque
    out = save_image(tmp_path / f"w{ext}", rgb, alpha=alpha)
    with Image.open(out) as im:
        assert im.mode == "RGB"
        arr = np.asarray(im).astype(int)
    assert arr[:3].max() < 10 and arr[5:].min() > 245


# --------------------------------------------------------------------------- stdin / stdout


class _FakeStream:
    def __init__(self, data: bytes = b"", tty: bool = False):
        self.buffer = io.BytesIO(data)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_stdin(tmp_path, monkeypatch):
    arr = photo(10, 8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    monkeypatch.setattr(sys, "stdin", _FakeStream(buf.getvalue()))
    d = read_image("-")
    assert d.source == "<stdin>"
    np.testing.assert_array_equal(np.round(rgb_of(d) * 255).astype(np.uint8), arr)


def test_stdin_empty_and_garbage(monkeypatch):
    monkeypatch.setattr(sys, "stdin", _FakeStream(b""))
    with pytest.raises(InstyleError) as ei:
        read_image("-")
    check_error(ei.value, "<stdin>")
    monkeypatch.setattr(sys, "stdin", _FakeStream(b"not an image at all"))
    with pytest.raises(InstyleError) as ei:
        read_image("-")
    check_error(ei.value, "<stdin>")


def test_stdout(monkeypatch, tmp_path):
    fake = _FakeStream()
    monkeypatch.setattr(sys, "stdout", fake)
    t = torch.rand(1, 3, 5, 7)
    assert save_image("-", t) is None
    data = fake.buffer.getvalue()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert torch.allclose(load_image(data), t, atol=0.5 / 255 + 1e-6)
    assert os.listdir(tmp_path) == []


def test_stdout_refuses_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stdout", _FakeStream(tty=True))
    with pytest.raises(UsageError):
        save_image("-", torch.zeros(1, 3, 2, 2))


def test_read_from_bytes_and_streams(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (3, 2), (255, 0, 0)).save(buf, format="PNG")
    data = buf.getvalue()
    assert read_image(data).source == "<bytes>"
    with open(save_pil(tmp_path / "s.png", Image.new("RGB", (3, 2))), "rb") as f:
        assert read_image(f).source == str(tmp_path / "s.png")

    class Pipe(io.RawIOBase):  # not seekable
        def __init__(self, b):
            self._b = io.BytesIO(b)

        def readable(self):
            return True

        def readinto(self, m):
            chunk = self._b.read(len(m))
            m[: len(chunk)] = chunk
            return len(chunk)

    assert read_image(Pipe(data)).rgb.shape == (1, 3, 2, 3)


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


# --------------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    with pytest.raises(InstyleError) as ei:
        read_image(tmp_path / "nope.png")
    check_error(ei.value, "nope.png")
    assert "no such file" in str(ei.value)
    assert ei.value.__cause__ is None and ei.value.__suppress_context__


def test_directory(tmp_path):
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(InstyleError, match="directory") as ei:
        read_image(tmp_path / "dir.png")
    check_error(ei.value, "dir.png")


def test_empty_file(tmp_path):
    (tmp_path / "zero.jpg").write_bytes(b"")
    with pytest.raises(InstyleError) as ei:
        read_image(tmp_path / "zero.jpg")
    assert str(ei.value) == f"cannot read image '{tmp_path / 'zero.jpg'}': file is empty"


def test_text_file(tmp_path):
    (tmp_path / "notes.png").write_text("this is not a picture\n")
    with pytest.raises(InstyleError) as ei:
        read_image(tmp_path / "notes.png")
    assert str(ei.value) == (
        f"cannot read image '{tmp_path / 'notes.png'}': not an image file (or an unsupported format)"
    )


def test_common_formats_need_only_their_own_plugin(tmp_path):
    # A JPEG, PNG, TIFF or WebP is opened by its signature's plugin alone (start-up: Pillow's other
    # plugins are not imported; checked in a fresh process).
    import subprocess

    for ext in (".jpg", ".png", ".tif", ".webp"):
        save_pil(tmp_path / f"p{ext}", Image.fromarray(photo()))
    code = (
        "import sys; from instyle.imageio import read_array\n"
        f"for e in ('.jpg', '.png', '.tif', '.webp'): read_array({str(tmp_path)!r} + '/p' + e)\n"
        "print(sorted(m for m in sys.modules if m.startswith('PIL.') and m.endswith('ImagePlugin')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "PIL.PsdImagePlugin" not in out and "PIL.EpsImagePlugin" not in out, out
    assert all(f"PIL.{m}ImagePlugin" in out for m in ("Jpeg", "Png", "Tiff", "WebP")), out


def test_file_that_only_starts_like_a_format_is_tried_by_every_plugin(tmp_path):
    # A signature's plugin that can't open the file ("BM..." that is no BMP) hands it to all of
    # them; one that nothing opens is "truncated or corrupt", as before.
    from instyle.imageio import decode

    buf = io.BytesIO()
    Image.fromarray(photo(8, 6)).save(buf, format="PNG")
    buf.seek(0)
    assert decode._open(buf, "JPEG").format == "PNG"
    (tmp_path / "bm.bmp").write_bytes(b"BM" + b"\0" * 64)
    with pytest.raises(InstyleError, match="truncated or corrupt"):
        read_image(tmp_path / "bm.bmp")


def test_truncated_png_and_jpeg(tmp_path):
    for ext in ("png", "jpg"):
        buf = io.BytesIO()
        Image.fromarray(photo()).save(buf, format="PNG" if ext == "png" else "JPEG")
        p = tmp_path / f"cut.{ext}"
        p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        with pytest.raises(InstyleError) as ei:
            read_image(p)
        assert str(ei.value) == f"cannot read image '{p}': file is truncated or corrupt"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_permission_denied_real(tmp_path):
    p = save_pil(tmp_path / "locked.png", Image.new("RGB", (2, 2)))
    p.chmod(0)
    try:
        with pytest.raises(InstyleError, match="permission denied"):
            read_image(p)
    finally:
        p.chmod(0o644)


def test_permission_denied(tmp_path, monkeypatch):
    p = save_pil(tmp_path / "locked.png", Image.new("RGB", (2, 2)))

    real_open = os.open

    def denied(path, *a, **k):
        if os.fspath(path) == str(p):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **k)

    monkeypatch.setattr(imageio.streams.os, "open", denied)
    with pytest.raises(InstyleError) as ei:
        read_image(p)
    assert str(ei.value) == f"cannot read image '{p}': permission denied"


def test_zero_dimension(tmp_path):
    p = tmp_path / "zero.png"
    p.write_bytes(make_png(0, 5, 2, 8, [b""] * 5))
    with pytest.raises(InstyleError) as ei:
        read_image(p)
    check_error(ei.value, "zero.png")


def test_odd_file_name_stays_on_one_line(tmp_path):
    p = tmp_path / "two\nlines.png"
    p.write_bytes(b"garbage")
    with pytest.raises(InstyleError) as ei:
        read_image(p)
    assert "\n" not in str(ei.value) and "lines.png" in str(ei.value)


# --------------------------------------------------------------------------- list_images


def test_list_images(tmp_path):
    for name in [
        "b.PNG",
        "a.jpg",
        "c.jpeg",
        "d.webp",
        "e.tif",
        "f.TIFF",
        "g.bmp",
        "h.gif",
        "notes.txt",
        ".hidden.png",
        "noext",
    ]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "z.png").write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()  # a folder with an image-like name is not a file
    (tmp_path / ".thumbs").mkdir()  # hidden folders are skipped when recursing
    (tmp_path / ".thumbs" / "t.png").write_bytes(b"x")
    got = [p.name for p in list_images(tmp_path)]
    assert got == sorted(["b.PNG", "a.jpg", "c.jpeg", "d.webp", "e.tif", "f.TIFF", "g.bmp", "h.gif"])
    rec = list_images(str(tmp_path), recursive=True)
    assert tmp_path / "sub" / "z.png" in rec and len(rec) == 9
    assert rec == sorted(rec)
    assert all(isinstance(p, Path) for p in rec)
    assert ".png" in IMAGE_EXTENSIONS and ".jpg" in IMAGE_EXTENSIONS


def test_list_images_errors(tmp_path):
    with pytest.raises(InstyleError, match="does not exist"):
        list_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("hi")
    with pytest.raises(InstyleError, match="no images"):
        list_images(tmp_path / "empty")
    f = tmp_path / "file.png"
    f.write_bytes(b"x")
    with pytest.raises(InstyleError, match="not a folder"):
        list_images(f)


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


def test_default_max_pixels_constant():
    assert DEFAULT_MAX_PIXELS == 64_000_000


def test_fifo_refused_without_waiting(tmp_path):
    p = tmp_path / "pipe.png"
    os.mkfifo(p)  # nobody writes to it: a plain open() would block forever
    t0 = time.perf_counter()
    with pytest.raises(InstyleError) as ei:
        read_image(p)
    assert time.perf_counter() - t0 < 1.0
    assert str(ei.value) == f"cannot read image '{p}': is a FIFO, not a regular file"


def test_device_refused():
    with pytest.raises(InstyleError, match="is a device, not a regular file"):
        read_image("/dev/zero")  # would otherwise be read forever


def test_stdin_size_capped(monkeypatch):
    monkeypatch.setattr(imageio.streams, "MAX_STDIN_BYTES", 100)
    monkeypatch.setattr(sys, "stdin", _FakeStream(b"\x89PNG" + b"\0" * 200))
    with pytest.raises(InstyleError, match="more than .* on standard input; give the image as a file"):
        read_image("-")


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


def test_numpy_and_tensor_save_identically(tmp_path):
    rng = np.random.default_rng(0)
    arr = rng.random((9, 13, 3), dtype=np.float32)
    alpha = rng.random((9, 13), dtype=np.float32)
    for ext in (".png", ".jpg"):
        a, t = tmp_path / f"a{ext}", tmp_path / f"t{ext}"
        save_image(a, arr, alpha=alpha)
        save_image(t, torch.from_numpy(arr).permute(2, 0, 1)[None], alpha=torch.from_numpy(alpha)[None, None])
        assert a.read_bytes() == t.read_bytes()


def test_png_default_is_run_length_smaller_than_deflate_1_on_a_stylized_picture(tmp_path):
    # Flat regions and strokes, as a stylized output has: the run-length mode (1) writes less than
    # deflate at level 2 and no more than deflate at 9, lossless.
    rng = np.random.default_rng(0)
    base = np.repeat(np.repeat(rng.random((24, 32, 3)), 8, axis=0), 8, axis=1)
    img = np.clip(base + 0.02 * rng.standard_normal(base.shape), 0, 1).astype(np.float32)  # (192, 256, 3)
    sizes = {lvl: save_image(tmp_path / f"c{lvl}.png", img, png_compress=lvl).stat().st_size for lvl in (0, 1, 2, 9)}
    assert sizes[1] < sizes[2] < sizes[0] and sizes[1] <= 1.05 * sizes[9], sizes
    for lvl in sizes:
        np.testing.assert_array_equal(
            np.asarray(Image.open(tmp_path / f"c{lvl}.png")), np.asarray(Image.open(tmp_path / "c0.png"))
        )


@pytest.mark.parametrize("level", [0, 1, 9])
def test_png_compress_level(tmp_path, level):
    img = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    p = save_image(tmp_path / f"c{level}.png", img, png_compress=level)
    np.testing.assert_array_equal(np.asarray(Image.open(p)), np.asarray(tensor_to_image(img)))
    with pytest.raises(UsageError, match="PNG compression"):
        save_image(tmp_path / "x.png", img, png_compress=10)


def test_save_and_encode_resample_to_a_given_size(tmp_path):
    # a result computed at a smaller size for its brush is written at the output's size
    rng = np.random.default_rng(0)
    small = rng.random((20, 30, 3), dtype=np.float32)
    alpha = np.ones((40, 60), np.float32)
    alpha[:, :30] = 0.0
    out = save_image(tmp_path / "big.png", small, size=(60, 40), alpha=alpha)
    with Image.open(out) as im:
        assert im.size == (60, 40) and im.mode == "RGBA"
        a = np.asarray(im)[..., 3]
    assert (a[:, :30] == 0).all() and (a[:, 30:] == 255).all()
    data = encode_image(torch.from_numpy(small).permute(2, 0, 1)[None], "jpg", size=(60, 40))
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (60, 40)
    # the same size: the pixels as they are
    same = save_image(tmp_path / "same.png", small, size=(30, 20))
    with Image.open(same) as im:
        assert np.abs(np.asarray(im, np.float32) / 255 - small).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ValueError, match="size must be positive"):
        save_image(tmp_path / "zero.png", small, size=(0, 10))
