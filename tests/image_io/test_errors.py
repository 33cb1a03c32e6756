"""Tests for instyle.imageio's reading errors: missing, folder, empty, not an image, truncated,
permission denied, zero-sized; each one line naming the file."""

from __future__ import annotations

import io
import os
import sys

import pytest
from PIL import Image, ImageFile

from helpers import make_png
from image_io.helpers import check_error, photo, save_pil
from instyle import imageio
from instyle.errors import InstyleError
from instyle.imageio import (
    read_image,
)

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
