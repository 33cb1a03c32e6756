"""``instyle video``: stylize a video (or a folder of frames) without flicker."""

from __future__ import annotations

import argparse
import time
from typing import Any, NamedTuple

from ..choices import (
    BACKENDS,
    COLOR_MODES,
    DEFAULT_VIDEO_BLEND,
    DEFAULT_VIDEO_PIXEL_FORMAT,
    DEFAULT_VIDEO_TOLERANCE,
    FLOW_CHECKS,
    METHODS,
    STABILIZE_MODES,
    VIDEO_CODECS,
    VIDEO_CONTAINERS,
    VIDEO_PIXEL_FORMATS,
    respell,
)
from . import common, methods

HELP = "stylize a video without flicker: the built-in styles, any style image (AdaIN) or your own network"

EPILOG = """examples:
  instyle video clip.mp4 --style candy -o styled.mp4                 # a built-in style, stabilized
  instyle video clip.mp4 --style starry.jpg --alpha 0.8 -o styled.mp4  # any style image (AdaIN)
  instyle video clip.mp4 --style candy:0.5 --style wave:0.5 --color luminance -o blend.mp4
  instyle video clip.mp4 --style candy --start 10 --duration 5 --max-size 640 -o part.mp4
  instyle video frames/ --style wave --fps 30 -o styled_frames/       # folders of images in and out
  instyle video clip.mp4 --style candy --stabilize none -o flicker.mp4  # plain per-frame, to compare
  instyle video long.mp4 --style candy -o styled.mp4 --ray --workers 8  # split over Ray workers

The audio track is copied (re-encoded to AAC when the container cannot hold it), frame times are
kept (variable frame rates too), a phone's rotation is applied to the pixels. The built-in styles
run on the built-in styles' network trained for video (builtin-video; --model builtin: the one for
stills). --stabilize full (default) shares instance-norm statistics across frames, keeps the
network's grid on the moving scene and blends in the previous output along the optical flow where
it holds; all reset at scene cuts. 4:2:0 files get their colour planes low-passed before they are
halved, so fine colour texture does not shimmer as the scene moves (--pix-fmt yuv444p: full colour).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = common.add_command(sub, "video", HELP, EPILOG)
    p.add_argument("input", help="a video file, or a folder of images (frames, in name order)")
    p.add_argument(
        "-s",
        "--style",
        action="append",
        default=None,
        metavar="STYLE[:WEIGHT]",
        help="built-in style, preset or style image; repeat to blend (as for `instyle stylize`)",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="the video file (.mp4, .mkv, .mov, .webm, .avi), or a folder (ending in /) for PNG frames",
    )
    g = p.add_argument_group("controls")
    g.add_argument("--alpha", type=common.unit_float, default=1.0, help="content-style trade-off in [0, 1] (AdaIN)")
    g.add_argument("--color", choices=COLOR_MODES, default="none", help="colour preservation (as for stylize)")
    g.add_argument(
        "--stabilize",
        choices=STABILIZE_MODES,
        default="full",
        help="full (default): shared statistics + optical flow; stats; flow; none: plain per-frame",
    )
    g.add_argument(
        "--blend",
        type=common.below_one,
        default=DEFAULT_VIDEO_BLEND,
        help=f"weight of the previous output along the flow where it matches, in [0, 1) (default "
        f"{DEFAULT_VIDEO_BLEND}): more is steadier, less keeps more texture",
    )
    g.add_argument(
        "--tolerance",
        type=common.float_between(0.0, 1.0),
        default=DEFAULT_VIDEO_TOLERANCE,
        help=f"how far (0-1 RGB) the previous output may differ from the new one and still be blended in "
        f"(default {DEFAULT_VIDEO_TOLERANCE}): more is steadier, less leaves fewer trails",
    )
    g.add_argument(
        "--flow-check",
        type=respell,  # "colour" before options settled on one spelling
        choices=FLOW_CHECKS,
        default=FLOW_CHECKS[0],
        help="where the flow is trusted: color (default: the previous frame moved by the flow matches "
        "this one; the flow is fused with the camera's motion) or both-ways (forward-backward check)",
    )
    g = p.add_argument_group("segment and size")
    g.add_argument("--start", type=common.non_negative_float, default=None, help="start at this second")
    g.add_argument("--duration", type=common.positive_float, default=None, help="seconds to stylize")
    g.add_argument(
        "--max-size",
        type=common.image_size,
        default=1920,
        help="frames whose longer side is larger are shrunk to it (default 1920)",
    )
    g.add_argument("--fps", type=common.float_between(0, 1000), default=24.0, help="frame rate of a folder of images")
    g = p.add_argument_group("output")
    g.add_argument(
        "--codec",
        choices=VIDEO_CODECS,
        default=None,
        help="video codec (default: the container's: "
        + ", ".join(f"{c[0]} for {k}" for k, c in VIDEO_CONTAINERS.items())
        + ")",
    )
    g.add_argument(
        "--crf", type=common.int_between(0, 51), default=18, help="quality, lower is better and larger (default 18)"
    )
    g.add_argument(
        "--pix-fmt",
        choices=VIDEO_PIXEL_FORMATS,
        default=DEFAULT_VIDEO_PIXEL_FORMAT,
        help="4:2:0 colour (the default: plays everywhere) or 4:4:4 (colour at full resolution, steadier fine "
        "colour texture; for editing, not every player reads it)",
    )
    g = p.add_argument_group("model and hardware")
    g.add_argument("--method", choices=METHODS, default="auto", help=common.METHOD_HELP)
    common.add_adain_network_options(g)
    g.add_argument(
        "--model",
        default=None,
        help="a trained fast network (as for stylize); default for the built-in styles: builtin-video, the "
        "built-in styles' network trained to keep its texture on moving scenes (`builtin`: the one for stills)",
    )
    g.add_argument("--style-size", type=common.image_size, default=512, help="longer side of style images")
    common.add_inference_device_options(g)
    g.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="auto (default): onnxruntime for the fast networks that have an ONNX copy (with shared "
        "statistics for --stabilize full or stats: the built-in network for video) up to 1 MP, else torch",
    )
    g = p.add_argument_group("scale-out (Ray)")
    common.add_ray_options(
        g,
        "split the video over Ray workers (at scene cuts, else at keyframes, each part primed by a warm-up) "
        "and join the parts with the audio: no ADDRESS starts Ray on this machine, `auto` joins the cluster "
        "it belongs to; the input must be readable at its path on every node",
    )
    g.add_argument(
        "--warm-up",
        type=common.non_negative_float,
        default=1.0,
        metavar="SECONDS",
        help="with --ray: how much of the video before a part that does not start at a scene cut is "
        "stylized first and dropped, so its stabilization starts primed (default 1)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run, tile=1024, mask=None)


class Setup(NamedTuple):
    """What ``instyle video`` chose from its options, for a run here or on Ray workers (a named
    tuple: ``--help`` does not import dataclasses)."""

    styles: list[str]
    weights: list[float]
    method: str
    config: Any  # a StabilizeConfig (video is imported lazily)
    source: Any  # the VideoSource
    backend: str
    shared: bool  # shared statistics (--stabilize full, stats)
    in_call: bool  # an ONNX graph mixes the statistics itself
    workers: int  # frames painted at once here (the statistics' lag)
    threads: int | None  # threads of each


def setup(args: argparse.Namespace) -> Setup:
    """The method, backend, stabilization and source of a run (one rule for here and ``--ray``)."""
    from ..backends import choose_backend
    from ..pipeline import cpu_workers
    from ..shipped import has_video_model
    from ..video import StabilizeConfig, VideoSource

    styles, weights = common.parse_weighted(args.style, "style") if args.style else ([], [])
    method = methods.choose(args, styles)
    if method == "fast" and args.model is None and has_video_model():
        args.model = "builtin-video"
    config = StabilizeConfig(
        mode=args.stabilize, blend=args.blend, tolerance=args.tolerance, flow_check=args.flow_check
    )
    # Shared statistics (--stabilize full, stats) carry state from one network call to the next:
    # torch's statistics filter, or an ONNX graph that takes the past average and returns the
    # frame's own (`instyle export --shared-statistics`; the built-in network for video ships one).
    shared = config.statistics
    source = VideoSource(args.input, start=args.start, duration=args.duration, max_size=args.max_size, fps=args.fps)
    w, h = source.frame_size
    backend = choose_backend(
        args.backend,
        method,
        model=args.model,
        device=args.device,
        precision=args.precision,
        frame_pixels=w * h,
        shared_statistics=shared,
    )
    # Two frames at once, each on half the cores, for the fast networks on the CPU: shared
    # statistics then average over the frames up to t - 2 instead of t - 1 (VideoStylizer's `workers`).
    side_by_side = method == "fast" and (backend == "onnxruntime" or args.device == "cpu")
    workers, threads = cpu_workers(source.frames_hint or 2) if side_by_side else (1, None)
    in_call = backend == "onnxruntime" and shared  # the graph mixes the statistics itself
    return Setup(styles, weights, method, config, source, backend, shared, in_call, workers, threads)


def summary(args: argparse.Namespace, s: Setup, sink: Any, written: Any, seconds: float) -> dict[str, Any]:
    """What a video run reports (``--json``), here or on Ray: the output, its frames and speed, and
    the choices of :func:`setup`."""
    return {
        "output": str(written or args.output),
        "frames": sink.count,
        "seconds": round(seconds, 2),
        "fps": round(sink.count / seconds, 2) if seconds else None,
        "video_fps": round(s.source.fps, 3),
        "size": [s.source.width, s.source.height],
        "audio": sink.audio_mode,
        "method": s.method,
        "model": None if s.method != "fast" else str(args.model or "builtin"),
        "backend": s.backend,
        "stabilize": s.config.mode,
    }


def run(args: argparse.Namespace) -> int:
    import os

    # Optical flow, decoding and encoding run in threads beside the network: OpenMP threads that
    # spin between torch's ops would take their core (full mode at 640x360 on torch is faster
    # passive: benchmarks/video.py with --model, and OMP_WAIT_POLICY=ACTIVE for spinning). Read
    # when torch loads, so set before; a user's own setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    from ..pipeline import pipelined
    from ..video import VideoSink, VideoStylizer

    if args.ray is not None:
        from . import video_cluster

        return video_cluster.run(args)
    if args.workers is not None:
        from ..errors import UsageError

        raise UsageError("--workers goes with --ray")
    s = setup(args)
    styles, weights, method, config, source, backend = s.styles, s.weights, s.method, s.config, s.source, s.backend
    shared, workers, threads, in_call = s.shared, s.workers, s.threads, s.in_call
    sink = VideoSink(
        args.output, source, codec=args.codec, crf=args.crf, pix_fmt=args.pix_fmt, overwrite=args.overwrite
    )
    painter = (methods.fast if method == "fast" else methods.adain)(
        args, backend, styles, weights, threads=threads, shared_statistics=shared
    )
    torch_threads = threads if backend == "torch" else None
    if torch_threads:
        import torch

    video = VideoStylizer(
        painter,
        config,
        grid=painter.grid,
        workers=workers,
        statistics_in_call=in_call,
    )

    # Each frame: analyzed (scene cuts, optical flow, camera motion: the input alone) in stream
    # order in the reading thread, one frame ahead; painted by the network (`workers` at once when
    # independent); blended with the previous output and written in stream order in the writing thread.
    def read(frame):
        return frame, video.analyze(frame.rgb)

    def paint(data):
        if torch_threads:  # OpenMP's thread count is per calling thread
            torch.set_num_threads(torch_threads)
        return video.paint(data[0].rgb, data[1])

    def finish(frame, data, painted) -> None:
        sink.write(frame, video.finish(painted, data[1]))

    bar = common.progress(source.frames_hint, "video", args.quiet, unit="frame")
    t0 = time.perf_counter()
    try:
        for _outcome in pipelined(source.frames(), read, paint, finish, workers=workers):
            bar.update(1)
        written = sink.close()
    except BaseException:
        sink.abort()
        raise
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    result = summary(args, s, sink, written, seconds)
    result.update(precision=painter.precision, scene_cuts=video.cut_count)
    if args.json:
        common.emit_json(result)
    elif not args.quiet:
        print(f"wrote {result['output']} ({sink.count} frames in {seconds:.1f} s, {result['fps']} fps)")
    return 0
