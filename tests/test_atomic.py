"""instyle.atomic: all-or-nothing writes, no silent overwrite, no temporary files left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from instyle import atomic
from instyle.atomic import write_bytes, write_text, write_with
from instyle.errors import InstyleError


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_bytes_creates_parents(tmp_path):
    dst = tmp_path / "a" / "b" / "c.bin"
    ret = write_bytes(dst, b"\x00\x01data")
    assert ret == dst
    assert dst.read_bytes() == b"\x00\x01data"
    assert listing(dst.parent) == ["c.bin"]


def test_write_text_is_utf8_and_accepts_str_paths(tmp_path):
    dst = tmp_path / "new" / "t.txt"
    write_text(str(dst), "héllo ✓\n")
    assert dst.read_bytes() == "héllo ✓\n".encode()


def test_write_with_streams_into_binary_file(tmp_path):
    dst = tmp_path / "sub" / "w.bin"

    def writer(f):
        for i in range(3):
            f.write(bytes([i]) * 10)

    write_with(dst, writer)
    assert dst.read_bytes() == b"\x00" * 10 + b"\x01" * 10 + b"\x02" * 10


@pytest.mark.parametrize("func", ["bytes", "text", "with"])
def test_refuses_to_overwrite_without_flag(tmp_path, func):
    dst = tmp_path / "x.dat"
    dst.write_bytes(b"original")
    call = {
        "bytes": lambda **k: write_bytes(dst, b"new", **k),
        "text": lambda **k: write_text(dst, "new", **k),
        "with": lambda **k: write_with(dst, lambda f: f.write(b"new"), **k),
    }[func]
    with pytest.raises(InstyleError) as ei:
        call()
    msg = str(ei.value)
    assert "x.dat" in msg and "overwrite=True" in msg and "\n" not in msg
    assert "pass --overwrite" in ei.value.for_cli()
    assert dst.read_bytes() == b"original"
    assert listing(tmp_path) == ["x.dat"]

    call(overwrite=True)
    assert dst.read_bytes() == b"new"
    assert listing(tmp_path) == ["x.dat"]


def test_failing_writer_leaves_nothing(tmp_path):
    dst = tmp_path / "out" / "half.bin"

    def writer(f):
        f.write(b"partial data " * 100)
        raise ValueError("encoder exploded\nsecond line")

    with pytest.raises(InstyleError) as ei:
        write_with(dst, writer, what="image")
    msg = str(ei.value)
    assert "half.bin" in msg and "image" in msg and "encoder exploded" in msg
    assert "\n" not in msg
    assert not dst.exists()
    assert listing(dst.parent) == []  # no temporary file either


def test_failing_writer_keeps_existing_file(tmp_path):
    dst = tmp_path / "keep.bin"
    dst.write_bytes(b"old contents")

    def writer(f):
        f.write(b"new")
        raise OSError(28, "No space left on device")

    with pytest.raises(InstyleError, match="No space left on device"):
        write_with(dst, writer, overwrite=True)
    assert dst.read_bytes() == b"old contents"
    assert listing(tmp_path) == ["keep.bin"]


def test_instyle_error_from_writer_passes_unchanged(tmp_path):
    err = InstyleError("my own message")

    def writer(f):
        raise err

    with pytest.raises(InstyleError) as ei:
        write_with(tmp_path / "e.bin", writer)
    assert ei.value is err
    assert listing(tmp_path) == []


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_interrupt_is_reraised_after_cleanup(tmp_path, exc):
    dst = tmp_path / "k.bin"
    dst.write_bytes(b"before")

    def writer(f):
        f.write(b"some bytes")
        raise exc()

    with pytest.raises(exc):
        write_with(dst, writer, overwrite=True)
    assert dst.read_bytes() == b"before"
    assert listing(tmp_path) == ["k.bin"]

    with pytest.raises(exc):
        write_with(tmp_path / "fresh.bin", writer)
    assert listing(tmp_path) == ["k.bin"]


def test_replaced_file_keeps_permission_bits(tmp_path):
    dst = tmp_path / "perm.txt"
    dst.write_text("old")
    os.chmod(dst, 0o640)
    write_text(dst, "new", overwrite=True)
    assert dst.read_text() == "new"
    assert mode_of(dst) == 0o640

    os.chmod(dst, 0o604)
    write_with(dst, lambda f: f.write(b"again"), overwrite=True)
    assert mode_of(dst) == 0o604


def test_new_file_gets_umask_permissions_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        dst = write_bytes(tmp_path / "n.bin", b"x")
    finally:
        os.umask(old)
    assert mode_of(dst) == 0o644  # mkstemp's 0600 is not what a user expects


@pytest.mark.parametrize("overwrite", [False, True])
def test_directory_as_destination(tmp_path, overwrite):
    d = tmp_path / "adir"
    d.mkdir()
    (d / "inside.txt").write_text("x")
    with pytest.raises(InstyleError) as ei:
        write_bytes(d, b"data", overwrite=overwrite)
    assert "directory" in str(ei.value) and "adir" in str(ei.value)
    assert d.is_dir() and listing(d) == ["inside.txt"]
    assert listing(tmp_path) == ["adir"]


def test_parent_is_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InstyleError) as ei:
        write_bytes(tmp_path / "afile" / "child.bin", b"data")
    assert "afile" in str(ei.value) and "\n" not in str(ei.value)
    assert (tmp_path / "afile").read_text() == "x"


def test_destination_created_during_write_is_not_clobbered(tmp_path):
    """No check-then-replace race: a file that appears meanwhile is refused, not overwritten."""
    dst = tmp_path / "race.bin"

    def writer(f):
        f.write(b"mine")
        dst.write_bytes(b"theirs")  # someone else creates the destination meanwhile

    with pytest.raises(InstyleError, match="already exists"):
        write_with(dst, writer)
    assert dst.read_bytes() == b"theirs"
    assert listing(tmp_path) == ["race.bin"]


def test_file_system_without_hard_links(tmp_path, monkeypatch):
    def no_link(src, dst, *a, **k):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "link", no_link)
    dst = tmp_path / "nolink.bin"
    write_bytes(dst, b"ok")
    assert dst.read_bytes() == b"ok"
    assert listing(tmp_path) == ["nolink.bin"]
    with pytest.raises(InstyleError, match="already exists"):
        write_bytes(dst, b"again")
    assert dst.read_bytes() == b"ok"
    assert listing(tmp_path) == ["nolink.bin"]


def test_temporaries_of_processes_gone_are_swept_on_the_next_write(tmp_path):
    import subprocess
    import sys

    from instyle import atomic

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    left = [
        tmp_path / f".o.png.{dead}.abcd_123.tmp",  # SIGKILLed while writing o.png
        tmp_path / f".v.mp4.{dead}.k2j4h5g6.mp4",  # ... while encoding v.mp4
    ]
    left_dir = tmp_path / f".frames.{dead}.zzzzzzzz.d"
    kept = [
        tmp_path / f".o.png.{os.getppid()}.abcdefgh.tmp",  # a live process's
        tmp_path / ".o.png.abcdefgh.tmp",  # not ours (no process id)
        tmp_path / "notes.txt",
    ]
    for p in left + kept:
        p.write_bytes(b"x")
    left_dir.mkdir()
    (left_dir / "frame_000001.png").write_bytes(b"x")
    atomic.write_bytes(tmp_path / "new.bin", b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([p.name for p in kept] + ["new.bin"])
