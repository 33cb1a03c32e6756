#!/usr/bin/env python
"""AdaIN decoder training: time per step, a naive loop vs instyle's optimized loop.

Answers: how much faster is one training step of the AdaIN decoder with instyle's CPU
optimizations (bf16 autocast, channels_last, frozen-encoder feature cache, one data-loading
worker) than a naive loop (fp32, NCHW, every VGG pass recomputed, data loaded in the main
process), with everything else equal: batch 8, random 128x128 crops of images whose shorter
side is resized to 256 (``--batch``, ``--crop``, ``--image-size``), Adam, the paper's losses.

How it measures
---------------
* Both loops are the real one: ``instyle.train.train(AdaINTask(...), TrainConfig(...))``, each
  in a fresh worker process (this script in ``--_worker`` mode), so timings and peak RSS
  (``ru_maxrss``) are not polluted by the other run. The data is a small fixed subset (16
  content + 16 style images from ``shared/images/train/{content,style}``, evenly spaced over
  the sorted file lists, symlinked into a temporary folder).
* Variants (``--variants``; the middle two with ``--ablation``, to see where the speed-up
  comes from):

  - ``naive``: precision fp32, NCHW, no feature cache, ``workers=0``;
  - ``bf16_cl``: bf16 autocast + channels_last, no cache, 1 worker;
  - ``cache``: fp32, NCHW, feature cache, ``workers=0``;
  - ``optimized``: bf16 autocast + channels_last + feature cache + 1 worker.

* Steady state of the cache: the cache keeps the frozen encoder's outputs per (image, crop
  id), so it only pays off once the crops repeat. With ``crops_per_image=1`` every image always
  yields the same crop, and with 16 images per stream and batch 8 every crop has been encoded
  (and cached) after the first 2 steps; from then on every lookup is a hit, as it is in a long
  run once the cache is warm (a long run uses several crops per image and many more images, but
  once each (image, crop) is cached a step costs the same). The worker reports the cache's hits
  and misses to prove it. The naive run draws fresh crops every epoch (no cache), as a naive
  loop would.
* Step time: the loop logs ``sec_per_step`` (wall time of the last ``--log-every`` steps divided
  by their number, data loading included) to ``log.csv``; the first ``--warmup-windows``
  windows (start-up, DataLoader worker spawn, cache filling, first-call allocations) are left
  out and the median of the remaining windows is reported (the mean is in the JSON). Checkpoint
  and sample-grid writing happen only after the last logged window, so they are not timed.
* Speed-up = naive ms/step / optimized ms/step, at the same batch and crop.
* Without the shared training images this benchmark is skipped, except with ``--smoke``, which
  trains on stand-ins (:func:`benchmarks.inputs.training_folder`).

Usage (from the repository root; ``python -m benchmarks.train_step`` works too)::

    python benchmarks/train_step.py                    # batch 8, crop 128 of 256, 30 steps per variant
    python benchmarks/train_step.py --ablation         # also bf16_cl (no cache) and cache (fp32)
    python benchmarks/train_step.py --smoke            # seconds: batch 2, crop 32 of 48, 2 images, 2 steps
    python benchmarks/train_step.py --batch 8 --crop 256 --image-size 512 --steps 20
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, runner

# name -> (precision, channels_last, cache_features, workers)
VARIANTS: dict[str, dict[str, Any]] = {
    "naive": {"precision": "fp32", "channels_last": False, "cache": False, "workers": 0},
    "bf16_cl": {"precision": "bf16", "channels_last": True, "cache": False, "workers": 1},
    "cache": {"precision": "fp32", "channels_last": False, "cache": True, "workers": 0},
    "optimized": {"precision": "bf16", "channels_last": True, "cache": True, "workers": 1},
}
DEFAULT_VARIANTS = ["naive", "optimized"]
ABLATION = ["naive", "bf16_cl", "cache", "optimized"]
SMOKE = {"batch": 2, "crop": 32, "image_size": 48, "images": 2, "steps": 2, "log_every": 1, "warmup_windows": 1}
TRAIN_DIR = inputs.SHARED_IMAGES / "train"


# =========================================================================== worker


def worker_main(spec: dict[str, Any]) -> int:
    import torch

    from instyle.train import AdaINTask, AdaINTrainConfig, TrainConfig, train
    from instyle.train.log import read_log

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    v = VARIANTS[spec["variant"]]
    task_cfg = AdaINTrainConfig(cache_features=v["cache"], crops_per_image=1)
    task = AdaINTask(spec["content_dir"], spec["style_dir"], task_cfg)
    cfg = TrainConfig(
        steps=int(spec["steps"]),
        batch_size=int(spec["batch"]),
        image_size=int(spec["image_size"]),
        crop=int(spec["crop"]),
        precision=v["precision"],
        channels_last=v["channels_last"],
        workers=v["workers"],
        log_every=int(spec["log_every"]),
        checkpoint_every=int(spec["steps"]),
        sample_every=0,
        keep_checkpoints=0,
        seed=0,
        device="cpu",
    )
    t = time.perf_counter()
    result = train(task, cfg, spec["run_dir"], overwrite=True, progress=False, say=lambda m: print(m, flush=True))
    total_s = time.perf_counter() - t
    peak = runner.peak_rss_mb()
    import resource

    loader_peak = runner.peak_rss_mb(resource.RUSAGE_CHILDREN) if v["workers"] else None
    rows = read_log(Path(spec["run_dir"]) / "log.csv")
    cache = {
        name: {"hits": c.hits, "misses": c.misses, "mib": c.bytes / 2**20}
        for name, c in getattr(task, "_caches", {}).items()
    }
    out = {
        "variant": spec["variant"],
        "settings": {
            **v,
            "batch": cfg.batch_size,
            "crop": cfg.crop,
            "image_size": cfg.image_size,
            "steps": cfg.steps,
            "log_every": cfg.log_every,
            "crops_per_image": 1 if v["cache"] else None,
        },
        "precision_used": cfg.precision,
        "windows": [
            {"step": int(r["step"]), "sec_per_step": r.get("sec_per_step"), "loss": r.get("loss")} for r in rows
        ],
        "steps_done": result.step,
        "final_losses": result.losses,
        "train_call_s": total_s,
        "peak_rss_mb": peak,
        "loader_worker_peak_rss_mb": loader_peak,
        "cache": cache,
        "torch_threads": torch.get_num_threads(),
    }
    runner.write_worker_result(spec, out)
    return 0


# =========================================================================== parent


def pick_images(folder: Path, n: int) -> list[Path]:
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in inputs.IMAGE_SUFFIXES and p.is_file() and not p.name.startswith(".")
    )
    if len(files) < n:
        raise SystemExit(f"{folder} holds {len(files)} images, {n} needed (lower --images)")
    return [files[round(i * (len(files) - 1) / max(1, n - 1))] for i in range(n)]


def link_subset(files: Sequence[Path], dst: Path) -> None:
    dst.mkdir(parents=True)
    for i, f in enumerate(files):
        target = dst / f"{i:03d}_{f.name}"
        try:
            target.symlink_to(f.resolve())
        except OSError:  # no symlinks here: copy
            target.write_bytes(f.read_bytes())


def step_stats(res: dict[str, Any], warmup_windows: int, images: int) -> None:
    wins = [w for w in res["windows"] if w.get("sec_per_step") is not None]
    kept = wins[warmup_windows:]
    if not kept:
        res["note"] = "no window left after warm-up: every window used (run more --steps)"
        kept = wins
    vals = [w["sec_per_step"] for w in kept]
    res["windows_used"] = [w["step"] for w in kept]
    med, avg = runner.median(vals), runner.mean(vals)
    res["ms_per_step_median"] = med * 1000 if med is not None else None
    res["ms_per_step_mean"] = avg * 1000 if avg is not None else None
    res["ms_per_step_min"] = min(vals) * 1000 if vals else None
    res["ms_per_step_max"] = max(vals) * 1000 if vals else None
    batch = res["settings"]["batch"]
    res["images_per_s"] = batch / med if med else None
    cache = res.get("cache") or {}
    if cache:
        hits = sum(c["hits"] for c in cache.values())
        total = hits + sum(c["misses"] for c in cache.values())
        res["cache_hit_rate"] = hits / total if total else None
        # Misses only in the first pass (one per image and stream), and that pass inside the warm-up:
        first_pass_steps = -(-images // batch)
        warm_steps = res["windows_used"][0] - res["settings"]["log_every"] if res.get("windows_used") else 0
        res["first_pass_steps"] = first_pass_steps
        res["timed_windows_all_hits"] = (
            all(c["misses"] <= images for c in cache.values()) and first_pass_steps <= warm_steps
        )
        if not res["timed_windows_all_hits"]:
            res["note"] = (
                f"the cache was not warm for every timed window (first pass {first_pass_steps} steps, "
                f"warm-up {warm_steps} steps, misses {[c['misses'] for c in cache.values()]})"
            )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = runner.parser("train_step", "AdaIN decoder training: ms per step, naive loop vs instyle's optimized loop.")
    p.add_argument("--batch", type=int, default=8, help="images per step")
    p.add_argument("--crop", type=int, default=128, help="square crop side")
    p.add_argument("--image-size", type=int, default=256, help="shorter side the images are resized to before cropping")
    p.add_argument("--steps", type=int, default=30, help="steps per variant")
    p.add_argument("--log-every", type=int, default=5, help="steps per timing window (the loop's log_every)")
    p.add_argument("--warmup-windows", type=int, default=1, help="first log windows left out")
    p.add_argument("--images", type=int, default=16, help="images per stream in the subset")
    p.add_argument(
        "--variants",
        nargs="+",
        action=runner.Unique,
        choices=list(VARIANTS),
        default=None,
        metavar="V",
        help=f"subset of {', '.join(VARIANTS)} (default: {' '.join(DEFAULT_VARIANTS)})",
    )
    p.add_argument("--ablation", action="store_true", help=f"run {' '.join(ABLATION)}")
    p.add_argument("--data", type=Path, default=TRAIN_DIR, help="folder with content/ and style/ training images")
    p.add_argument(
        "--decoder",
        type=Path,
        default=None,
        help="accepted so the benchmark scripts share a command line; unused: a fresh decoder is "
        "trained (seed 0) and the step time does not depend on its weights",
    )
    runner.add_run_args(p, workers=True, smoke=SMOKE, threads="OMP/MKL threads (default: torch's default)")
    args = runner.parse_args(p, argv, "train_step", SMOKE, positive=("batch", "steps", "log_every", "images"))
    if args._worker:
        return args
    args.variants = args.variants or (ABLATION if args.ablation else DEFAULT_VARIANTS)
    if args.warmup_windows < 0:
        p.error("--warmup-windows must be >= 0")
    if args.crop < 16 or args.image_size < args.crop:
        p.error("need 16 <= --crop <= --image-size")
    if args.steps < args.log_every * (args.warmup_windows + 1):
        p.error(
            f"--steps {args.steps} leaves no timed window after {args.warmup_windows} warm-up window(s) of "
            f"{args.log_every} steps"
        )
    return args


COLUMNS = [
    ("variant", "variant"),
    ("what", "settings"),
    ("ms", "ms/step (median)", ".0f"),
    ("ms_mean", "mean", ".0f"),
    ("img_s", "images/s", ".2f"),
    ("speedup", "speed-up vs naive", lambda v: f"{v:.2f}x"),
    ("hit", "cache hits (run)", lambda v: f"{100 * v:.0f}%"),
    ("warm", "timed all hits"),
    ("rss", "peak RSS MiB*", ".0f"),
    ("windows", "windows"),
]


def describe(v: dict[str, Any]) -> str:
    return (
        f"{v['precision']}, {'channels_last' if v['channels_last'] else 'NCHW'}, "
        f"{'cache' if v['cache'] else 'no cache'}, workers {v['workers']}"
    )


def run_variants(args: argparse.Namespace, data: Path, tmp: Path, report: dict[str, Any]) -> None:
    """Train every variant in its own worker on the same subset of ``data`` (linked into ``tmp``)."""
    contents, styles = pick_images(data / "content", args.images), pick_images(data / "style", args.images)
    link_subset(contents, tmp / "data" / "content")
    link_subset(styles, tmp / "data" / "style")
    report["settings"]["content_images"] = [p.name for p in contents]
    report["settings"]["style_images"] = [p.name for p in styles]
    for i, variant in enumerate(args.variants, start=1):
        spec = {
            "variant": variant,
            "content_dir": str(tmp / "data" / "content"),
            "style_dir": str(tmp / "data" / "style"),
            "run_dir": str(tmp / f"run_{variant}"),
            "steps": args.steps,
            "batch": args.batch,
            "image_size": args.image_size,
            "crop": args.crop,
            "log_every": args.log_every,
            "threads": args.threads,
            "result": str(tmp / f"{variant}.json"),
        }

        def job() -> dict[str, Any]:
            res = runner.run_worker(__file__, spec, args.threads, marker=None)
            if "error" not in res:
                step_stats(res, args.warmup_windows, args.images)
            return res

        res = runner.run_job(
            f"{i}/{len(args.variants)}",
            f"{variant} ({describe(VARIANTS[variant])}): {args.steps} steps",
            job,
            lambda r: f"{r['ms_per_step_median']:.0f} ms/step",
        )
        report["results"].append({"variant": variant, **res})
        runner.write_json(args.json, report)


def table_rows(results: Sequence[dict[str, Any]], args: argparse.Namespace, notes: list[str]) -> list[dict[str, Any]]:
    """One row per variant, with its speed-up vs naive (also set in its result)."""
    naive = next((r for r in results if r["variant"] == "naive" and "error" not in r), None)
    rows = []
    for r in results:
        row = {"variant": r["variant"], "what": describe(VARIANTS[r["variant"]])}
        if "error" in r:
            row["what"] += f" (error: {r['error'].splitlines()[0][:60]})"
            rows.append(row)
            continue
        sp = naive["ms_per_step_median"] / r["ms_per_step_median"] if naive and r["ms_per_step_median"] else None
        r["speedup_vs_naive"] = sp
        row.update(
            {
                "ms": r["ms_per_step_median"],
                "ms_mean": r["ms_per_step_mean"],
                "img_s": r["images_per_s"],
                "speedup": sp,
                "hit": r.get("cache_hit_rate"),
                "warm": r.get("timed_windows_all_hits"),
                "rss": r["peak_rss_mb"],
                "windows": f"{len(r['windows_used'])}x{args.log_every}",
            }
        )
        rows.append(row)
        if r.get("note"):
            notes.append(f"{r['variant']}: {r['note']}")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args._worker:
        return worker_main(json.loads(args._worker))

    has_data = (args.data / "content").is_dir() and (args.data / "style").is_dir()
    if not has_data and not args.smoke:
        print(
            f"skipped: training images not found ({args.data / 'content'} and {args.data / 'style'}); this "
            f"benchmark needs ../shared/images/train (or --data DIR with content/ and style/)",
            file=sys.stderr,
        )
        return 0
    report = runner.new_report(
        "train_step", "ms per AdaIN decoder training step, naive loop vs instyle's optimized loop, same batch/crop"
    )
    notes = report["notes"]
    report["native_bf16"] = native = report["machine"]["native_bf16"]
    if not native and any(VARIANTS[v]["precision"] == "bf16" for v in args.variants):
        notes.append(
            "this CPU has no native bf16 (AVX512-BF16/AMX): bf16 is emulated here and usually slower; "
            "instyle's precision='auto' would pick fp32"
        )
    if args.decoder is not None:
        notes.append("--decoder is not used by this benchmark (a fresh decoder is trained)")
    if not has_data:
        notes.append(f"{args.data} not found: stand-in photos and generated paintings (--smoke)")
    report["settings"] = {
        "batch": args.batch,
        "crop": args.crop,
        "image_size": args.image_size,
        "steps": args.steps,
        "log_every": args.log_every,
        "warmup_windows": args.warmup_windows,
        "images": args.images,
        "variants": args.variants,
        "variant_definitions": {v: VARIANTS[v] for v in args.variants},
        "threads": args.threads,
        "data": str(args.data) if has_data else "stand-ins",
        "smoke": args.smoke,
    }
    report["results"] = []
    with tempfile.TemporaryDirectory(prefix="instyle-bench-train-") as tmpdir:
        tmp = Path(tmpdir)
        data = args.data if has_data else inputs.training_folder(tmp / "stand-ins", args.images)
        run_variants(args, data, tmp, report)

    results = report["results"]
    rows = table_rows(results, args, notes)
    naive, opt = (
        next((r for r in results if r["variant"] == v and "error" not in r), None) for v in ("naive", "optimized")
    )
    verdict = None
    if naive and opt:
        verdict = (
            f"optimized loop: {opt['ms_per_step_median']:.0f} ms/step vs naive "
            f"{naive['ms_per_step_median']:.0f} ms/step -> speed-up {opt['speedup_vs_naive']:.2f}x "
            f"(batch {args.batch}, crop {args.crop} of {args.image_size})"
        )
    report["table"] = rows
    report["verdict"] = verdict
    runner.finish_report(report, args.json)

    print(runner.format_table(rows, COLUMNS))
    print(
        f"\nms/step: median over log windows of {args.log_every} steps after the first {args.warmup_windows} "
        f"(data loading included); cache hits: over the whole run (misses = the first pass); "
        f"* peak RSS of the training process (a DataLoader worker's own peak is in the JSON)"
    )
    if verdict:
        print(verdict)
    runner.print_notes(notes, args.json)
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
