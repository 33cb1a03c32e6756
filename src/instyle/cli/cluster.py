"""Stylizing a collection on a Ray cluster (``instyle stylize IN -o OUT --ray [ADDRESS]``).

Ray Data does the scheduling (streaming, backpressure, retries; the same code on a laptop and a
cluster): the pending photos become a dataset, ``map_batches`` runs :class:`_Stylize` actors — each
loads the network once, single-threaded — and the driver streams the outcomes back into a manifest.
No scheduler of our own.

Exactly once, resumable: the manifest (``OUT/.instyle-manifest.jsonl``, or ``--manifest``) has one
JSON line per finished photo (input, output, status, seconds, error), appended and flushed as each
arrives. A run skips every photo whose output already exists (written whole or not at all, by the
same atomic rule as a local run), so a re-run after a crash, a killed worker or Ctrl-C does only
what is missing; an actor retried after it died finds the output it had written and does not write
it again. A photo that cannot be read is recorded with its error and skipped; the job goes on.

Inputs and outputs are local folders or any filesystem pyarrow reads (``s3://``, ``gs://``,
``hdfs://``, ``file://``): local outputs are written by :func:`instyle.imageio.save_image`
(temporary file, fsync, rename), remote ones as one object each.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InstyleError, UsageError
from .common import RAY_LOCAL

if TYPE_CHECKING:
    from .methods import Painter

MANIFEST = ".instyle-manifest.jsonl"


def is_uri(path: str) -> bool:
    """Whether ``path`` names a remote (or ``file://``) filesystem rather than a local path."""
    return "://" in path


def _fs(path: str):
    """(pyarrow filesystem, path inside it) for a URI."""
    from pyarrow import fs

    return fs.FileSystem.from_uri(path)


@dataclass
class Job:
    """One photo: where it is read and where its result goes."""

    input: str
    output: str


def list_jobs(source: str, dest: str) -> list[Job]:
    """One :class:`Job` per image under ``source`` (recursive, sorted), output ``dest/<stem><ext>``
    as a local run names them (PNG where the extension cannot be written)."""
    from ..imageio import IMAGE_EXTENSIONS, SAVE_EXTENSIONS, list_images

    if is_uri(source):
        from pyarrow import fs

        filesystem, root = _fs(source)
        infos = filesystem.get_file_info(fs.FileSelector(root, recursive=True, allow_not_found=True))
        scheme = source.split("://", 1)[0]
        files = sorted(
            f"{scheme}://{i.path}"
            for i in infos
            if i.type == fs.FileType.File
            and os.path.splitext(i.path)[1].lower() in IMAGE_EXTENSIONS
            and not any(part.startswith(".") for part in i.path.split("/"))
        )
        if not files and filesystem.get_file_info(root).type != fs.FileType.Directory:
            raise UsageError(f"{source} is not a folder of photos")
    else:
        if not os.path.isdir(source):
            raise UsageError(f"--ray stylizes a folder of photos; {source!r} is not a folder")
        files = [str(p) for p in list_images(source, recursive=True)]
    jobs, seen = [], set()
    for src in files:
        stem, ext = os.path.splitext(src.rsplit("/", 1)[-1])
        ext = ext.lower() if ext.lower() in SAVE_EXTENSIONS else ".png"
        out = f"{dest.rstrip('/')}/{stem}{ext}"
        if out in seen:
            raise UsageError(f"two inputs would both be written to {out}; stylize them separately")
        seen.add(out)
        jobs.append(Job(src, out))
    return jobs


def exists(path: str) -> bool:
    if not is_uri(path):
        return os.path.isfile(path)
    from pyarrow import fs

    filesystem, inner = _fs(path)
    return filesystem.get_file_info(inner).type == fs.FileType.File


# --------------------------------------------------------------------------- the manifest


@dataclass
class Manifest:
    """JSON lines, one per finished photo; the last line about an input is its state."""

    path: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def open(cls, path: str) -> Manifest:
        m = cls(path)
        if is_uri(path):
            raise UsageError("the manifest is written on this machine: give --manifest a local path")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue  # a line cut short by a crash: that photo is simply done again
                    if isinstance(rec, dict) and "input" in rec:
                        m.records[rec["input"]] = rec
        return m

    def append(self, record: dict[str, Any]) -> None:
        """One line, appended and flushed to disk before the next (a crash loses at most this one)."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        line = json.dumps(record, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        self.records[record["input"]] = record


# --------------------------------------------------------------------------- the workers


class _Stylize:
    """A Ray actor: the network loaded once (the same builders as a local run, one thread), then
    one photo per call. Its outcome is a row of the manifest."""

    def __init__(self, args: argparse.Namespace, method: str, backend: str):
        from . import methods

        _one_thread()
        styles, weights = args.parsed_styles
        build = methods.fast if method == "fast" else methods.adain
        self.painter = build(args, backend, styles, weights, threads=1)
        self.args = args

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        out: dict[str, list] = {k: [] for k in ("input", "output", "status", "seconds", "error")}
        for src, dst in zip(batch["input"], batch["output"]):
            t0 = time.perf_counter()
            status, error = stylize_one(self.painter, self.args, str(src), str(dst))
            for k, v in (
                ("input", str(src)),
                ("output", str(dst)),
                ("status", status),
                ("seconds", round(time.perf_counter() - t0, 3)),
                ("error", error),
            ):
                out[k].append(v)
        return out


def _actor_class(args: argparse.Namespace, method: str, backend: str) -> type:
    """:class:`_Stylize` with its settings bound: shipped with the class itself, not as constructor
    arguments in the object store (which a restarted actor could find gone)."""

    class Stylize(_Stylize):
        def __init__(self) -> None:
            super().__init__(args, method, backend)

    return Stylize


def _one_thread() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def stylize_one(painter: Painter, args: argparse.Namespace, src: str, dst: str) -> tuple[str, str]:
    """(status, error) of one photo: ``ok`` (written now), ``kept`` (its output was already there:
    an earlier run, or this photo's earlier try before its worker died), or ``failed`` (unreadable;
    the error in one line). Errors other than a bad photo stop the job."""
    from ..errors import one_line
    from ..imageio import encode_image, read_array, save_image
    from .stylize_cmd import output_size

    if exists(dst):
        return "kept", ""
    try:
        data = read_array(_read_bytes(src) if is_uri(src) else src, **output_size(args))
    except InstyleError as exc:
        return "failed", one_line(exc)
    out = painter.at_stroke(data, args.stroke)
    options = dict(alpha=data.alpha, quality=args.quality, png_compress=args.png_compress, size=data.size)
    if is_uri(dst):
        blob = encode_image(out, os.path.splitext(dst)[1], **options)
        filesystem, inner = _fs(dst)
        parent = inner.rsplit("/", 1)[0]
        if parent:
            filesystem.create_dir(parent, recursive=True)
        with filesystem.open_output_stream(inner) as f:  # an object store writes the object whole
            f.write(blob)
    else:
        save_image(dst, out, overwrite=False, **options)
    return "ok", ""


def _read_bytes(uri: str) -> bytes:
    filesystem, inner = _fs(uri)
    with filesystem.open_input_stream(inner) as f:
        return f.read()


# --------------------------------------------------------------------------- the driver


def connect(address: str, workers: int) -> None:
    """``ray.init`` for ``--ray``: ``local`` starts Ray on this machine with ``workers`` CPUs,
    ``auto`` joins the cluster this machine belongs to, anything else is a cluster's address."""
    import logging

    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'instyle[ray]'") from None
    if ray.is_initialized():
        return
    # Ray's and Ray Data's progress lines and notes are for their own runs; instyle draws its own
    # progress and says what failed (errors that stop the job still come up as exceptions)
    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    kw: dict[str, Any] = dict(
        include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR, configure_logging=False
    )
    try:
        if address == RAY_LOCAL:
            # Ray keeps its sockets under its temporary folder, and a Unix socket's path may not be
            # longer than 107 bytes: a deep TMPDIR (a test's, a sandbox's) gets a short one instead
            temp = tempfile.gettempdir()
            if len(temp) > 40:
                kw["_temp_dir"] = os.path.join("/tmp", f"instyle-ray-{os.getuid()}")
            ray.init(num_cpus=workers, **kw)
        else:
            ray.init(address=address, **kw)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise InstyleError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None


def run(
    jobs: list[Job],
    args: argparse.Namespace,
    method: str,
    backend: str,
    *,
    workers: int,
    manifest: Manifest,
) -> Iterator[dict[str, Any]]:
    """Stylize ``jobs`` on ``workers`` actors of the connected cluster; yields each outcome (also
    appended to ``manifest``) as it arrives. Photos whose output exists are recorded as kept
    without being sent."""
    import ray.data
    from ray.data import ActorPoolStrategy

    pending = []
    for job in jobs:
        if exists(job.output):  # done before (recorded, or written just before a crash): not sent
            rec = {"input": job.input, "output": job.output, "status": "kept", "seconds": 0.0, "error": ""}
            if manifest.records.get(job.input, {}).get("status") not in ("ok", "kept"):
                manifest.append(rec)
            yield rec
        else:
            pending.append({"input": job.input, "output": job.output})
    if not pending:
        return
    workers = min(workers, len(pending))  # Ray Data warns of actors that would have nothing to do
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ds = ray.data.from_items(pending, override_num_blocks=len(pending)).map_batches(
        _actor_class(args, method, backend),
        batch_size=1,
        num_cpus=1,
        # Ray Data's actor pools replace a worker that dies and try its photo again (max_restarts and
        # max_task_retries -1 by default); the photo finds any output its first try wrote
        compute=ActorPoolStrategy(size=workers),
    )
    for row in ds.iter_rows():
        rec = {k: (row[k].item() if hasattr(row[k], "item") else row[k]) for k in row}
        manifest.append(rec)
        yield rec


@contextmanager
def native_logs_to(path: str) -> Iterator[None]:
    """Ray's C++ layers log to file descriptor 2 (notes about object stores and actor restarts, at
    every run); inside this block they go to ``path`` while Python's ``sys.stderr`` (instyle's
    messages, warnings, the progress bar) still reaches the terminal."""
    old = sys.stderr
    try:
        on_fd2 = old.fileno() == 2  # else (a test's capture) it is left as it is
    except (AttributeError, OSError, ValueError):
        on_fd2 = False
    old.flush()
    terminal = os.dup(2)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 2)
    os.close(log)
    if on_fd2:
        encoding = getattr(old, "encoding", None) or "utf-8"
        sys.stderr = open(os.dup(terminal), "w", buffering=1, encoding=encoding, errors="replace")  # noqa: SIM115
    try:
        yield
    finally:
        if on_fd2:
            sys.stderr.flush()
            sys.stderr.close()
            sys.stderr = old
        os.dup2(terminal, 2)
        os.close(terminal)


def manifest_path(dest: str, given: str | None) -> str:
    """The manifest's path: ``--manifest``, else ``OUT/.instyle-manifest.jsonl`` for a local
    output, else a file named after the output in the current folder."""
    if given:
        return given
    if not is_uri(dest):
        return str(Path(dest) / MANIFEST)
    name = dest.split("://", 1)[1].strip("/").replace("/", "_") or "output"
    return f".instyle-manifest-{name}.jsonl"
