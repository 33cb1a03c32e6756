"""Tests for instyle.imageio.list_images: the images of a folder, recursively or not."""

from __future__ import annotations

from pathlib import Path

import pytest

from instyle.errors import InstyleError
from instyle.imageio import (
    IMAGE_EXTENSIONS,
    list_images,
)

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
