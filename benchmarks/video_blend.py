#!/usr/bin/env python
"""What the flow blend's rule trades (warping error against texture detail), and what the output
file's format adds, on the frames ``instyle video`` paints.

Each clip of :mod:`benchmarks.video` (made from ``../shared`` photos, written as H.264 at CRF 12
and decoded, as a user's file is) is painted once by the built-in network for video, on the grid
that follows the scene (``instyle video --stabilize flow``'s network calls), and once frame by frame
without alignment (``--stabilize none``: the baseline). The painted frames are then finished by
:meth:`instyle.video.VideoStylizer.finish` under several blend settings, and measured as they are
(no encoding) with :mod:`benchmarks.video`'s warping error (by the clips' true motion) and texture
detail, relative to the baseline's. The default setting is also measured after writing both it and
the baseline as H.264 at CRF 18 (``instyle video``'s default) in 4:2:0 (with ``instyle video``'s
low-passed colour planes, and with FFmpeg's conversion) and 4:4:4 (``--pix-fmt``), and at CRF 8 in
4:2:0; decoded as a player shows them (colour planes interpolated) and, once, as PyAV's plain
conversion does (each colour sample repeated over its 2x2 pixels).
One process, no peer: this isolates the blend and the file format from the network and the runtime.

Usage (from the repository root)::

    python benchmarks/video_blend.py
    python benchmarks/video_blend.py --smoke
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import runner, video
from instyle.choices import DEFAULT_VIDEO_BLEND, DEFAULT_VIDEO_TOLERANCE
from instyle.video.chroma import CHROMA_SIGMA
from instyle.video.stabilize import BLEND_FALLOFF, STILL_TOLERANCE

#: (blend, tolerance, fall-off, still) settings: none (grid alignment alone), nearly fixed weights
#: (tolerance 1: the range term stays near 1 for the differences seen), an earlier default (a
#: Gaussian fall-off), the default, the default without its wider tolerance where the scene stands
#: still, the default rule with a narrower and a wider tolerance.
SETTINGS = (
    (0.0, DEFAULT_VIDEO_TOLERANCE, BLEND_FALLOFF, STILL_TOLERANCE),
    (0.3, 1.0, 2.0, 1.0),
    (0.5, 1.0, 2.0, 1.0),
    (0.85, 0.1, 2.0, 1.0),
    (DEFAULT_VIDEO_BLEND, DEFAULT_VIDEO_TOLERANCE, BLEND_FALLOFF, STILL_TOLERANCE),
    (DEFAULT_VIDEO_BLEND, DEFAULT_VIDEO_TOLERANCE, BLEND_FALLOFF, 1.0),
    (DEFAULT_VIDEO_BLEND, 0.1, BLEND_FALLOFF, STILL_TOLERANCE),
    (DEFAULT_VIDEO_BLEND, 0.2, BLEND_FALLOFF, STILL_TOLERANCE),
)
#: (label, CRF, pixel format, colour planes' low-pass sigma or None: FFmpeg's conversion, how they
#: are decoded: :data:`benchmarks.video.CHROMA_DECODING`) of the encoded variants; 4:2:0 as
#: ``instyle video`` writes it, and as FFmpeg would.
ENCODINGS = (
    ("H.264 CRF 18 4:2:0", 18, "yuv420p", CHROMA_SIGMA, "interpolated"),
    ("H.264 CRF 18 4:2:0, nearest-chroma decoding", 18, "yuv420p", CHROMA_SIGMA, "nearest"),
    ("H.264 CRF 18 4:2:0, FFmpeg's colour planes", 18, "yuv420p", None, "interpolated"),
    ("H.264 CRF 18 4:4:4", 18, "yuv444p", None, "interpolated"),
    ("H.264 CRF 8 4:2:0", 8, "yuv420p", CHROMA_SIGMA, "interpolated"),
)
SMOKE = {"frames": 8, "width": 96, "clips": ["pan", "cut"]}
SUMMARY = ("warp vs per-frame", "texture vs per-frame")


def parse_args(argv: Sequence[str] | None = None):
    p = runner.parser("video_blend", "The flow blend's trade-off and the output format's share of the warping error.")
    p.add_argument("--clips", nargs="+", choices=video.CLIPS, action=runner.Unique, default=list(video.CLIPS))
    p.add_argument("--frames", type=int, default=72, help="frames per clip (24 fps)")
    p.add_argument("--width", type=int, default=640, help="clip width (height: 9/16 of it)")
    runner.add_run_args(p, smoke=SMOKE, threads="threads of the network (default: its own)")
    return runner.parse_args(p, argv, "video_blend", SMOKE, positive=("frames", "width"))


def network(threads: int | None):
    """(frame function (H, W, 3) -> (H, W, 3), grid): the built-in network for video with the
    benchmark's style, on onnxruntime where installed (as ``instyle video --stabilize flow``)."""
    from instyle import onnx_runtime
    from instyle.shipped import has_video_model

    model = "builtin-video" if has_video_model() else "builtin"
    if onnx_runtime.available():
        net = onnx_runtime.OnnxFastStylizer(model, threads=threads)
        return (lambda rgb: net(rgb, video.STYLE)), net.grid
    from instyle import FastStylizer
    from instyle.video import on_arrays

    fast = FastStylizer(model, precision="fp32")
    return on_arrays(lambda x: fast(x, video.STYLE)), fast.grid


def encoded(frames, path: Path, crf: int, pix_fmt: str, chroma_sigma: float | None, decoding: str):
    """``frames`` (0–1 float) written as H.264 to ``path`` (once: a file already there is the same
    frames, written alike) and decoded again (``decoding``: :data:`benchmarks.video.CHROMA_DECODING`)."""
    import numpy as np

    if not path.is_file():
        video.write_clip(
            [np.round(np.clip(f, 0, 1) * 255).astype(np.uint8) for f in frames],
            path,
            crf=crf,
            pix_fmt=pix_fmt,
            chroma_sigma=chroma_sigma,
        )
    return video.read_clip(path, decoding)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from instyle.video import StabilizeConfig, VideoStylizer

    report = runner.new_report(
        "video_blend",
        "Warping error and texture of the painted frames under each blend setting, before and after encoding",
        settings={
            "clips": args.clips,
            "frames": args.frames,
            "width": args.width,
            "style": video.STYLE,
            "smoke": args.smoke,
        },
    )
    stylize, grid = network(args.threads)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="instyle-bench-video-blend-") as tmpdir:
        tmp = Path(tmpdir)
        for kind in args.clips:
            print(f"[video_blend] {kind} ...", file=sys.stderr, flush=True)
            _, source, motion, skip = video.prepare_clip(kind, args.frames, args.width, tmp)
            painter = VideoStylizer(stylize, StabilizeConfig(mode="flow"), grid=grid)
            analyzed = [painter.analyze(f) for f in source]
            painted = [painter.paint(f, m) for f, m in zip(source, analyzed)]
            plain = [stylize(f) for f in source]
            base_warp, base_tex = video.warping_error(plain, motion, skip), video.texture(plain)

            def row(method: str, outs, warp_base=base_warp, tex_base=base_tex) -> dict[str, Any]:
                w, t = video.warping_error(outs, motion, skip), video.texture(outs)
                return {
                    "clip": kind,
                    "method": method,
                    "warping error": w,
                    "warp vs per-frame": w / warp_base,
                    "texture vs per-frame": t / tex_base,
                }

            rows.append(row("per frame (--stabilize none)", plain))
            default = None
            for blend, tolerance, falloff, still in SETTINGS:
                config = StabilizeConfig(mode="flow", blend=blend, tolerance=tolerance, falloff=falloff, still=still)
                finisher = VideoStylizer(stylize, config, grid=grid)
                outs = [finisher.finish(p, m) for p, m in zip(painted, analyzed)]
                rows.append(
                    row(f"blend {blend:g}, tolerance {tolerance:g}, fall-off {falloff:g}, still x{still:g}", outs)
                )
                if config == StabilizeConfig(mode="flow"):
                    default = outs
            for label, crf, pix_fmt, sigma, decoding in ENCODINGS:
                name = f"{kind}_crf{crf}_{pix_fmt}_{sigma}.mp4"  # one file per encoding, decoded each way
                outs = encoded(default, tmp / f"default_{name}", crf, pix_fmt, sigma, decoding)
                base = encoded(plain, tmp / f"plain_{name}", crf, pix_fmt, sigma, decoding)
                r = row(f"default, {label}", outs)
                r["warp vs per-frame, same encoding"] = r["warping error"] / video.warping_error(base, motion, skip)
                r["texture vs per-frame, same encoding"] = video.texture(outs) / video.texture(base)
                rows.append(r)
    report["rows"] = rows
    summary = [
        {
            "method": m,
            **{
                k: runner.mean(r.get(k) for r in rows if r["method"] == m)
                for k in (*SUMMARY, "warp vs per-frame, same encoding", "texture vs per-frame, same encoding")
            },
        }
        for m in dict.fromkeys(r["method"] for r in rows)
    ]
    report["summary"] = summary
    runner.finish_report(report, args.json)
    columns = [
        "clip",
        "method",
        "warping error",
        "warp vs per-frame",
        "texture vs per-frame",
        "warp vs per-frame, same encoding",
        "texture vs per-frame, same encoding",
    ]
    print(runner.format_table(rows, columns, float_fmt=".3g"))
    print()
    print(runner.format_table(summary, ["method", *columns[3:]], float_fmt=".3g"))
    runner.print_notes(report["notes"], args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
