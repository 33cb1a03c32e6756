"""Where image bytes come from and go to, besides plain writes: paths (opened without blocking,
anything but a regular file refused), standard input (capped), bytes, file objects, and
standard output."""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import BinaryIO

from PIL import Image

from ..errors import InstyleError, UsageError, one_line, quoted
from ..files import open_regular

#: Most bytes read from standard input (a file has no such limit: it is read as decoded).
MAX_STDIN_BYTES = 1 << 30


def read_error(source: str, reason: str, kind: type[InstyleError] = InstyleError) -> InstyleError:
    """The one form of every reading error: ``cannot read image 'NAME': REASON`` (an
    :class:`~instyle.errors.InstyleError`, or its subclass ``kind``)."""
    return kind(f"cannot read image {quoted(source)}: {reason}")


def open_source(src: object) -> tuple[BinaryIO, str, bool]:
    """(binary file object, display name, whether we must close it) for a read source."""
    if isinstance(src, str) and src == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise read_error("<stdin>", "standard input is not available")
        try:
            data = stream.read(MAX_STDIN_BYTES + 1)
        except OSError as exc:
            raise read_error("<stdin>", one_line(exc.strerror or exc)) from None
        if len(data) > MAX_STDIN_BYTES:
            raise read_error(
                "<stdin>", f"more than {MAX_STDIN_BYTES >> 30} GiB on standard input; give the image as a file"
            )
        return io.BytesIO(data), "<stdin>", True
    if isinstance(src, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(src)), "<bytes>", True
    if isinstance(src, (str, os.PathLike)):
        path = os.fspath(src)
        name = os.fsdecode(path)
        f = open_regular(path, lambda reason: read_error(name, reason))  # closed by read_image
        return f, name, True
    if hasattr(src, "read"):
        raw_name = getattr(src, "name", None)
        name = raw_name if isinstance(raw_name, str) and raw_name else "<stream>"
        try:
            seekable = bool(src.seekable()) if hasattr(src, "seekable") else False
        except (OSError, ValueError):
            seekable = False
        if seekable:
            return src, name, False  # type: ignore[return-value]
        try:
            data = src.read()
        except (OSError, ValueError) as exc:
            raise read_error(name, one_line(exc)) from None
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("read_image needs a binary stream (open the file with 'rb')")
        return io.BytesIO(bytes(data)), name, True
    raise TypeError(f"read_image takes a path, '-', bytes or a binary file object, not {type(src).__name__}")


def write_stdout(pil: Image.Image, **options) -> None:
    out = getattr(sys.stdout, "buffer", None)
    if out is None:
        raise InstyleError("cannot write image to standard output: it is not a binary stream")
    try:
        is_tty = bool(sys.stdout.isatty())
    except (AttributeError, ValueError, OSError):
        is_tty = False
    if is_tty:
        raise UsageError(
            "refusing to write binary image data to a terminal; redirect standard output or give an output file name"
        )
    buf = io.BytesIO()
    pil.save(buf, format="PNG", **options)
    try:
        data = memoryview(buf.getvalue())
        while data:  # unbuffered (PYTHONUNBUFFERED=1), stdout is a raw file whose write() may be short
            written = out.write(data)
            if not written:
                raise OSError(errno.EIO, "nothing more could be written")
            data = data[written:]
        out.flush()
    except OSError as exc:
        raise InstyleError(f"cannot write image to standard output: {one_line(exc.strerror or exc)}") from None
    return None
