"""Overlapping file I/O with the network: while image k is stylized, image k+1 is decoded and image
k−1 encoded and written, each in a thread of its own (Pillow's codecs, zlib, numpy, torch and
onnxruntime all release the GIL while they work). Memory stays bounded: one image read ahead, one
being written.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterable, Iterator, Optional, TypeVar

from .errors import InstyleError

T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    """What became of one item: the value ``write`` returned, or the reading error (one line)."""

    item: T
    value: Any = None
    error: Optional[InstyleError] = None
    seconds: float = 0.0  # from the start of its reading to the end of its writing


_END = object()  # what the reading thread returns when the items run out


def pipelined(
    items: Iterable[T],
    read: Callable[[T], Any],
    compute: Callable[[Any], Any],
    write: Callable[[T, Any, Any], Any],
) -> Iterator[Outcome[T]]:
    """For each item, in order: ``data = read(item)``, ``out = compute(data)``,
    ``write(item, data, out)``, with the next read (and the drawing of the next item, e.g. decoding
    the next video frame) and the previous write running alongside ``compute``. An
    :class:`InstyleError` from ``read`` becomes the item's outcome (the caller decides whether to go
    on); any error from ``compute`` or ``write``, or from drawing an item, stops the run.
    """
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
    ):
        ahead = (time.perf_counter(), readers.submit(fetch))
        writing: Optional[tuple] = None  # (item, started, future)

        def finish() -> Outcome[T]:
            item, started, fut = writing
            value = fut.result()
            return Outcome(item, value=value, seconds=time.perf_counter() - started)

        while True:
            started, fut = ahead
            item, data, error = fut.result()
            if item is _END:
                break
            ahead = (time.perf_counter(), readers.submit(fetch))
            if error is not None:
                yield Outcome(item, error=error, seconds=time.perf_counter() - started)
                continue
            out = compute(data)
            if writing is not None:
                yield finish()
            writing = (item, started, writers.submit(write, item, data, out))
        if writing is not None:
            yield finish()
