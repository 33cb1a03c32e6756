"""Fixtures shared across the test suite."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Single-threaded torch for a module: on a small shared machine, intra-op threads that wait
    on busy cores make small VGG passes many times slower. Restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
