#!/usr/bin/env python
"""What Ray costs and what it buys: a folder of photos stylized by the local pipeline and by
``--ray`` with 1 and 2 single-threaded actors, each as a whole process (Ray's start included, as a
user runs it), in alternating order.

Targets (issue 35, this 2-core machine): ``--ray`` with 2 actors at most 1.15x the local run's
whole time on 256 photos at 512²; 2 actors at least 1.7x one actor's images per second.

    python benchmarks/scale.py                      # 256 photos at 512², one round
    python benchmarks/scale.py --photos 64 --rounds 2
    python benchmarks/scale.py --smoke
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, runner

NAME = "scale"
SMOKE = {"photos": 4, "size": 64, "rounds": 1}


def make_photos(n: int, size: int, folder: Path) -> Path:
    """``n`` photos of ``size``² px: the held-back photos of ../shared (cropped square, repeated),
    else scikit-image's or generated ones."""
    from PIL import Image

    shared = inputs.SHARED_IMAGES / "content"
    sources = sorted(shared.iterdir())[:32] if shared.is_dir() else inputs.sample_photos(4, folder)
    out = folder / "photos"
    out.mkdir(parents=True)
    for k in range(n):
        im = Image.open(sources[k % len(sources)]).convert("RGB")
        side = min(im.size)
        im = im.crop((0, 0, side, side)).resize((size, size), Image.Resampling.LANCZOS)
        im.save(out / f"photo_{k:04d}.jpg", quality=92)
    return out


def whole_run(cmd: list[str], out: Path) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    proc = runner.run_process(cmd, runner.worker_env(None))
    seconds = time.perf_counter() - t0
    written = sum(1 for p in out.iterdir() if p.suffix == ".jpg") if out.is_dir() else 0
    return {
        "seconds": seconds,
        "written": written,
        "returncode": proc.get("returncode"),
        "last_line": (proc.get("lines") or [""])[-1],  # what a run that failed said
        "driver_peak_mb": proc.get("peak_rss_mb"),
    }


def main(argv=None) -> int:
    p = runner.parser(NAME, __doc__.splitlines()[0])
    p.add_argument("--photos", type=int, default=256)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--style", default="candy", help="a built-in style")
    p.add_argument("--rounds", type=int, default=1, help="rounds of the three runs, in alternating order")
    runner.add_run_args(p, smoke=SMOKE)
    args = runner.parse_args(p, argv, NAME, SMOKE, positive=("photos", "size", "rounds"))
    report = runner.new_report(
        NAME,
        "What does --ray cost over the local pipeline, and do two actors give twice the throughput?",
        settings={
            "photos": args.photos,
            "size": args.size,
            "style": args.style,
            "rounds": args.rounds,
            "smoke": args.smoke,
        },
    )
    work = Path(tempfile.mkdtemp(prefix="instyle-bench-scale-"))
    try:
        photos = make_photos(args.photos, args.size, work)
        base = [sys.executable, "-m", "instyle", "stylize", str(photos), "--style", args.style, "-q"]
        runs = {
            "local": base + ["-o", str(work / "local")],
            "ray, 1 actor": base + ["-o", str(work / "ray1"), "--ray", "--workers", "1"],
            "ray, 2 actors": base + ["-o", str(work / "ray2"), "--ray", "--workers", "2"],
        }
        outs = {"local": work / "local", "ray, 1 actor": work / "ray1", "ray, 2 actors": work / "ray2"}
        results: dict[str, list[dict[str, Any]]] = {k: [] for k in runs}
        for r in range(args.rounds):
            order = list(runs) if r % 2 == 0 else list(reversed(runs))
            for name in order:
                results[name].append(whole_run(runs[name], outs[name]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    local = runner.median(x["seconds"] for x in results["local"])
    for name, res in results.items():
        sec = runner.median(x["seconds"] for x in res)
        rows.append(
            {
                "run": name,
                "seconds": sec,
                "images_per_second": args.photos / sec if sec else None,
                "vs_local": sec / local if local else None,
                "written": min(x["written"] for x in res),
                "driver_peak_mb": runner.median(x["driver_peak_mb"] for x in res),
            }
        )
    by = {r["run"]: r for r in rows}
    report["rows"] = rows
    report["runs"] = results
    report["targets"] = {
        "overhead_2_actors_vs_local": by["ray, 2 actors"]["vs_local"],
        "overhead_met": (by["ray, 2 actors"]["vs_local"] or 99) <= 1.15,
        "speedup_2_vs_1_actor": by["ray, 1 actor"]["seconds"] / by["ray, 2 actors"]["seconds"],
        "speedup_met": by["ray, 1 actor"]["seconds"] / by["ray, 2 actors"]["seconds"] >= 1.7,
    }
    print(runner.format_table(rows, ["run", "seconds", "images_per_second", "vs_local", "written", "driver_peak_mb"]))
    t = report["targets"]
    verdict = {True: "met", False: "not met"}
    print(f"2 actors vs local: {t['overhead_2_actors_vs_local']:.2f}x (target <= 1.15: {verdict[t['overhead_met']]})")
    print(f"2 actors vs 1: {t['speedup_2_vs_1_actor']:.2f}x (target >= 1.7: {verdict[t['speedup_met']]})")
    ok = all(r["written"] == args.photos for r in rows)
    if not ok:
        failed = next(x for res in results.values() for x in res if x["written"] != args.photos)
        report["notes"].append(f"a run did not write every photo: {failed.get('last_line', '')}")
    runner.finish_report(report, args.json, complete=ok)
    runner.print_notes(report["notes"], args.json)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
