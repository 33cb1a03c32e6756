"""Tests for instyle.alloc.keep_freed_memory: it applies once on Linux/glibc, can be switched off,
and makes repeated large allocations reuse pages instead of page-faulting them in again."""

from __future__ import annotations

import subprocess
import sys

import pytest

from instyle import alloc

pytestmark = pytest.mark.slow  # subprocesses
glibc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")

PROBE = """
import resource, sys, torch
from instyle.alloc import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "1" else False
torch.set_num_threads(1)
conv = torch.nn.Conv2d(8, 8, 3, padding=1)
def call():  # a forward pass: activation maps of 32 MiB allocated and freed in turn
    with torch.no_grad():
        x = torch.ones(1, 8, 1024, 1024)
        for _ in range(3):
            x = torch.relu(conv(x))
call(); call()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    call()
print(applied, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 5)
"""


def _faults_per_call(apply: bool, env=None) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, "1" if apply else "0"], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    return out[0], int(out[1])


@glibc
def test_kept_memory_is_reused_without_page_faults():
    applied, kept = _faults_per_call(True)
    _, default = _faults_per_call(False)
    assert applied == "True"
    assert default > 10_000  # glibc's default: fresh mmap pages for every map, faulted in on every call
    assert kept < default / 20


@glibc
def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv(alloc.ENV_SWITCH, "0")
    alloc.keep_freed_memory.cache_clear()
    try:
        assert alloc.keep_freed_memory() is False
    finally:
        alloc.keep_freed_memory.cache_clear()
