"""Running and reporting a benchmark: worker processes and their timing, memory, the report (JSON)
and its tables, and the command-line options every script in ``benchmarks/`` shares.

A script measures in fresh *worker* processes (the script itself, run with ``--_worker SPEC``),
so that one measurement's memory and warm caches do not leak into the next: :func:`run_worker`
starts one and reads the JSON it writes (:func:`write_worker_result`); :func:`timed_calls` is the
worker's side of a per-call timing. Nothing here imports torch at module level, so a parent
process that only starts workers stays light.

Shared options (:func:`add_run_args`, read by :func:`parse_args`): ``--threads``, ``--json PATH``
(default ``benchmarks/results/<name>.json``) and ``--smoke`` (seconds: the script's ``SMOKE``
settings, no peer, generated images where ``../shared/images`` is missing, the report in a
temporary folder unless ``--json`` says otherwise; what ``tests/test_benchmarks.py`` runs);
:func:`add_timing_args` adds the sizes, variants and repeats of a per-call timing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

# instyle's precision / memory-layout variants: name -> (precision, channels_last)
VARIANTS: dict[str, tuple[str, bool]] = {"fp32": ("fp32", False), "fp32_cl": ("fp32", True), "bf16_cl": ("bf16", True)}
WARM_MARKER = "@@warm"  # a worker prints this line when its warm-up call is done


# --------------------------------------------------------------------------- statistics


def diffs(cumulative: Sequence[float]) -> list[float]:
    """Successive differences of cumulative times: [t1 - t0, t2 - t1, ...]."""
    return [b - a for a, b in itertools.pairwise(cumulative)]


def _finite(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def median(values: Iterable[float | None]) -> float | None:
    """Median of the finite values (None and NaN left out); None if there are none."""
    vals = _finite(values)
    return statistics.median(vals) if vals else None


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the finite values (None and NaN left out); None if there are none."""
    vals = _finite(values)
    return sum(vals) / len(vals) if vals else None


# --------------------------------------------------------------------------- memory


def rusage_peak_mb(ru: resource.struct_rusage) -> float:
    """Peak RSS (MiB) from a ``struct_rusage`` (Linux reports KiB, macOS bytes)."""
    return ru.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else ru.ru_maxrss / 1024


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size (MiB) of this process (or of its largest waited-for child)."""
    return rusage_peak_mb(resource.getrusage(who))


def current_rss_mb(pid: int | str = "self") -> float | None:
    """Resident set size (MiB) of process ``pid`` (default: this one) now (Linux ``/proc``; None
    elsewhere or once it has ended)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------- processes


def worker_env(threads: int | None) -> dict[str, str]:
    """Environment of a child process: unbuffered output, ``threads`` OpenMP/MKL threads, and Python
    caching its bytecode as it does by default (a session's ``PYTHONDONTWRITEBYTECODE`` would make
    every run of a source checkout recompile what ``pip install`` precompiles for the peer)."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


# A tiny launcher between this process and the measured one. Linux keeps a process's peak RSS across
# fork and exec, so a command forked straight from a benchmark that has imported torch would
# report the benchmark's own memory as its peak; forked from this launcher (Python without site,
# a few MiB), it reports its own. The launcher passes the command's output through and adds one
# last line with the peak RSS (KiB) and the exit status that ``os.wait4`` gave it.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
sys.stdout.flush()
print("@@launcher", ru.ru_maxrss, os.waitstatus_to_exitcode(status), flush=True)
sys.exit(0)
"""
_LAUNCHER_MARK = "@@launcher"


def run_process(cmd: Sequence[str], env: Mapping[str, str], markers: Sequence[str] = ()) -> dict[str, Any]:
    """Run ``cmd`` (stdout and stderr merged, read line by line as they arrive).

    Returns ``returncode``, ``wall_s``, ``peak_rss_mb`` of that command alone (through a small
    launcher process: see ``_LAUNCHER``), ``lines`` with their arrival ``times`` (seconds since the
    start), and ``marks``: when each of ``markers`` first arrived as a whole line (marker lines are
    not kept in ``lines``).
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-S", "-c", _LAUNCHER, *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
        env=dict(env),
    )
    lines: list[str] = []
    times: list[float] = []
    marks: dict[str, float] = {}
    launched: list[str] | None = None  # the launcher's last line
    assert proc.stdout is not None
    with proc.stdout:
        for line in proc.stdout:
            now = time.perf_counter() - t0
            line = line.rstrip("\n")
            if line.strip() in markers:
                marks.setdefault(line.strip(), now)
                continue
            if line.startswith(_LAUNCHER_MARK + " "):
                launched = line.split()
                continue
            lines.append(line)
            times.append(now)
    proc.wait()
    wall = time.perf_counter() - t0
    if launched is None:  # the launcher itself failed
        return {
            "returncode": proc.returncode or 1,
            "wall_s": wall,
            "peak_rss_mb": None,
            "lines": lines,
            "times": times,
            "marks": marks,
        }
    kib, code = int(launched[1]), int(launched[2])
    return {
        "returncode": code,
        "wall_s": wall,
        "peak_rss_mb": kib / (1024 * 1024) if sys.platform == "darwin" else kib / 1024,
        "lines": lines,
        "times": times,
        "marks": marks,
    }


def tail(lines: Sequence[str], n: int = 12) -> str:
    return "\n".join(lines[-n:])


def run_worker(
    script: os.PathLike | str,
    spec: dict[str, Any],
    threads: int | None,
    *,
    marker: str | None = WARM_MARKER,
    marker_key: str = "cold_s",
) -> dict[str, Any]:
    """Run ``python script --_worker SPEC_JSON`` in a fresh process and return the JSON it wrote to
    ``spec['result']`` (or ``{"error": ...}`` with the end of its output), plus: ``marker_key``
    (process start -> the ``marker`` line), ``process_s`` (the whole process), ``peak_rss_mb_wait4``
    (its peak RSS as ``os.wait4`` saw it) and ``worker_output_tail`` (what else it printed)."""
    cmd = [sys.executable, str(Path(script).resolve()), "--_worker", json.dumps(spec)]
    proc = run_process(cmd, worker_env(threads), markers=[marker] if marker else [])
    result_file = Path(spec["result"])
    if proc["returncode"] != 0 or not result_file.is_file():
        return {"error": f"worker exited with {proc['returncode']}:\n{tail(proc['lines'])}"}
    res = json.loads(result_file.read_text(encoding="utf-8"))
    if marker:
        res[marker_key] = proc["marks"].get(marker)
    res["process_s"] = proc["wall_s"]
    res["peak_rss_mb_wait4"] = proc["peak_rss_mb"]
    if proc["lines"]:
        res["worker_output_tail"] = tail(proc["lines"])
    return res


def write_worker_result(spec: Mapping[str, Any], result: Any) -> None:
    """A worker's last act: its result, as JSON, where :func:`run_worker` reads it."""
    Path(spec["result"]).write_text(to_json(result), encoding="utf-8")


def timed_calls(
    call: Callable[[], Any], repeats: int, save: str | None = None, after_warmup: Callable[[], None] | None = None
) -> tuple[Any, float, list[float], float]:
    """A worker's measurement: one warm-up ``call()`` (then :data:`WARM_MARKER` on stdout and
    ``after_warmup()``), ``repeats`` timed calls; the last output (a tensor) saved with torch.save
    if ``save``. Returns (output, warm-up s, call times s, peak RSS MiB)."""
    t = time.perf_counter()
    out = call()
    warmup_s = time.perf_counter() - t
    print(WARM_MARKER, flush=True)
    if after_warmup is not None:
        after_warmup()
    times = []
    for _ in range(int(repeats)):
        t = time.perf_counter()
        out = call()
        times.append(time.perf_counter() - t)
    peak = peak_rss_mb()
    if save:
        import torch

        torch.save(out.detach().cpu().contiguous(), save)
    return out, warmup_s, times, peak


def run_job(
    tag: str, what: str, job: Callable[[], dict[str, Any]], summary: Callable[[dict[str, Any]], str]
) -> dict[str, Any]:
    """One measurement of a series: announce ``[tag] what ...`` on stderr, run ``job()`` (an
    exception becomes the result's ``error``, so the series goes on and the report says what
    failed), then say how long it took and ``summary(result)`` (or the error's first line)."""
    print(f"[{tag}] {what} ...", file=sys.stderr, flush=True)
    t = time.perf_counter()
    try:
        res = job()
    except Exception as exc:
        res = {"error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"}
    msg = res["error"].splitlines()[0] if "error" in res else summary(res)
    print(f"        done in {time.perf_counter() - t:.1f} s: {msg}", file=sys.stderr, flush=True)
    return res


# --------------------------------------------------------------------------- output comparison


def compare_outputs(saved: Mapping[str, str], reference: str = "fp32") -> list[dict[str, Any]]:
    """max/mean |diff| and PSNR (peak 1.0) of each saved output (``variant -> torch.save`` file
    of a tensor in [0, 1]) vs the ``reference`` variant's."""
    if reference not in saved:
        return []
    import torch

    ref = torch.load(saved[reference]).double()
    rows = []
    for variant, path in saved.items():
        if variant == reference:
            continue
        x = torch.load(path).double()
        if x.shape != ref.shape:
            rows.append({"variant": variant, "error": f"shape {tuple(x.shape)} vs {tuple(ref.shape)}"})
            continue
        d = (x - ref).abs()
        mse = float((d**2).mean())
        rows.append(
            {
                "variant": variant,
                "vs": reference,
                "max_abs_diff": float(d.max()),
                "mean_abs_diff": float(d.mean()),
                "max_abs_diff_8bit_levels": float(d.max()) * 255,
                "psnr_db": 10 * math.log10(1.0 / mse) if mse > 0 else float("inf"),
            }
        )
    return rows


COMPARISON_COLUMNS = [
    ("variant", "variant"),
    ("max_abs_diff", "max |diff|", ".4f"),
    ("max_abs_diff_8bit_levels", "max |diff| (8-bit levels)", ".1f"),
    ("mean_abs_diff", "mean |diff|", ".5f"),
    ("psnr_db", "PSNR dB", ".1f"),
]


# --------------------------------------------------------------------------- the report


def package_version(name: str) -> str | None:
    """Installed distribution version (metadata only, the package is not imported)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def command_line(argv: Sequence[str] | None = None) -> str:
    """The exact command line, shell-quoted (interpreter included)."""
    return shlex.join([sys.executable] + list(sys.argv if argv is None else argv))


def busy_warning(machine: Mapping[str, Any], factor: float = 0.5) -> str | None:
    """A one-line warning when the 1-minute load average says the machine is busy."""
    load, cpus = machine.get("load_average_1_5_15"), machine.get("logical_cpus") or 1
    if load and load[0] > factor * cpus:
        return (
            f"machine looks busy (1-min load average {load[0]} on {cpus} logical CPUs): timings are not representative"
        )
    return None


def new_report(benchmark: str, question: str, **fields: Any) -> dict[str, Any]:
    """The report's common head: benchmark, question, command line, machine
    (:func:`instyle.device.describe_machine`), instyle's version and ``notes`` (first: a warning
    when the machine is busy), then ``fields``; ``complete`` stays False until
    :func:`finish_report`."""
    from instyle.device import describe_machine

    machine = describe_machine()
    warning = busy_warning(machine)
    return {
        "benchmark": benchmark,
        "question": question,
        "command": command_line(),
        "argv": sys.argv,
        "machine": machine,
        "versions": {"instyle": package_version("instyle")},
        "notes": [warning] if warning else [],
        "complete": False,
        **fields,
    }


def finish_report(report: dict[str, Any], path: os.PathLike | str, complete: bool = True) -> None:
    """Record the load average at the end and whether the run completed; write the report."""
    from instyle.device import load_average

    report["machine"]["load_average_at_end"] = load_average()
    report["complete"] = complete
    write_json(path, report)


def print_notes(notes: Iterable[str], *written: os.PathLike | str) -> None:
    """The end of a script's output: its notes, then the files it wrote."""
    for note in notes:
        print(f"note: {note}")
    for path in written:
        print(f"wrote {path}")


def _cell(v: Any, float_fmt: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return format(v, float_fmt) if math.isfinite(v) else "-"
    return str(v)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Any], *, float_fmt: str = ".4g") -> str:
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
    body: list[list[str]] = []
    numeric = [True] * len(specs)
    for r in rows:
        line = []
        for i, (key, _, fmt) in enumerate(specs):
            v = r.get(key)
            is_number = isinstance(v, (int, float)) and not isinstance(v, bool)
            if callable(fmt):
                s = fmt(v) if v is not None else "-"
            elif is_number and fmt:
                s = format(v, fmt) if math.isfinite(v) else "-"
            else:
                s = _cell(v, float_fmt)
            if v is not None and not is_number:
                numeric[i] = False
            line.append(s)
        body.append(line)
    headers = [h for _, h, _ in specs]
    widths = [max([len(headers[i])] + [len(b[i]) for b in body]) for i in range(len(specs))]

    def render(cells: Sequence[str], align_numbers: bool) -> str:
        out = [
            s.rjust(w) if align_numbers and numeric[i] else s.ljust(w) for i, (s, w) in enumerate(zip(cells, widths))
        ]
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
    from instyle.atomic import write_text

    return write_text(path, to_json(obj), overwrite=True, what="JSON")


# --------------------------------------------------------------------------- command line


def parser(name: str, description: str) -> argparse.ArgumentParser:
    """The argument parser of ``benchmarks/<name>.py`` (defaults shown in ``--help``)."""
    return argparse.ArgumentParser(
        prog=f"python benchmarks/{name}.py",
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )


def parse_size(text: str) -> tuple[int, int]:
    """``"512"`` -> (512, 512); ``"4000x3000"`` (W x H) -> (3000, 4000) as (h, w)."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"size must be S or WxH, got {text!r}")
    w = int(m.group(1))
    h = int(m.group(2)) if m.group(2) else w
    if not (16 <= w <= 20000 and 16 <= h <= 20000):
        raise argparse.ArgumentTypeError(f"sides must be 16..20000 px, got {text!r}")
    return h, w


def size_label(hw: tuple[int, int]) -> str:
    """(h, w) -> ``"WxH"``."""
    return f"{hw[1]}x{hw[0]}"


class Unique(argparse.Action):
    """A list option (``nargs``) that keeps each value once, in the order given."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, list(dict.fromkeys(values)))


PEER_THREADS = (
    "torch/OMP/MKL threads of the instyle workers (default: torch's); also exported to the peer, whose "
    "onnxruntime keeps its own default thread pool"
)


def add_timing_args(
    p: argparse.ArgumentParser, *, sizes: Sequence[tuple[int, int]], repeats: int, repeats_large: int
) -> None:
    """The options of a per-call timing of instyle's :data:`VARIANTS` in worker processes:
    ``--sizes`` (S or WxH), ``--variants``, ``--repeats`` (up to 1024x1024) and ``--repeats-large``."""
    p.add_argument(
        "--sizes",
        type=parse_size,
        nargs="+",
        action=Unique,
        default=list(sizes),
        metavar="S|WxH",
        help=f"content sizes (default {' '.join(size_label(hw) for hw in sizes)})",
    )
    p.add_argument(
        "--variants",
        nargs="+",
        action=Unique,
        choices=list(VARIANTS),
        default=list(VARIANTS),
        metavar="V",
        help=f"subset of {', '.join(VARIANTS)}",
    )
    p.add_argument("--repeats", type=int, default=repeats, help="timed calls per worker up to 1024x1024 (median)")
    p.add_argument("--repeats-large", type=int, default=repeats_large, help="timed calls per worker above 1024x1024")


def _option_text(value: Any) -> str:
    """A smoke setting as it would be typed: lists space-separated, (h, w) sizes as ``WxH``."""
    if isinstance(value, list):
        return " ".join(_option_text(v) for v in value)
    if isinstance(value, tuple) and len(value) == 2:
        return f"{value[1]}x{value[0]}"
    return str(value)


def add_run_args(
    p: argparse.ArgumentParser,
    *,
    smoke: Mapping[str, Any],
    workers: bool = False,
    threads: str = "torch/OMP/MKL threads (default: torch's)",
) -> None:
    """``--threads``, ``--json``, ``--smoke`` (``smoke``: the options it sets, option name -> value)
    and, for a script that measures in worker processes, the hidden ``--_worker SPEC``."""
    p.add_argument("--threads", type=int, default=None, help=threads)
    p.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the report (None: benchmarks/results/NAME.json; with --smoke, a temporary folder)",
    )
    settings = " ".join(f"--{key.replace('_', '-')} {_option_text(v)}" for key, v in smoke.items())
    p.add_argument(
        "--smoke",
        action="store_true",
        help=f"smoke run in seconds: {settings}; no peer; generated or scikit-image images where "
        "../shared/images is missing",
    )
    if workers:
        p.add_argument("--_worker", help=argparse.SUPPRESS)


def parse_args(
    p: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    name: str,
    smoke: Mapping[str, Any],
    positive: Sequence[str] = (),
) -> argparse.Namespace:
    """Parse the command line of ``benchmarks/<name>.py`` (a worker's as it is). With ``--smoke``,
    the ``smoke`` settings replace the options they name. Then ``--threads`` and the options named
    in ``positive`` must be >= 1, and ``--json`` defaults to ``benchmarks/results/<name>.json``, or
    with ``--smoke`` to a new temporary folder."""
    args = p.parse_args(argv)
    if getattr(args, "_worker", None):
        return args
    if args.smoke:
        for key, value in smoke.items():
            setattr(args, key, list(value) if isinstance(value, list) else value)
    for key in ("threads", *positive):
        value = getattr(args, key)
        if value is not None and value < 1:
            p.error(f"--{key.replace('_', '-')} must be >= 1")
    if args.json is None:
        folder = Path(tempfile.mkdtemp(prefix=f"instyle-bench-{name}-")) if args.smoke else RESULTS_DIR
        args.json = folder / f"{name}.json"
    args.json = Path(args.json).resolve()
    return args
