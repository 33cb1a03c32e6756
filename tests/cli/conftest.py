"""Fixtures of the command-line tests that start something shared."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance (2 CPUs, quiet) for the ``--ray`` tests of one module."""
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()
