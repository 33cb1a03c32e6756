"""Atomic file writes: a hidden temporary file in the destination folder, fsynced, then renamed.

A crash or an error never leaves a half-written file, and an existing file is only replaced
when ``overwrite`` is true (without it, ``os.link`` refuses an existing destination atomically,
so there is no check-then-replace race). Used for images, checkpoints, JSON and CSV alike.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import InstyleError, exists_error, one_line


def _umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode(path: Path) -> int:
    """The permissions a file written to ``path`` gets: a file it replaces keeps its own, a new one
    gets ``0666 & ~umask`` (what ``open`` would give it; ``mkstemp``'s temporary files are 0600)."""
    try:
        return stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask()
    except OSError:
        return 0o666 & ~_umask()


#: A temporary file or folder of ours: hidden, the output's name, the writing process's id,
#: mkstemp's 8 random characters, then .tmp (images, JSON, checkpoints), the video's suffix, or .d
#: (a frames folder).
_TEMP = re.compile(r"^\..+\.(\d+)\.[a-z0-9_]{8}(\.tmp|\.mp4|\.mkv|\.mov|\.webm|\.avi|\.d)$")
_swept: set[str] = set()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's process, alive
        return True
    return True


def temp_prefix(folder: Path, name: str) -> str:
    """The prefix of a temporary file for the output ``name`` in ``folder`` (``.name.PID.``),
    after sweeping, once per process and folder, the temporaries that processes no longer
    running left there (SIGKILL, a power cut): the next run of the same command cleans up after
    the one that could not. Temporaries of live processes, and files not named like ours, stay."""
    key = os.path.abspath(folder)
    if key not in _swept:
        _swept.add(key)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            entries = []
        for entry in entries:
            m = _TEMP.match(entry.name)
            if m and not _alive(int(m.group(1))):
                try:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)
                except OSError:
                    pass
    return f".{name[:60]}.{os.getpid()}."


def _disk_full(folder: Path) -> bool:
    """Whether ``folder``'s file system has (next to) no space left: what a writer that reports
    errors in its own words (torch.save) most likely ran into."""
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return False
    return st.f_bavail * st.f_frsize < (1 << 20)


def folder_mode() -> int:
    """The permissions of a new folder: ``0777 & ~umask`` (``mkdtemp``'s are 0700)."""
    return 0o777 & ~_umask()


def _fsync_dir(folder: Path) -> None:
    """Best effort: make a rename in ``folder`` durable (POSIX only)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_with(
    dst: str | os.PathLike, writer: Callable[[BinaryIO], object], *, overwrite: bool = False, what: str = "file"
) -> Path:
    """Atomically write whatever ``writer(f)`` writes into the binary file ``f`` to ``dst``.

    Missing folders are created; a replaced file keeps its permissions, a new one gets
    ``0666 & ~umask``. Any failure (in ``writer`` too) removes the temporary file and becomes an
    :class:`InstyleError` naming ``dst``; KeyboardInterrupt/SystemExit pass through after clean-up.
    """
    name = os.fsdecode(os.fspath(dst))
    path = Path(name)
    folder = path.parent
    if path.is_dir():
        raise InstyleError(f"cannot write {what} {name!r}: it is a directory")
    if path.exists() and not overwrite:
        raise exists_error(f"{name} already exists")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InstyleError(f"cannot create folder {str(folder)!r}: {one_line(exc.strerror or exc)}") from None
    mode = file_mode(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(folder, path.name), suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InstyleError(f"cannot write {what} {name!r}: {one_line(exc.strerror or exc)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, mode)  # mkstemp makes 0600 files; give the usual permissions
        except OSError:
            pass
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise exists_error(f"{name} already exists") from None
            except OSError:  # file systems without hard links: check + replace
                if path.exists():
                    raise exists_error(f"{name} already exists") from None
                os.replace(tmp, path)
            else:
                os.unlink(tmp)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, InstyleError):
            raise
        if isinstance(exc, Exception):  # disk full, encoder errors, ...
            reason = (
                exc.strerror if isinstance(exc, OSError) and exc.strerror else (one_line(exc) or type(exc).__name__)
            )
            if not isinstance(exc, OSError) and _disk_full(
                folder
            ):  # torch.save's "[enforce fail at ...] unexpected pos"
                reason = os.strerror(errno.ENOSPC)
            raise InstyleError(f"cannot write {what} {name!r}: {one_line(reason)}") from None
        raise
    _fsync_dir(folder)
    return path


def write_bytes(dst: str | os.PathLike, data: bytes, *, overwrite: bool = False, what: str = "file") -> Path:
    """Atomically write ``data`` to ``dst``."""
    return write_with(dst, lambda f: f.write(data), overwrite=overwrite, what=what)


def write_text(dst: str | os.PathLike, text: str, *, overwrite: bool = False, what: str = "file") -> Path:
    """Atomically write UTF-8 ``text`` to ``dst``."""
    return write_bytes(dst, text.encode("utf-8"), overwrite=overwrite, what=what)


def first_missing(path: Path) -> Path | None:
    """The outermost of ``path`` and its parents that does not exist (None if ``path`` exists): what
    creating ``path`` with its parents would create, and what removing it undoes."""
    missing = None
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            break
        missing = p
    return missing


@contextlib.contextmanager
def folder_lock(folder: Path, what: str) -> Iterator[None]:
    """Hold an advisory lock on ``folder`` itself (``flock`` on the directory: no lock file is
    left in it) while the block runs, so a second process on the same folder (two
    ``train --resume`` on one run) stops at once with one line instead of both writing it. The
    lock goes with the process, however it ends; where the OS has no ``flock`` (Windows) the block
    runs unlocked. The folder is created if missing."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise InstyleError(f"cannot use {what} {str(folder)!r}: {one_line(exc.strerror or exc)}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InstyleError(
                f"{what} {str(folder)!r} is in use by another process; wait for it to finish or stop it first"
            ) from None
        yield
    finally:
        os.close(fd)  # releases the lock
