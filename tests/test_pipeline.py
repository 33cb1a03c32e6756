"""Tests for instyle.pipeline: outcomes in order whatever the workers, reading errors in their place,
compute really running side by side, errors stopping the run, and the onnxruntime split of cores."""

from __future__ import annotations

import random
import threading
import time

import pytest

from instyle import pipeline
from instyle.errors import InstyleError
from instyle.pipeline import cpu_workers, pipelined


def _run(items, workers, *, bad=(), delay=0.0):
    """(outcomes, most compute calls seen running at once)."""
    lock, running, most = threading.Lock(), [0], [0]
    rng = random.Random(0)

    def read(i):
        if i in bad:
            raise InstyleError(f"cannot read {i}")
        return i

    def compute(x):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(delay * rng.random())
        with lock:
            running[0] -= 1
        return x * 10

    outcomes = list(pipelined(items, read, compute, lambda i, data, out: (i, data, out), workers=workers))
    return outcomes, most[0]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_outcomes_in_order_with_errors_in_their_place(workers):
    outcomes, _ = _run(range(12), workers, bad={0, 5, 6, 11}, delay=0.01)
    assert [o.item for o in outcomes] == list(range(12))
    for o in outcomes:
        if o.item in {0, 5, 6, 11}:
            assert o.value is None and str(o.error) == f"cannot read {o.item}"
        else:
            assert o.error is None and o.value == (o.item, o.item, o.item * 10) and o.seconds > 0


def test_workers_run_side_by_side_and_one_runs_alone():
    assert _run(range(8), 1, delay=0.02)[1] == 1
    assert _run(range(8), 3, delay=0.05)[1] >= 2
    assert _run([], 2)[0] == [] and [o.item for o in _run([7], 2)[0]] == [7]


def test_a_compute_error_stops_the_run():
    def compute(x):
        if x == 3:
            raise RuntimeError("boom")
        return x

    seen = []
    with pytest.raises(RuntimeError, match="boom"):
        for o in pipelined(range(10), lambda i: i, compute, lambda i, d, o: o, workers=2):
            seen.append(o.item)
    assert seen == [0, 1, 2][: len(seen)] and len(seen) <= 3


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_worker_counts(bad):
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        list(pipelined([1], lambda i: i, lambda x: x, lambda i, d, o: o, workers=bad))


@pytest.mark.parametrize(
    "cores, images, expect", [(1, 10, (1, None)), (2, 1, (1, None)), (2, 16, (2, 1)), (16, 3, (2, 8)), (3, 2, (2, 1))]
)
def test_cpu_workers(monkeypatch, cores, images, expect):
    monkeypatch.setattr(pipeline, "cores", lambda: cores)
    assert cpu_workers(images) == expect
