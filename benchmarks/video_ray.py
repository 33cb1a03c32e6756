#!/usr/bin/env python
"""A long video split over Ray workers: ``instyle video`` as one process against ``instyle video
--ray --workers 2``, each a whole process as a user runs it (Ray's start included), on the same
clip; the split output checked for its frame count, its frame times and its audio against the
single run's.

The clip is made here (nothing committed): :func:`benchmarks.video_long.make_long_clip`'s slow pan
over a photo at ``--height`` px, 24 fps, with a 440 Hz AAC tone, H.264 (no scene cuts: the split
falls on a keyframe, with a warm-up). ``--rounds`` repeats the pair in alternating order.

Target (issue 35, this 2-core machine): 2 workers finish at least 1.6x faster than one process,
frame-exact and with its audio.

    python benchmarks/video_ray.py                       # 20 s of 1080p
    python benchmarks/video_ray.py --seconds 30 --height 720 --rounds 2
    python benchmarks/video_ray.py --smoke
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import runner, video, video_long

NAME = "video_ray"
SMOKE = {"seconds": 2.0, "height": 90, "rounds": 1}
TARGET = 1.6


def tracks(path: Path) -> dict[str, Any]:
    """Frame times (s) and the audio track's packets (pts, bytes) of a file, to compare two outputs."""
    import av

    from instyle.video.io import frame_times

    with av.open(str(path)) as c:
        audio = [(p.pts, bytes(p)) for p in c.demux(c.streams.audio[0]) if p.size] if c.streams.audio else []
    return {"times": frame_times(path), "audio": audio}


def whole_run(cmd: list[str], out: Path, threads: int | None) -> dict[str, Any]:
    out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = runner.run_process(cmd, runner.worker_env(threads))
    seconds = time.perf_counter() - t0
    row: dict[str, Any] = {"seconds": seconds, "returncode": proc.get("returncode")}
    lines = proc.get("lines") or []
    try:
        row["result"] = json.loads("\n".join(lines[lines.index("{") :])) if "{" in lines else None
    except ValueError:
        row["result"] = None
    if proc.get("returncode"):
        row["last_line"] = lines[-1] if lines else ""
    return row


def main(argv=None) -> int:
    p = runner.parser(NAME, __doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0, help="clip length (default 20)")
    p.add_argument("--height", type=int, default=1080, help="clip height, 16:9 (default 1080)")
    p.add_argument("--workers", type=int, default=2, help="Ray workers (default 2)")
    p.add_argument("--rounds", type=int, default=1, help="rounds of the two runs, in alternating order")
    runner.add_run_args(p, smoke=SMOKE, threads="OMP/MKL threads of the instyle processes (default: their own)")
    args = runner.parse_args(p, argv, NAME, SMOKE, positive=("height", "workers", "rounds"))
    report = runner.new_report(
        NAME,
        "Does a long video split over Ray workers finish faster than one process, with the same frames, "
        "frame times and audio?",
        settings={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "json"},
    )
    work = Path(tempfile.mkdtemp(prefix="instyle-bench-video-ray-"))
    try:
        clip = work / "clip.mp4"
        t = time.perf_counter()
        frames = video_long.make_long_clip(clip, args.seconds / 60, args.height, work)
        report["clip_made_s"] = time.perf_counter() - t
        outs = {"one process": work / "one.mp4", f"ray, {args.workers} workers": work / "ray.mp4"}
        cmds = {
            name: video.instyle_video_cmd(clip, out, "--json", "--max-size", "1920")
            + (["--ray", "--workers", str(args.workers)] if name.startswith("ray") else [])
            for name, out in outs.items()
        }
        results: dict[str, list[dict[str, Any]]] = {k: [] for k in cmds}
        found: dict[str, dict[str, Any]] = {}
        for r in range(args.rounds):
            for name in list(cmds) if r % 2 == 0 else list(reversed(cmds)):
                results[name].append(whole_run(cmds[name], outs[name], args.threads))
                if outs[name].is_file():
                    found[name] = tracks(outs[name])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    one, split = list(cmds)
    rows = []
    for name, res in results.items():
        sec = runner.median(x["seconds"] for x in res)
        last = res[-1].get("result") or {}
        rows.append(
            {
                "run": name,
                "seconds": sec,
                "frames": last.get("frames"),
                "fps": frames / sec if sec else None,
                "audio": last.get("audio"),
                "parts": ", ".join(
                    f"{p['frames']}@{p['first']} ({p['at']}, warm-up {p['warm_up']})" for p in last["parts"]
                )
                if "parts" in last
                else "",
                "phases s": ", ".join(f"{k} {v}" for k, v in last["phases_s"].items()) if "phases_s" in last else "",
            }
        )
    by = {r["run"]: r for r in rows}
    same_times = one in found and split in found and found[one]["times"] == found[split]["times"]
    same_audio = one in found and split in found and found[one]["audio"] == found[split]["audio"]
    speedup = by[one]["seconds"] / by[split]["seconds"] if by[one]["seconds"] and by[split]["seconds"] else None
    report["rows"] = rows
    report["runs"] = results
    report["clip"] = {"frames": frames, "seconds": args.seconds, "height": args.height, "fps": video_long.FPS}
    report["targets"] = {
        "speedup": speedup,
        "speedup_met": (speedup or 0) >= TARGET,
        "frames_equal": by[one]["frames"] == by[split]["frames"] == frames,
        "frame_times_equal": same_times,
        "audio_packets_equal": same_audio,
    }
    print(runner.format_table(rows, ["run", "seconds", "fps", "frames", "audio", "parts", "phases s"]))
    verdict = {True: "met", False: "not met"}
    tg = report["targets"]
    print(
        f"{split} vs one process: {speedup or 0:.2f}x (target >= {TARGET}: {verdict[tg['speedup_met']]}); "
        f"frames equal: {tg['frames_equal']}, frame times equal: {same_times}, audio packets equal: {same_audio}"
    )
    ok = all(x["returncode"] == 0 for res in results.values() for x in res) and tg["frames_equal"]
    if not ok:
        failed = next((x for res in results.values() for x in res if x["returncode"]), None)
        report["notes"].append(f"a run failed: {(failed or {}).get('last_line', 'frame counts differ')}")
    runner.finish_report(report, args.json, complete=ok)
    runner.print_notes(report["notes"], args.json)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
