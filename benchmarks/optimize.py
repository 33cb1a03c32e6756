#!/usr/bin/env python
"""Optimization-based style transfer: time per step and quality, instyle vs pastiche.

Answers: how long does one optimization step take, and what quality is reached, at 256 and
512 px, for instyle's variants (fp32, fp32 + channels_last, bf16 + channels_last) and for the
``pastiche`` CLI (v1.6, a Gatys implementation) on the same content/style pair, size and step
count. Product goal: instyle at least 2x faster per step than pastiche, or the same style loss
(``style_gram`` of :class:`instyle.evaluate.Evaluator`) in half the steps.

How it measures
---------------
* Every run is a fresh process (instyle: this script in ``--_worker`` mode; pastiche: its CLI),
  so peak RSS (``ru_maxrss`` via ``os.wait4`` / ``getrusage``) and timings are not polluted by
  the previous run.
* instyle: ``GatysOptimizer(OptimizeConfig(steps=N, precision=..., channels_last=...))`` with
  every other setting at its default (what users get). Step times are the differences of
  ``StepInfo.elapsed`` (one step = one forward/backward evaluation).
* pastiche: ``pastiche --device cpu --size S --num-steps N --info-step 1 --seed 0 --workspace
  DIR --workspace-step 10``; one step = one ``draw()`` = one L-BFGS(max_iter=1) step = one
  forward/backward. Its printed ``elapsed`` has 0.1 s resolution, so step times are taken from
  the arrival time of each (unbuffered) ``step elapsed loss`` line here; the printed values
  are kept in the JSON as a cross-check.
* ms/step is the median over the steps after the first 3 (warm-up), leaving out the steps
  whose interval holds checkpoint work (pastiche's workspace PNG save on steps 10, 20, ...;
  instyle's uint8 snapshot taken in the callback of step 10, 20, ..., which lands in steps 11,
  21, ...). "total s" is the wall time of the whole process up to the saved output image
  (interpreter start, imports, weight loading, targets, N steps, saving), scoring excluded.
* Both are fed the same sizes: the content's longer side is S, the style is resized to the
  content's number of pixels (pastiche's default rule, replicated for instyle); the sizes
  pastiche reports are recorded and checked.
* Quality: every output, and the images at steps 10, 20, ... and N, is scored with
  ``instyle.evaluate.Evaluator()`` against the original content and style files; intermediate
  instyle images are quantized to 8 bits like the PNGs pastiche writes. "steps to pastiche
  style" is the first checkpoint at which a run's ``style_gram`` is <= pastiche's final
  ``style_gram`` at the same size; the step ratio is pastiche's steps / instyle's steps.
* Images: the shared golden gate photo and starry night painting, else scikit-image's
  ``chelsea.png`` and ``ihc.png``. Where pastiche is found: :mod:`benchmarks.peers`. The report
  goes to ``--json`` (``benchmarks/results/optimize.json``), the output images next to it.

Usage (from the repository root; ``python -m benchmarks.optimize`` works too)::

    python benchmarks/optimize.py                       # 256 and 512 px, 100 steps, all variants
    python benchmarks/optimize.py --smoke               # seconds: 48 px, 2 steps, fp32, no pastiche
    python benchmarks/optimize.py --sizes 256 --steps 50 --variants bf16_cl pastiche --threads 4
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_T_PROCESS = time.perf_counter()

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, peers, runner  # noqa: E402

ALL_VARIANTS = (*runner.VARIANTS, peers.PASTICHE)
WARMUP_STEPS = 3
CHECKPOINT_EVERY = 10
DONE_MARKER = "@@optimized"
SMOKE = {"sizes": [48], "steps": 2, "variants": ["fp32"], "eval_size": 64}
GOAL_SPEEDUP = 2.0
GOAL_STEP_RATIO = 2.0

DEFAULT_CONTENT = inputs.SHARED_IMAGES / "content" / "adain_golden_gate.jpg"
DEFAULT_STYLE = inputs.SHARED_IMAGES / "style" / "neuralstyle_starry_night.jpg"

PASTICHE_DEFAULTS = {
    "pooling": "max",
    "padding": "zeros",
    "content_layers": {"block4_relu2 (= relu4_2)": 0.01},
    "style_layers": "block1..5_relu1 (= relu1_1..relu5_1), layer weight 10 / C^2 each",
    "content_weight": 1.0,
    "style_weight": 1.0,
    "tv_weight": 0.0,
    "optimizer": "L-BFGS lr=1, max_iter=1 per step (one function evaluation per step, history_size=100 "
    "kept across steps), no line search",
    "init": "content",
    "size": "--size S = longer side of the content (PIL bilinear resize)",
    "style_size": "style resized to the content's number of pixels (default --style-size-pixels)",
    "weights": "the same quantized Keras/Caffe VGG-19 file instyle reads",
    "note": "pastiche's image after step k has had k L-BFGS updates; instyle's image at step k is the one "
    "evaluated by the k-th evaluation (k-1 updates)",
}


# =========================================================================== shared pieces


def default_images() -> tuple[Path, Path, str]:
    """(content, style, where): the shared benchmark pair, else scikit-image's bundled images."""
    if DEFAULT_CONTENT.is_file() and DEFAULT_STYLE.is_file():
        return DEFAULT_CONTENT, DEFAULT_STYLE, "shared"
    data = inputs.skimage_data()
    if data is None:
        raise SystemExit(
            f"no default images: {inputs.SHARED_IMAGES} is missing and scikit-image is not installed; "
            "pass --content and --style"
        )
    return data / "chelsea.png", data / "ihc.png", "scikit-image"


def pastiche_hw(w: int, h: int, *, size: int | None = None, pixels: int | None = None) -> tuple[int, int]:
    """(height, width) that pastiche 1.6's ``load_image`` resizes a (w, h) image to."""
    if size is not None:
        if w > h:
            return int(round((size / w) * h, 0)), size
        if w < h:
            return size, int(round((size / h) * w, 0))
        return size, size
    if pixels is not None:
        h_ = int(round((pixels * h / w) ** 0.5, 0))
        return h_, int(round((w / h) * h_, 0))
    return h, w


def image_wh(path: Path) -> tuple[int, int]:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        return int(im.width), int(im.height)


def fed_sizes(content: Path, style: Path, size: int) -> dict[str, list[int]]:
    """The (height, width) of content and style both tools are fed at ``size``."""
    cw, ch = image_wh(content)
    sw, sh = image_wh(style)
    c_hw = pastiche_hw(cw, ch, size=size)
    s_hw = pastiche_hw(sw, sh, pixels=c_hw[0] * c_hw[1])
    return {"content_hw": list(c_hw), "style_hw": list(s_hw)}


def checkpoint_steps(n: int) -> list[int]:
    return sorted({k for k in range(CHECKPOINT_EVERY, n + 1, CHECKPOINT_EVERY)} | ({n} if n > 0 else set()))


def timed_steps(n: int, tool: str) -> list[int]:
    """Steps (1-based) whose time counts for the median; see the module docstring."""

    def polluted(k: int) -> bool:
        if tool == "pastiche":
            return k % CHECKPOINT_EVERY == 0
        return k > 1 and (k - 1) % CHECKPOINT_EVERY == 0

    keep = [k for k in range(WARMUP_STEPS + 1, n + 1) if not polluted(k)]
    if not keep:  # tiny smoke runs: whatever is left after warm-up, else everything
        keep = list(range(WARMUP_STEPS + 1, n + 1)) or list(range(1, n + 1))
    return keep


def step_stats(step_seconds: Sequence[float], tool: str) -> dict[str, Any]:
    """Median/mean ms per step over :func:`timed_steps`; ``step_seconds[k-1]`` is step k."""
    n = len(step_seconds)
    keep = timed_steps(n, tool)
    vals = [step_seconds[k - 1] for k in keep]
    med = runner.median(vals)
    avg = runner.mean(vals)
    return {
        "ms_per_step_median": med * 1000 if med is not None else None,
        "ms_per_step_mean": avg * 1000 if avg is not None else None,
        "ms_per_step_min": min(vals) * 1000 if vals else None,
        "ms_per_step_max": max(vals) * 1000 if vals else None,
        "timed_steps": len(vals),
        "warmup_included": bool(keep and keep[0] <= WARMUP_STEPS),
        "step_ms": [round(s * 1000, 2) for s in step_seconds],
        "steps_s": sum(step_seconds),
    }


def steps_to_reach(curve: Sequence[dict[str, float]], target: float | None) -> int | None:
    """First checkpoint step whose style_gram <= target (None: not reached / no target)."""
    if target is None:
        return None
    for point in curve:
        v = point.get("style_gram")
        if v is not None and v <= target:
            return int(point["step"])
    return None


# =========================================================================== instyle worker


def worker_main(spec: dict[str, Any]) -> int:
    """One instyle variant at one size in this (fresh) process; results to ``spec['result']``."""
    import torch
    import torch.nn.functional as F

    from instyle.imageio import load_image, save_image
    from instyle.optimize import GatysOptimizer, OptimizeConfig

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    precision, channels_last = runner.VARIANTS[spec["variant"]]
    steps = int(spec["steps"])

    def load_exact(path: str, hw: Sequence[int]):
        img = load_image(path, size=max(hw))  # Lanczos, longer side
        if tuple(img.shape[-2:]) != tuple(hw):  # off-by-one rounding: match pastiche exactly
            img = F.interpolate(img, size=tuple(hw), mode="bilinear", align_corners=False, antialias=True)
        return img

    content = load_exact(spec["content"], spec["content_hw"])
    style = load_exact(spec["style"], spec["style_hw"])
    config = OptimizeConfig(steps=steps, precision=precision, channels_last=channels_last)
    optimizer = GatysOptimizer(config)

    elapsed: list[float] = []
    losses: list[dict[str, float]] = []
    checkpoints = set(checkpoint_steps(steps))
    snapshots: dict[int, Any] = {}

    def callback(info) -> None:
        elapsed.append(info.elapsed)
        losses.append({k: round(v, 6) for k, v in info.losses.items()})
        if info.step in checkpoints:  # 8-bit, like a saved PNG (its cost lands in the next step)
            snapshots[info.step] = info.image.clamp(0, 1).mul(255).round().to(torch.uint8)

    out = optimizer(content, [style], callback=callback)
    save_image(spec["output"], out, overwrite=True)
    peak_rss = runner.peak_rss_mb()
    process_s = time.perf_counter() - _T_PROCESS
    print(DONE_MARKER, flush=True)

    # ---- scoring, outside everything timed
    from instyle.evaluate import Evaluator

    evaluator = Evaluator(size=int(spec["eval_size"]))
    content_full = load_image(spec["content"])
    style_full = load_image(spec["style"])
    final = evaluator(load_image(spec["output"]), content_full, style_full)
    curve = []
    for k in sorted(snapshots):
        scores = final if k == steps else evaluator(snapshots[k].float() / 255, content_full, style_full)
        curve.append({"step": k, **scores})

    step_seconds = runner.diffs([0.0] + elapsed)  # step 1 also holds the content targets/balancing
    result = {
        "variant": spec["variant"],
        "tool": "instyle",
        "size": spec["size"],
        "steps": len(elapsed),
        **step_stats(step_seconds, "instyle"),
        "worker_process_s": process_s,
        "peak_rss_mb": peak_rss,
        "torch_threads": torch.get_num_threads(),
        "content_hw": list(content.shape[-2:]),
        "style_hw": list(style.shape[-2:]),
        "output_hw": list(out.shape[-2:]),
        "config": config.to_dict(),
        "quality": final,
        "curve": curve,
        "losses": losses,
    }
    runner.write_worker_result(spec, result)
    return 0


def run_instyle(
    variant: str, size: int, args: argparse.Namespace, sizes: dict[str, list[int]], tmp: Path
) -> dict[str, Any]:
    """One instyle variant at one size in a worker; ``total_s`` is the worker's start -> output saved."""
    spec = {
        "variant": variant,
        "size": size,
        "steps": args.steps,
        "threads": args.threads,
        "content": str(args.content),
        "style": str(args.style),
        **sizes,
        "output": str(args.json.parent / f"optimize_{variant}_{size}.png"),
        "result": str(tmp / f"{variant}_{size}.json"),
        "eval_size": args.eval_size,
    }
    res = runner.run_worker(__file__, spec, args.threads, marker=DONE_MARKER, marker_key="total_s")
    if "error" not in res:
        res["process_peak_rss_mb_incl_scoring"] = res.pop("peak_rss_mb_wait4")
        res["output"] = spec["output"]
    return res


# =========================================================================== pastiche


def run_pastiche(
    exe: str, size: int, args: argparse.Namespace, sizes: dict[str, list[int]], tmp: Path, evaluator_box: list
) -> dict[str, Any]:
    """pastiche at one size (see :func:`benchmarks.peers.run_pastiche`), its step times, and the
    quality of its output and of the images it saved every ``CHECKPOINT_EVERY`` steps."""
    from instyle.atomic import write_bytes
    from instyle.imageio import load_image

    work = tmp / f"pastiche_{size}"
    workspace = work / "workspace"
    work.mkdir(parents=True, exist_ok=True)
    out_tmp = work / "out.png"
    run = peers.run_pastiche(
        exe,
        args.content,
        args.style,
        size,
        args.steps,
        out_tmp,
        workspace,
        save_every=CHECKPOINT_EVERY,
        threads=args.threads,
    )
    arrivals, printed = run["arrivals"], run["printed"]
    base = {"command": run["command"]}
    if run["returncode"] != 0 or not out_tmp.is_file():
        return {**base, "error": f"pastiche exited with {run['returncode']}:\n{runner.tail(run['lines'])}"}
    n = max(arrivals) if arrivals else 0
    missing = [k for k in range(n + 1) if k not in arrivals]
    if n != args.steps or missing:
        return {
            **base,
            "error": f"could not parse pastiche's per-step output (last step {n}, missing {missing[:5]})"
            f":\n{runner.tail(run['lines'])}",
        }
    step_seconds = [arrivals[k] - arrivals[k - 1] for k in range(1, n + 1)]
    printed_seconds = [printed[k] - printed[k - 1] for k in range(1, n + 1)]

    final_png = args.json.parent / f"optimize_pastiche_{size}.png"
    write_bytes(final_png, out_tmp.read_bytes(), overwrite=True, what="image")

    # ---- scoring (this process; pastiche has exited, nothing timed)
    if not evaluator_box:
        from instyle.evaluate import Evaluator

        evaluator_box.append((Evaluator(size=args.eval_size), load_image(args.content), load_image(args.style)))
    evaluator, content_full, style_full = evaluator_box[0]
    final = evaluator(load_image(final_png), content_full, style_full)
    curve = []
    for k in checkpoint_steps(n):
        if k == n:
            curve.append({"step": k, **final})
            continue
        hits = (
            [p for p in workspace.glob("*.png") if p.stem.isdigit() and int(p.stem) == k] if workspace.is_dir() else []
        )
        if hits:
            curve.append({"step": k, **evaluator(load_image(hits[0]), content_full, style_full)})

    reported = {key: run.get(key) for key in ("content_hw", "style_hw")}
    return {
        **base,
        "steps": n,
        **step_stats(step_seconds, "pastiche"),
        "ms_per_step_mean_printed": (
            1000 * runner.mean(printed_seconds[i - 1] for i in timed_steps(n, "pastiche")) if n else None
        ),
        "printed_elapsed_s": [printed[k] for k in range(n + 1)],
        "printed_resolution_s": 0.1,
        "total_s": run["wall_s"],
        "peak_rss_mb": run["peak_rss_mb"],
        **reported,
        "sizes_match_instyle": reported == {key: sizes[key] for key in reported},
        "defaults": PASTICHE_DEFAULTS,
        "quality": final,
        "curve": curve,
        "losses": [run["losses"].get(k) for k in range(n + 1)],
        "output": str(final_png),
        "version": runner.package_version("pastiche"),
    }


# =========================================================================== report


def summarize(results: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Table rows (speed-up and steps-to-pastiche filled in) and goal verdict lines."""
    rows: list[dict[str, Any]] = []
    verdicts: list[str] = []
    by_size: dict[int, list[dict[str, Any]]] = {}
    for r in results:
        by_size.setdefault(r["size"], []).append(r)
    for size in sorted(by_size):
        group = sorted(by_size[size], key=lambda r: ALL_VARIANTS.index(r["variant"]))
        ref = next((r for r in group if r["variant"] == "pastiche" and "error" not in r), None)
        ref_ms = ref.get("ms_per_step_median") if ref else None
        target = ref["quality"]["style_gram"] if ref else None
        ref_steps = steps_to_reach(ref["curve"], target) if ref else None
        for r in group:
            row: dict[str, Any] = {"size": size, "variant": r["variant"]}
            if "error" in r:
                row["note"] = "error: " + r["error"].splitlines()[0]
                rows.append(row)
                continue
            q = r["quality"]
            row.update(
                {
                    "ms": r.get("ms_per_step_median"),
                    "total_s": r.get("total_s"),
                    "rss": r.get("peak_rss_mb"),
                    "content": q["content"],
                    "style_mean_std": q["style_mean_std"],
                    "style_gram": q["style_gram"],
                }
            )
            ms = r.get("ms_per_step_median")
            row["speedup"] = (ref_ms / ms) if (ref_ms and ms) else None
            reach = steps_to_reach(r["curve"], target)
            row["steps_to_ref"] = reach if reach is not None else ("not reached" if target is not None else None)
            row["step_ratio"] = (ref_steps / reach) if (ref_steps and reach) else None
            r["speedup_vs_pastiche"] = row["speedup"]
            r["steps_to_pastiche_style_gram"] = reach
            r["pastiche_steps_to_own_style_gram"] = ref_steps
            r["step_ratio_vs_pastiche"] = row["step_ratio"]
            rows.append(row)
            if r["variant"] != "pastiche" and ref is not None:
                fast = row["speedup"] is not None and row["speedup"] >= GOAL_SPEEDUP
                few = row["step_ratio"] is not None and row["step_ratio"] >= GOAL_STEP_RATIO
                r["meets_goal"] = fast or few
                sp = f"{row['speedup']:.2f}x" if row["speedup"] is not None else "-"
                st = (
                    f"{reach} vs {ref_steps} steps ({row['step_ratio']:.2f}x)"
                    if row["step_ratio"] is not None
                    else "not reached within the run"
                )
                verdicts.append(
                    f"{size:>4} px {r['variant']:<8} per-step speed-up {sp}; pastiche's style_gram "
                    f"reached in {st} -> goal {'MET' if fast or few else 'not met'}"
                )
    return rows, verdicts


TABLE_COLUMNS = [
    ("size", "size"),
    ("variant", "variant"),
    ("ms", "ms/step (median)", ".1f"),
    ("speedup", "speed-up vs pastiche", lambda v: f"{v:.2f}x"),
    ("total_s", "total s", ".1f"),
    ("rss", "peak RSS MB", ".0f"),
    ("content", "content", ".4g"),
    ("style_mean_std", "style_mean_std", ".4g"),
    ("style_gram", "style_gram", ".4g"),
    ("steps_to_ref", "steps to pastiche's style loss"),
    ("step_ratio", "step ratio", lambda v: f"{v:.2f}x"),
]


# =========================================================================== main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = runner.parser(
        "optimize", "Time per optimization step and quality reached: instyle's Gatys variants vs pastiche."
    )
    p.add_argument(
        "--content",
        type=Path,
        help="content image (default: the shared golden gate photo, else scikit-image's chelsea.png)",
    )
    p.add_argument(
        "--style", type=Path, help="style image (default: the shared starry night, else scikit-image's ihc.png)"
    )
    p.add_argument(
        "--sizes", type=int, nargs="+", default=[256, 512], metavar="S", help="longer side of the content, in pixels"
    )
    p.add_argument("--steps", type=int, default=100, help="optimization steps (forward/backward evaluations)")
    p.add_argument(
        "--variants",
        nargs="+",
        action=runner.Unique,
        choices=ALL_VARIANTS,
        default=list(ALL_VARIANTS),
        metavar="V",
        help=f"subset of {', '.join(ALL_VARIANTS)}",
    )
    p.add_argument("--eval-size", type=int, default=512, help="Evaluator size (longer side)")
    peers.add_peer_args(p, tool=peers.PASTICHE)
    runner.add_run_args(
        p,
        workers=True,
        smoke=SMOKE,
        threads="OMP/MKL threads for every run (default: torch's default, same for both tools)",
    )
    args = runner.parse_args(p, argv, "optimize", SMOKE, positive=("steps", "eval_size"))
    if args._worker:
        return args
    if any(s < 48 for s in args.sizes):
        p.error("every size must be >= 48 (VGG-19 needs a few pixels at relu5_1)")
    if (args.content is None) != (args.style is None):
        dc, ds, _ = default_images()
        args.content, args.style = args.content or dc, args.style or ds
        args.images_from = "given/default"
    elif args.content is None:
        args.content, args.style, args.images_from = default_images()
    else:
        args.images_from = "given"
    for what, path in (("content", args.content), ("style", args.style)):
        if not Path(path).is_file():
            p.error(f"{what} image not found: {path}")
    args.content, args.style = Path(args.content).resolve(), Path(args.style).resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args._worker:
        return worker_main(json.loads(args._worker))

    if args.threads:  # this process scores pastiche's images; workers get the same via their env
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
        import torch

        torch.set_num_threads(args.threads)
    report = runner.new_report(
        "optimize",
        "ms per optimization step and quality reached, instyle variants vs pastiche, same pair/size/steps",
        goal=f"instyle >= {GOAL_SPEEDUP:g}x faster per step than pastiche, or pastiche's final style_gram "
        f"in <= 1/{GOAL_STEP_RATIO:g} of the steps",
    )
    notes = report["notes"]
    variants = list(args.variants)
    exe = None
    if peers.PASTICHE in variants:
        exe, _ = peers.peer_setup(args, notes, tool=peers.PASTICHE)
        if exe is None:
            variants.remove(peers.PASTICHE)
    if peers.PASTICHE not in variants:
        notes.append("no pastiche run: speed-up and steps-to-pastiche columns are empty")
    report["settings"] = {
        "content": str(args.content),
        "style": str(args.style),
        "images_from": args.images_from,
        "sizes": args.sizes,
        "steps": args.steps,
        "variants": variants,
        "threads": args.threads,
        "warmup_steps": WARMUP_STEPS,
        "checkpoint_every": CHECKPOINT_EVERY,
        "eval_size": args.eval_size,
        "smoke": args.smoke,
    }
    report["versions"]["pastiche"] = runner.package_version("pastiche")
    report.update({"pastiche_executable": exe, "results": []})
    results: list[dict[str, Any]] = report["results"]
    evaluator_box: list = []
    jobs = [(size, variant) for size in args.sizes for variant in variants]
    with tempfile.TemporaryDirectory(prefix="instyle-bench-optimize-") as tmpdir:
        tmp = Path(tmpdir)
        for i, (size, variant) in enumerate(jobs, start=1):
            sizes = fed_sizes(args.content, args.style, size)
            tool = peers.PASTICHE if variant == peers.PASTICHE else "instyle"
            res = runner.run_job(
                f"{i}/{len(jobs)}",
                f"{size} px {variant}: {args.steps} steps",
                lambda: (
                    run_pastiche(exe, size, args, sizes, tmp, evaluator_box)
                    if tool == peers.PASTICHE
                    else run_instyle(variant, size, args, sizes, tmp)
                ),
                lambda r: f"{r.get('ms_per_step_median') or float('nan'):.1f} ms/step",
            )
            res = {"variant": variant, "tool": tool, "size": size, **res, "fed_sizes": sizes}
            results.append(res)
            if res.get("sizes_match_instyle") is False:
                notes.append(
                    f"{size} px: pastiche reported content {res.get('content_hw')} / style "
                    f"{res.get('style_hw')} (h, w), instyle was fed {sizes['content_hw']} / "
                    f"{sizes['style_hw']}"
                )
            runner.write_json(args.json, report)  # partial results survive a crash

    rows, verdicts = summarize(results)
    report["table"] = rows
    report["verdicts"] = verdicts
    runner.finish_report(report, args.json)

    print(runner.format_table(rows, TABLE_COLUMNS))
    errors = [r for r in rows if "note" in r]
    for r in errors:
        print(f"{r['size']} px {r['variant']}: {r['note']}")
    if verdicts:
        print()
        print("\n".join(verdicts))
    print(
        f"\nms/step: median over steps {WARMUP_STEPS + 1}..{args.steps} (checkpoint steps left out); "
        f"quality: instyle.evaluate.Evaluator(size={args.eval_size}), lower is better"
    )
    runner.print_notes(notes, args.json, args.json.parent / "optimize_<variant>_<size>.png")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
