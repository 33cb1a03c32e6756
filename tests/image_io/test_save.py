"""Tests for instyle.imageio's writing: save_image / encode_image formats, alpha re-applied,
atomic writes that never clobber, PNG compression, resampling to a given size."""

from __future__ import annotations

import io
import os
import stat

import numpy as np
import pytest
import torch
from PIL import Image

from image_io.helpers import check_error, photo, save_pil
from instyle import atomic, imageio
from instyle.errors import InstyleError, UsageError
from instyle.imageio import (
    encode_image,
    load_image,
    read_image,
    save_image,
    tensor_to_image,
)

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
    # the option as a Python caller passes it; the command line prints its flag
    assert str(ei.value) == f"{dst} already exists; pass overwrite=True to replace it"
    assert ei.value.for_cli() == f"{dst} already exists; pass --overwrite to replace it"
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
