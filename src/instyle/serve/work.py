"""The server's work: a bounded admission of requests feeding a pool of inference threads.

Why threads: torch and onnxruntime release the GIL while they compute, so N threads keep N cores
busy with one copy of each model in memory (processes would hold one copy each).

* :meth:`WorkPool.admit` lets a request in if fewer than ``workers + queue`` are in; otherwise
  :class:`Busy` (HTTP 429, before a byte of the upload is read).
* :meth:`WorkPool.run` runs a job on a worker thread and waits for it until the request's deadline;
  past it the job is cancelled if it has not started and :class:`TimedOut` (HTTP 503) is raised.
  A job that did start keeps its admission slot until it ends, so a slow model can never let more
  work in than the bound.
* Jobs have classes: live frames (a person is watching), requests, gallery thumbnails. Live
  frames and requests take turns when both wait (a request never waits behind more than one live
  frame per worker, however many cameras stream); thumbnails run when neither waits. Live frames
  and thumbnails are not admitted one by one: each live connection has at most one frame in flight
  and their number is bounded (:class:`~instyle.serve.ServeConfig`).
* A request whose client went away (:meth:`Ticket.cancel`) has its job dropped if it has not
  started: superseded slider requests and closed tabs do not keep the cores busy.

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
import collections
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

#: Job priorities (lower runs first).
LIVE, REQUEST, BACKGROUND = 0, 1, 2


class Busy(Exception):
    """Every slot is taken: the request is refused (HTTP 429)."""


class TimedOut(Exception):
    """The request's time ran out (HTTP 503)."""


class Gone(Exception):
    """The request's client went away before its job started: nobody waits for an answer."""


class Ticket:
    """One admitted request: its slot and deadline. The slot is given back when the request is
    answered and its job (if one started) has ended, whichever is later."""

    def __init__(self, pool: WorkPool, deadline: float, client: str = ""):
        self.pool, self.deadline, self.client = pool, deadline, client
        self._holds = 1  # the request itself
        self._lock = threading.Lock()
        self.cancelled = False
        self.future: Future | None = None

    def remaining(self) -> float:
        """Seconds until the deadline (<= 0: past it)."""
        return self.deadline - time.monotonic()

    def cancel(self) -> None:
        """The client went away: drop the job if it has not started (or is not yet submitted)."""
        self.cancelled = True
        if self.future is not None and self.future.cancel():
            with self.pool._lock:
                self.pool.counts["cancelled"] += 1

    def hold(self) -> None:
        with self._lock:
            self._holds += 1

    def release(self) -> None:
        with self._lock:
            self._holds -= 1
            done = self._holds == 0
        if done:
            self.pool._leave(self.client)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class WorkPool:
    """``workers`` threads taking jobs by class; at most ``workers + queue`` requests admitted, at
    most ``per_client`` of them from one client.

    Args:
        workers: threads (one per core is right for CPU inference).
        queue: requests admitted beyond the running ones.
        timeout: seconds a request may take from admission to answer.
        initializer: run once in each worker thread before its first job (e.g. thread settings).
        per_client: requests one client (address) may have admitted at once (0: no cap).
        on_idle: called (on a worker thread) once the pool has had no work for ``idle_after``
            seconds since its last job: the server returns freed memory to the system then.
    """

    idle_after = 2.0

    def __init__(
        self,
        workers: int,
        queue: int,
        timeout: float,
        initializer: Callable[[], None] | None = None,
        per_client: int = 0,
        on_idle: Callable[[], Any] | None = None,
    ):
        if workers < 1 or queue < 0 or not timeout > 0 or per_client < 0:
            raise ValueError(
                f"need workers >= 1, queue >= 0, timeout > 0, per_client >= 0; got {workers}, {queue}, {timeout}, "
                f"{per_client}"
            )
        self.workers, self.queue_size, self.timeout, self.per_client = workers, queue, timeout, per_client
        self.slots = workers + queue
        self._admitted = 0
        self._by_client: dict[str, int] = collections.Counter()
        self._running = 0
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        # one queue per class (LIVE, REQUEST, BACKGROUND) of (future, fn, args)
        classes = (LIVE, REQUEST, BACKGROUND)
        self._jobs: tuple[collections.deque[tuple], ...] = tuple(collections.deque() for _ in classes)
        self._last = REQUEST  # the class taken last, for the turns of LIVE and REQUEST
        self._on_idle, self._dirty = on_idle, False  # dirty: work done since on_idle last ran
        self._closed = False
        self.counts: dict[str, int] = {
            "admitted": 0,
            "refused": 0,
            "timed_out": 0,
            "cancelled": 0,
            "done": 0,
            "failed": 0,
        }
        self._threads: list[threading.Thread] = []
        for i in range(workers):
            t = threading.Thread(target=self._work, args=(initializer,), name=f"instyle-serve-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    # -- admission

    def admit(self, client: str = "", deadline: float | None = None) -> Ticket:
        """A :class:`Ticket` for a new request from ``client``, or :class:`Busy` when all slots, or
        the client's share of them, are taken. ``deadline``: its time.monotonic() deadline (default
        ``timeout`` from now)."""
        with self._lock:
            if self._closed or self._admitted >= self.slots:
                self.counts["refused"] += 1
                raise Busy(f"the server is busy ({self._admitted} requests in progress); try again shortly")
            if self.per_client and client and self._by_client[client] >= self.per_client:
                self.counts["refused"] += 1
                raise Busy(f"{self.per_client} requests of yours are in progress; wait for one to finish")
            self._admitted += 1
            if client:
                self._by_client[client] += 1
            self.counts["admitted"] += 1
        return Ticket(self, deadline if deadline is not None else time.monotonic() + self.timeout, client)

    def _leave(self, client: str = "") -> None:
        with self._lock:
            self._admitted -= 1
            if client:
                self._by_client[client] -= 1
                if not self._by_client[client]:
                    del self._by_client[client]

    def running(self) -> int:
        """Jobs running now."""
        with self._lock:
            return self._running

    def status(self) -> dict[str, Any]:
        """Counts for ``/api/health``: requests in progress (admitted, not yet answered), jobs running
        and waiting, and totals since start (admitted, refused, timed out, done, failed)."""
        with self._lock:
            return {
                "workers": self.workers,
                "slots": self.slots,
                "in_progress": self._admitted,
                "running": self._running,
                "waiting": sum(not job[0].cancelled() for jobs in self._jobs for job in jobs),
                **self.counts,
            }

    # -- running

    def submit(self, fn: Callable[..., Any], *args: Any, priority: int = REQUEST) -> Future:
        """Run ``fn(*args)`` on a worker; a :class:`concurrent.futures.Future` of its result."""
        future: Future = Future()
        with self._ready:
            if self._closed:
                future.set_exception(RuntimeError("the server is shutting down"))
                return future
            self._jobs[priority].append((future, fn, args))
            self._ready.notify()
        return future

    async def run(self, ticket: Ticket, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on a worker for an admitted request; :class:`TimedOut` at its deadline,
        :class:`Gone` if its client left before the job started."""
        if ticket.cancelled:
            raise Gone("the client went away")
        ticket.hold()
        future = self.submit(fn, *args)
        future.add_done_callback(lambda _: ticket.release())
        ticket.future = future
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), max(0.0, ticket.remaining()))
        except asyncio.TimeoutError:
            future.cancel()  # dropped if it has not started; a running job keeps its slot until done
            with self._lock:
                self.counts["timed_out"] += 1
            raise TimedOut(f"the request took longer than {self.timeout:g} s") from None
        except asyncio.CancelledError:
            if future.cancelled() and ticket.cancelled:
                raise Gone("the client went away") from None
            raise

    async def run_now(self, fn: Callable[..., Any], *args: Any, priority: int = LIVE) -> Any:
        """``fn(*args)`` on a worker without admission (live frames, thumbnails)."""
        return await asyncio.wrap_future(self.submit(fn, *args, priority=priority))

    def _next(self) -> tuple | None:
        """The next job (None: closed and nothing left), waiting for one. Live frames and requests
        take turns; thumbnails go when neither waits. Called with the lock held."""
        while True:
            live, request, background = self._jobs
            cls: int | None
            if live and request:
                cls = REQUEST if self._last == LIVE else LIVE
            else:
                cls = LIVE if live else REQUEST if request else BACKGROUND if background else None
            if cls is not None:
                self._last = cls if cls != BACKGROUND else self._last
                return self._jobs[cls].popleft()
            if self._closed:
                return None
            if not self._ready.wait(self.idle_after) and self._dirty and self._running == 0 and self._on_idle:
                self._dirty = False
                return (None, self._on_idle, ())

    def _work(self, initializer: Callable[[], None] | None) -> None:
        if initializer is not None:
            initializer()
        while True:
            with self._ready:
                job = self._next()
            if job is None:  # closed
                return
            future, fn, args = job
            if future is None:  # the idle hook
                try:
                    fn()
                except Exception:
                    pass
                continue
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while waiting (its request timed out)
            with self._lock:
                self._running += 1
            try:
                result = fn(*args)
            except BaseException as exc:
                future.set_exception(exc)
                ok = False
            else:
                future.set_result(result)
                ok = True
            with self._lock:
                self._running -= 1
                self._dirty = True
                self.counts["done" if ok else "failed"] += 1

    def close(self, wait: bool = True) -> None:
        """Stop taking work; the threads end after the jobs already queued."""
        with self._ready:
            if self._closed:
                return
            self._closed = True
            self._ready.notify_all()
        if wait:
            for t in self._threads:
                t.join(timeout=60)
