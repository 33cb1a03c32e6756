"""Tests for instyle.imageio's streams: standard input (capped) and output, bytes, file objects,
and paths that are no regular file (FIFO, device), refused without blocking."""

from __future__ import annotations

import io
import os
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from image_io.helpers import check_error, photo, rgb_of, save_pil
from instyle import imageio
from instyle.errors import InstyleError, UsageError
from instyle.imageio import (
    load_image,
    read_image,
    save_image,
)

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
