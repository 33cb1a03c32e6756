"""Overlapping file I/O with the network: while image k is stylized, image k+1 is decoded and image
k−1 encoded and written, each in a thread of its own (Pillow's codecs, zlib, numpy, torch and
onnxruntime all release the GIL while they work). With ``workers`` > 1, that many images are
stylized at once (onnxruntime on few cores: two single-threaded runs side by side get more done
than one run on two threads). Memory stays bounded: ``workers`` images in the network, one read
ahead, one being written.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .errors import InstyleError

T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    """What became of one item: the value ``write`` returned, or the reading error (one line)."""

    item: T
    value: Any = None
    error: InstyleError | None = None
    seconds: float = 0.0  # from the start of its reading to the end of its writing


_END = object()  # what the reading thread returns when the items run out


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def cpu_workers(images: int) -> tuple[int, int | None]:
    """(images stylized at once, threads of each) for a run of ``images`` on the CPU: one image
    gets every core (None: the runtime's default); several get two runs side by side on half the
    cores each. onnxruntime's ops split poorly over threads at these sizes: at 512² on 2 cores, two
    single-threaded runs of the built-in network at once take less time a photo than one run on
    two threads (docs/benchmarks.md), and a folder's per-image time, whole process, drops with it
    (benchmarks/startup.py's folder case). torch's fast networks gain too on 640x360 video frames,
    less, and more where other threads compete for the cores (video's optical flow and encoder):
    OpenMP's two-thread ops then wait for the slower thread."""
    n = cores()
    if images < 2 or n < 2:
        return 1, None
    return 2, n // 2


def pipelined(
    items: Iterable[T],
    read: Callable[[T], Any],
    compute: Callable[[Any], Any],
    write: Callable[[T, Any, Any], Any],
    *,
    workers: int = 1,
) -> Iterator[Outcome[T]]:
    """For each item, in order: ``data = read(item)``, ``out = compute(data)``,
    ``write(item, data, out)``, with the next read (and the drawing of the next item, e.g. decoding
    the next video frame) and the previous write running alongside ``compute``; ``workers`` > 1
    runs that many ``compute`` calls at once (in threads: ``compute`` must allow it), outcomes
    still in order. An :class:`InstyleError` from ``read`` becomes the item's outcome (the caller
    decides whether to go on); any error from ``compute`` or ``write``, or from drawing an item,
    stops the run.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    source = iter(items)

    def fetch():
        item = next(source, _END)
        if item is _END:
            return _END, None, None
        try:
            return item, read(item), None
        except InstyleError as exc:
            return item, None, exc

    with (
        ThreadPoolExecutor(1, thread_name_prefix="instyle-read") as readers,
        ThreadPoolExecutor(1, thread_name_prefix="instyle-write") as writers,
        ThreadPoolExecutor(workers, thread_name_prefix="instyle-compute") as computers,
    ):
        ahead = (time.perf_counter(), readers.submit(fetch))
        # read items in order: (item, started, data, error, the compute running for it (workers > 1))
        pending: deque = deque()
        writing: tuple | None = None  # (item, started, future)
        drawn_all = False

        def finish() -> Outcome[T]:
            assert writing is not None  # called only with a write in flight
            item, started, fut = writing
            value = fut.result()
            return Outcome(item, value=value, seconds=time.perf_counter() - started)

        while True:
            while not drawn_all and len(pending) < workers:  # keep `workers` items in flight
                started, fut = ahead
                item, data, error = fut.result()
                if item is _END:
                    drawn_all = True
                    break
                ahead = (time.perf_counter(), readers.submit(fetch))
                running: Future | None = None
                if error is None and workers > 1:
                    running = computers.submit(compute, data)
                pending.append((item, started, data, error, running))
            if not pending:
                break
            item, started, data, error, running = pending.popleft()
            if error is not None:
                if writing is not None:  # outcomes in order: the one before it first
                    yield finish()
                    writing = None
                yield Outcome(item, error=error, seconds=time.perf_counter() - started)
                continue
            out = running.result() if running is not None else compute(data)
            if writing is not None:
                yield finish()
            writing = (item, started, writers.submit(write, item, data, out))
        if writing is not None:
            yield finish()
