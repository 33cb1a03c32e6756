"""The server's work: a bounded admission of requests feeding a pool of inference threads.

Why threads: torch and onnxruntime release the GIL while they compute, so N threads keep N cores
busy with one copy of each model in memory (processes would hold one copy each).

* :meth:`WorkPool.admit` lets a request in if fewer than ``workers + queue`` are in; otherwise
  :class:`Busy` (HTTP 429, before a byte of the upload is read).
* :meth:`WorkPool.run` runs a job on a worker thread and waits for it until the request's deadline;
  past it the job is cancelled if it has not started and :class:`TimedOut` (HTTP 503) is raised.
  A job that did start keeps its admission slot until it ends, so a slow model can never let more
  work in than the bound.
* Jobs have priorities: live frames first (a person is watching), then requests, then gallery
  thumbnails. Live frames and thumbnails are not admitted one by one: each live connection has at
  most one frame in flight and their number is bounded (:class:`~instyle.serve.ServeConfig`).

Example:
    >>> import asyncio
    >>> pool = WorkPool(workers=2, queue=1, timeout=5.0)
    >>> async def one():
    ...     with pool.admit() as ticket:
    ...         return await pool.run(ticket, sum, [1, 2, 3])
    >>> asyncio.run(one())
    6
    >>> pool.close()
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable, Dict, List, Optional

#: Job priorities (lower runs first).
LIVE, REQUEST, BACKGROUND = 0, 1, 2


class Busy(Exception):
    """Every slot is taken: the request is refused (HTTP 429)."""


class TimedOut(Exception):
    """The request's time ran out (HTTP 503)."""


class Ticket:
    """One admitted request: its slot and deadline. The slot is given back when the request is
    answered and its job (if one started) has ended, whichever is later."""

    def __init__(self, pool: "WorkPool", deadline: float):
        self.pool, self.deadline = pool, deadline
        self._holds = 1  # the request itself
        self._lock = threading.Lock()

    def remaining(self) -> float:
        """Seconds until the deadline (<= 0: past it)."""
        return self.deadline - time.monotonic()

    def hold(self) -> None:
        with self._lock:
            self._holds += 1

    def release(self) -> None:
        with self._lock:
            self._holds -= 1
            done = self._holds == 0
        if done:
            self.pool._leave()

    def __enter__(self) -> "Ticket":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class WorkPool:
    """``workers`` threads taking jobs by priority; at most ``workers + queue`` requests admitted.

    Args:
        workers: threads (one per core is right for CPU inference).
        queue: requests admitted beyond the running ones.
        timeout: seconds a request may take from admission to answer.
        initializer: run once in each worker thread before its first job (e.g. thread settings).
    """

    def __init__(self, workers: int, queue: int, timeout: float, initializer: Optional[Callable[[], None]] = None):
        if workers < 1 or queue < 0 or not timeout > 0:
            raise ValueError(f"need workers >= 1, queue >= 0, timeout > 0; got {workers}, {queue}, {timeout}")
        self.workers, self.queue_size, self.timeout = workers, queue, timeout
        self.slots = workers + queue
        self._admitted = 0
        self._running = 0
        self._lock = threading.Lock()
        self._jobs: "queue.PriorityQueue[tuple]" = _new_queue()
        self._order = itertools.count()
        self._closed = False
        self.counts: Dict[str, int] = {"admitted": 0, "refused": 0, "timed_out": 0, "done": 0, "failed": 0}
        self._threads: List[threading.Thread] = []
        for i in range(workers):
            t = threading.Thread(target=self._work, args=(initializer,), name=f"instyle-serve-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    # -- admission

    def admit(self) -> Ticket:
        """A :class:`Ticket` for a new request, or :class:`Busy` when all slots are taken."""
        with self._lock:
            if self._closed or self._admitted >= self.slots:
                self.counts["refused"] += 1
                raise Busy(f"the server is busy ({self._admitted} requests in progress); try again shortly")
            self._admitted += 1
            self.counts["admitted"] += 1
        return Ticket(self, time.monotonic() + self.timeout)

    def _leave(self) -> None:
        with self._lock:
            self._admitted -= 1

    def running(self) -> int:
        """Jobs running now."""
        with self._lock:
            return self._running

    def status(self) -> Dict[str, Any]:
        """Counts for ``/api/health``: requests in progress (admitted, not yet answered), jobs running
        and waiting, and totals since start (admitted, refused, timed out, done, failed)."""
        with self._lock:
            return {
                "workers": self.workers,
                "slots": self.slots,
                "in_progress": self._admitted,
                "running": self._running,
                "waiting": self._jobs.qsize(),
                **self.counts,
            }

    # -- running

    def submit(self, fn: Callable[..., Any], *args: Any, priority: int = REQUEST) -> Future:
        """Run ``fn(*args)`` on a worker; a :class:`concurrent.futures.Future` of its result."""
        future: Future = Future()
        if self._closed:
            future.set_exception(RuntimeError("the server is shutting down"))
            return future
        self._jobs.put((priority, next(self._order), future, fn, args))
        return future

    async def run(self, ticket: Ticket, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on a worker for an admitted request; :class:`TimedOut` at its deadline."""
        ticket.hold()
        future = self.submit(fn, *args)
        future.add_done_callback(lambda _: ticket.release())
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), max(0.0, ticket.remaining()))
        except asyncio.TimeoutError:
            future.cancel()  # dropped if it has not started; a running job keeps its slot until done
            with self._lock:
                self.counts["timed_out"] += 1
            raise TimedOut(f"the request took longer than {self.timeout:g} s") from None

    async def run_now(self, fn: Callable[..., Any], *args: Any, priority: int = LIVE) -> Any:
        """``fn(*args)`` on a worker without admission (live frames, thumbnails)."""
        return await asyncio.wrap_future(self.submit(fn, *args, priority=priority))

    def _work(self, initializer: Optional[Callable[[], None]]) -> None:
        if initializer is not None:
            initializer()
        while True:
            _, _, future, fn, args = self._jobs.get()
            if future is None:  # close()
                return
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while waiting (its request timed out)
            with self._lock:
                self._running += 1
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
                future.set_exception(exc)
                ok = False
            else:
                future.set_result(result)
                ok = True
            with self._lock:
                self._running -= 1
                self.counts["done" if ok else "failed"] += 1

    def close(self, wait: bool = True) -> None:
        """Stop taking work; the threads end after the jobs already queued."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for _ in self._threads:
            self._jobs.put((BACKGROUND + 1, next(self._order), None, None, ()))
        if wait:
            for t in self._threads:
                t.join(timeout=60)


def _new_queue() -> "queue.PriorityQueue[tuple]":
    return queue.PriorityQueue()
