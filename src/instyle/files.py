"""Opening a file the user named, for reading, without ever waiting on it: a FIFO nobody writes to,
a device or a socket is refused at once (one line), never read forever."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import BinaryIO

from .errors import one_line


def open_regular(path: str | os.PathLike, error: Callable[[str], Exception]) -> BinaryIO:
    """``path`` opened for binary reading if it is a regular file; otherwise ``error(reason)`` is
    raised, with reasons such as "no such file" or "is a FIFO, not a regular file".

    O_NONBLOCK: opening a FIFO nobody writes to returns at once instead of waiting forever; fstat on
    what was opened (no check-then-open race) then refuses anything not a file.
    """
    if os.path.isdir(path):
        raise error("is a directory, not a file")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise error("no such file") from None
    except IsADirectoryError:
        raise error("is a directory, not a file") from None
    except PermissionError:
        raise error("permission denied") from None
    except OSError as exc:
        raise error(one_line(exc.strerror or exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise error("is a directory, not a file")
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
            raise error(f"is {kind}, not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
