"""Tests for instyle.imageio's mode handling: every Pillow mode, bit depth, palette, transparency
key and frame count read as (1, 3, H, W) RGB (+ alpha); image_to_tensor / tensor_to_image."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import make_png
from image_io.helpers import check_tensor, photo, rgb_of, save_pil
from instyle.errors import InstyleWarning
from instyle.imageio import (
    image_to_tensor,
    load_image,
    read_image,
    tensor_to_image,
)

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
