#!/usr/bin/env python
"""Instance vs batch normalization in a fast style network (Ulyanov, Vedaldi & Lempitsky 2016,
"Instance Normalization: The Missing Ingredient for Fast Stylization"), reproduced.

Answers: trained the same way, does a generator with instance norm stylize better than the same
generator with batch norm, on photos it never saw and at sizes it was not trained at; and does
its output depend less on the photo's contrast (the paper's argument: IN removes instance-specific
contrast, BN cannot)?

How it measures
---------------
* Training: ``instyle train fast`` through the shared loop (``instyle.train.train`` with
  ``FastTask``), one style image, the same content images, seed, steps, batch, crop, learning
  rate and losses for both runs; only ``norm`` differs (``instance`` vs ``batch``). BN is
  evaluated in eval mode (running statistics), as deployed. A third run (``instance@relu2_2``)
  differs from ``instance`` only in the content layer (relu2_2 instead of relu3_1): the
  evidence for the default content layer.
* Held-back images: photos from ``../shared/images/content`` (never in the training folder),
  stylized at 256, 512 and 1080 px (longer side), each scored with ``instyle.evaluate.Evaluator``
  at that size (content = relu4_1 MSE vs the photo; style = Gram and mean/std losses vs the
  style image; lower is better).
* Contrast: every held-back photo is also fed with its contrast scaled ×0.5 and ×2 around its
  mean (clamped to [0, 1]); reported is the mean absolute change of the output (in [0, 1] units)
  relative to the output for the original photo, at 512 px, next to the change of the input
  itself (the same measure on the photos) and their ratio. A network whose output does not
  depend on the input's contrast scores 0; one that passes the change through scores ~1.
* A picture (photo, IN, BN, and both on the ×0.5 / ×2 copies) is written next to the JSON.

Without the shared images (``../shared/images``: training photos, the style, held-back photos)
this benchmark is skipped, except with ``--smoke``, which uses stand-ins.

Usage (from the repository root; ``python -m benchmarks.in_vs_bn`` works too)::

    python benchmarks/in_vs_bn.py                                  # CPU: a short budget
    python benchmarks/in_vs_bn.py --steps 4000 --batch 8 --crop 256 --device cuda
    python benchmarks/in_vs_bn.py --smoke                          # seconds: 2 steps, 48 px, IN and BN
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, runner
from instyle.choices import FAST_MODELS

SHARED = inputs.SHARED_IMAGES
HELD_BACK = (
    "adain_golden_gate",
    "adain_chicago",
    "adain_sailboat",
    "adaattn_tubingen",
    "artflow_kitten",
    "adain_cornell",
    "adain_flowers",
    "anish_stata_center",
)
STYLE = "jcfast_starry_night_crop"
SIZES = (256, 512, 1080)
CONTRASTS = (0.5, 2.0)
# NORM[@CONTENT_LAYER]; content defaults to relu3_1 (FastTrainConfig's default)
VARIANTS = ("instance", "batch", "instance@relu2_2")
PICTURE = runner.REPO_ROOT / "docs" / "in_vs_bn.jpg"
SMOKE = {
    "steps": 2,
    "batch": 2,
    "crop": 32,
    "image_size": 48,
    "width": 0.25,
    "sizes": [48],
    "held_back": list(HELD_BACK[:2]),
    "variants": ["instance", "batch"],
    "models": ["johnson", "texture_net"],
    "seeds": [0, 1],
}


def contrast(img, k: float):
    """(1, 3, H, W): scale the deviation from the image's mean by ``k``, clamp to [0, 1]."""
    m = img.mean(dim=(1, 2, 3), keepdim=True)
    return (m + k * (img - m)).clamp(0, 1)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = runner.parser("in_vs_bn", __doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--style-weight", type=float, default=5.0)
    p.add_argument("--style", type=Path, default=SHARED / "style" / f"{STYLE}.jpg")
    p.add_argument("--content-dir", type=Path, default=SHARED / "train" / "content")
    p.add_argument("--held-back", nargs="*", default=list(HELD_BACK))
    p.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    p.add_argument(
        "--models", nargs="+", default=["johnson"], choices=FAST_MODELS, help="generators (default: johnson)"
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed per model and variant")
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once, each in its own process")
    p.add_argument(
        "--outputs",
        type=Path,
        default=None,
        help="write each model and variant's outputs (first seed) at the middle size here, with the photos, "
        "for benchmarks/blind.py",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--out-dir", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    p.add_argument(
        "--picture",
        type=Path,
        default=None,
        help=f"the picture (None: {PICTURE.relative_to(runner.REPO_ROOT)}; with --smoke next to the report)",
    )
    p.add_argument(
        "--variants",
        nargs="+",
        default=list(VARIANTS),
        help="runs as NORM or NORM@CONTENT_LAYER (default: instance, batch, and instance with "
        "content at relu2_2 for the content-layer choice)",
    )
    runner.add_run_args(p, smoke=SMOKE)
    p.add_argument("--curves", type=Path, default=None, help="the training curves (None: beside the picture)")
    args = runner.parse_args(p, argv, "in_vs_bn", SMOKE, positive=("steps", "batch", "jobs"))
    if args.picture is None:
        args.picture = args.json.with_name("in_vs_bn.jpg") if args.smoke else PICTURE
    if args.curves is None:
        args.curves = args.picture.with_name(args.picture.stem + "_curves.png")
    args.mid = 512 if 512 in args.sizes else args.sizes[-1]
    return args


def find_inputs(args: argparse.Namespace, tmp: Path) -> tuple[Path, Path, dict[str, Path], list[str]]:
    """(training photos folder, style image, held-back photos by name, notes); with ``--smoke``,
    stand-ins for whatever is missing."""
    notes = []
    content_dir, style = args.content_dir, args.style
    photos = {n: p for n in args.held_back if (p := inputs.find_image(SHARED / "content", n)) is not None}
    if args.smoke and not content_dir.is_dir():
        content_dir = inputs.training_folder(tmp / "train", 4) / "content"
        notes.append(f"{args.content_dir} not found: stand-in training photos (--smoke)")
    if args.smoke and not style.is_file():
        style = inputs.sample_paintings(1, tmp / "style")[0]
        notes.append(f"{args.style} not found: a generated painting (--smoke)")
    if args.smoke and not photos:
        photos = {p.stem: p for p in inputs.sample_photos(len(args.held_back), tmp / "held_back")}
        notes.append("no held-back photos found: stand-ins (--smoke)")
    return content_dir, style, photos, notes


def run_name(model: str, variant: str, seed: int) -> str:
    """A run's key and folder (``johnson/batch/seed0``)."""
    return f"{model}/{variant}/seed{seed}"


def run_specs(args: argparse.Namespace, content_dir: Path, style: Path, out_root: Path, photos: dict[str, Path]):
    """One spec per (model, variant, seed): everything a worker process needs, as plain values."""
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    first_seed = args.seeds[0]
    return [
        {
            "name": run_name(model, variant, seed),
            "model": model,
            "variant": variant,
            "seed": seed,
            "threads": threads,
            "dir": str(out_root / run_name(model, variant, seed)),
            "content_dir": str(content_dir),
            "style": str(style),
            "photos": {n: str(p) for n, p in photos.items()},
            "mid": args.mid,
            "outputs": str(Path(args.outputs) / f"{model}_{variant}") if args.outputs and seed == first_seed else None,
            "picture": seed == first_seed,
            **{k: getattr(args, k) for k in ("steps", "batch", "lr", "image_size", "crop", "width", "style_weight")},
            "sizes": list(args.sizes),
            "device": args.device,
        }
        for seed in args.seeds  # seed outermost: an interrupted grid has whole seeds done first
        for model in args.models
        for variant in args.variants
    ]


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one network (or reuse a finished run in its folder; resume an interrupted one), then
    score it on the held-back photos and measure its contrast dependence. Runs in a worker process
    when ``--jobs`` > 1, so everything in and out is plain values (the pictures as tensors)."""
    import torch

    torch.set_num_threads(spec["threads"])
    from instyle.evaluate import Evaluator
    from instyle.feedforward import FastStylizer
    from instyle.imageio import load_image, save_image
    from instyle.resize import resize_longer
    from instyle.train import FastTask, FastTrainConfig, TrainConfig, train
    from instyle.train.log import read_log

    run_dir = Path(spec["dir"])
    norm, _, layer = spec["variant"].partition("@")
    log = run_dir / "log.csv"
    done = (run_dir / "model.safetensors").is_file() and log.is_file() and read_log(log)[-1]["step"] >= spec["steps"]
    if not done:
        cfg = TrainConfig(
            steps=spec["steps"],
            batch_size=spec["batch"],
            lr=spec["lr"],
            schedule="constant",
            image_size=spec["image_size"],
            crop=spec["crop"],
            seed=spec["seed"],
            checkpoint_every=max(1, min(100, spec["steps"])),
            sample_every=0,
            log_every=max(1, min(10, spec["steps"])),
            device=spec["device"],
            workers=0,
        )
        task = FastTask(
            [spec["style"]],
            spec["content_dir"],
            FastTrainConfig(
                model=spec["model"],
                norm=norm,
                width=spec["width"],
                style_weight=spec["style_weight"],
                style_size=2 * spec["crop"],
                content_layer=layer or "relu3_1",
            ),
        )
        resume = (run_dir / "checkpoint.pt").is_file()
        train(task, cfg, run_dir, resume=resume, overwrite=not resume, progress=False, say=lambda m: None)
    rows = read_log(log)
    run: dict[str, Any] = {
        "train_s": round(rows[-1]["elapsed_s"], 1),
        "final_losses": {k: rows[-1][k] for k in ("loss", "content", "style") if k in rows[-1]},
        "curve": [{k: r[k] for k in ("step", "loss", "content", "style") if k in r} for r in rows],
        "model": str(run_dir / "model.safetensors"),
    }
    fs = FastStylizer(run["model"], precision="fp32")
    style_img = load_image(spec["style"])
    photos = {n: load_image(p) for n, p in spec["photos"].items()}
    scores = []
    for size in spec["sizes"]:
        ev = Evaluator(size=size)
        per_photo = []
        for name, photo in photos.items():
            x = resize_longer(photo, size)
            y = fs(x)
            per_photo.append(ev(y, x, style_img))
            if spec["outputs"] and size == spec["mid"]:
                save_image(Path(spec["outputs"]) / f"{name}__{Path(spec['style']).stem}.png", y, overwrite=True)
        scores.append({"size": size, **{k: sum(s[k] for s in per_photo) / len(per_photo) for k in per_photo[0]}})
    changes: dict[float, list[float]] = {k: [] for k in CONTRASTS}
    input_changes: dict[float, list[float]] = {k: [] for k in CONTRASTS}
    picture = None
    for photo in photos.values():
        x = resize_longer(photo, spec["mid"])
        base = fs(x)
        outs = {k: fs(contrast(x, k)) for k in CONTRASTS}
        for k in CONTRASTS:
            changes[k].append(float((outs[k] - base).abs().mean()))
            input_changes[k].append(float((contrast(x, k) - x).abs().mean()))
        if picture is None and spec["picture"]:
            picture = {"photo": [x] + [contrast(x, k) for k in CONTRASTS], "run": [base] + [outs[k] for k in CONTRASTS]}
    run["contrast_change"] = {f"x{k:g}": sum(v) / len(v) for k, v in changes.items()}
    run["input_change"] = {f"x{k:g}": sum(v) / len(v) for k, v in input_changes.items()}
    run["change_ratio"] = {
        f"x{k:g}": run["contrast_change"][f"x{k:g}"] / run["input_change"][f"x{k:g}"] for k in CONTRASTS
    }
    return {"name": spec["name"], "run": run, "scores": scores, "picture": picture}


def run_all(specs: list[dict[str, Any]], jobs: int) -> list[dict[str, Any]]:
    """Every spec through :func:`run_one`, ``jobs`` at a time in fresh processes (``spawn``: no
    torch state shared with the parent), in spec order."""
    if jobs == 1:
        results = []
        for spec in specs:
            results.append(run_one(spec))
            print(f"done {spec['name']}: {results[-1]['run']['train_s']} s of training", flush=True)
        return results
    import concurrent.futures
    import multiprocessing

    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_one, spec): spec["name"] for spec in specs}
        for f in concurrent.futures.as_completed(futures):
            print(f"done {futures[f]}: {f.result()['run']['train_s']} s of training", flush=True)
        by_name = {f.result()["name"]: f.result() for f in futures}
    return [by_name[s["name"]] for s in specs]


def spread(values: Sequence[float]) -> tuple[float, float]:
    """(mean, sample standard deviation; 0 for one value)."""
    m = sum(values) / len(values)
    sd = (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
    return m, sd


def aggregate(args: argparse.Namespace, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Score rows per (model, variant, size): each metric's mean over seeds and its spread (``_sd``)."""
    from instyle.evaluate import METRICS

    by_key = {r["name"]: r for r in results}
    rows = []
    for model in args.models:
        for variant in args.variants:
            for i, size in enumerate(args.sizes):
                per_seed = [by_key[run_name(model, variant, s)]["scores"][i] for s in args.seeds]
                row: dict[str, Any] = {"model": model, "run": variant, "size": size, "seeds": len(per_seed)}
                for k in METRICS:
                    row[k], row[f"{k}_sd"] = spread([p[k] for p in per_seed])
                rows.append(row)
    return rows


def curve_table(args: argparse.Namespace, results: list[dict[str, Any]], metric: str = "loss"):
    """The training curves, averaged over seeds: ``{model: [{"step": s, variant: mean loss}, ...]}``,
    and the variants' ranking by that loss (mean over the last 10 % of steps before each quarter of
    the run, over seeds; 1 = lowest), to show whether it has stopped changing."""
    by_key = {r["name"]: r for r in results}
    curves, ranks = {}, []
    for model in args.models:
        steps = sorted(
            {int(p["step"]) for r in results if r["name"].startswith(model + "/") for p in r["run"]["curve"]}
        )
        series = {
            v: [{int(p["step"]): p[metric] for p in by_key[run_name(model, v, s)]["run"]["curve"]} for s in args.seeds]
            for v in args.variants
        }
        curves[model] = [
            {
                "step": st,
                **{v: sum(c[st] for c in cs) / len(cs) for v, cs in series.items() if all(st in c for c in cs)},
            }
            for st in steps
        ]
        for q in (0.25, 0.5, 0.75, 1.0):
            end = q * args.steps
            window = [r for r in curves[model] if end - 0.1 * args.steps < r["step"] <= end]
            means = {
                v: sum(r[v] for r in window) / len(window)
                for v in args.variants
                if window and all(v in r for r in window)
            }
            order = sorted(means, key=means.get)
            ranks.append({"model": model, "step": int(end), **{v: order.index(v) + 1 for v in order}})
    return curves, ranks


def plot_curves(curves: dict[str, list[dict[str, float]]], variants: Sequence[str], path: Path) -> None:
    """One loss plot per model (seed means, log scale), stacked into one image. The first tenth of
    the steps is left out: losses start 10-100x higher, and the plot's smoothing would carry that
    start far into the run."""
    from PIL import Image

    from instyle.train.log import plot_losses

    plots = []
    for model, rows in curves.items():
        start = 0.1 * max(r["step"] for r in rows)
        title = f"{model}: training loss (mean over seeds; from step {int(start)})"
        plots.append(plot_losses([r for r in rows if r["step"] >= start], variants, title=title))
    img = Image.new("RGB", (plots[0].width, sum(p.height for p in plots)), "white")
    for i, p in enumerate(plots):
        img.paste(p, (0, i * plots[0].height))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def contrast_row(name: str, run: dict[str, Any]) -> dict[str, Any]:
    """The contrast table's row of one run."""
    return {
        "run": name,
        "train_s": run["train_s"],
        **{f"out {k}": v for k, v in run["contrast_change"].items()},
        **{f"in {k}": v for k, v in run["input_change"].items()},
        **{f"ratio {k}": v for k, v in run["change_ratio"].items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.smoke and (not args.content_dir.is_dir() or not args.style.is_file()):
        print(f"skipped: needs {args.content_dir} and {args.style} (../shared)")
        return 0

    from instyle.imageio import image_to_tensor, save_image
    from instyle.sheet import contact_sheet

    report = runner.new_report(
        "in_vs_bn",
        "which normalization layer makes the same fast network (Johnson's, Ulyanov's texture net) "
        "stylize best, and depend least on the photo's contrast?",
    )
    with tempfile.TemporaryDirectory(prefix="in_vs_bn_") as tmpdir:
        out_root = args.out_dir or Path(tmpdir)
        content_dir, style, photo_files, notes = find_inputs(args, Path(tmpdir) / "inputs")
        report["notes"] += notes
        if args.outputs:  # the held-back photos beside the outputs, at the outputs' size: blind.py's --contents
            from instyle.imageio import load_image
            from instyle.resize import resize_longer

            for n, p in photo_files.items():
                save_image(
                    Path(args.outputs) / "photos" / f"{n}.png", resize_longer(load_image(p), args.mid), overwrite=True
                )
        results = run_all(run_specs(args, content_dir, style, out_root, photo_files), args.jobs)
    rows = aggregate(args, results)
    curves, ranks = curve_table(args, results)

    table = runner.format_table(
        rows,
        [
            ("model", "model"),
            ("run", "norm"),
            ("size", "px"),
            *((k, f"{k} (balanced)", ".4g") for k in ("style", "color", "content", "gram")),
            ("content_raw", "content raw", ".4g"),
            ("style_mean_std", "style mean/std", ".4g"),
            ("style_gram", "style Gram", ".4g"),
        ],
    )
    sd_table = runner.format_table(
        rows,
        [
            ("model", "model"),
            ("run", "norm"),
            ("size", "px"),
            *((f"{k}_sd", f"{k} sd", ".3g") for k in ("style", "color", "content", "gram")),
        ],
    )
    rank_table = runner.format_table(ranks, ["model", "step", *args.variants])
    ccols = ["run", *(f"{w} x{k:g}" for k in CONTRASTS for w in ("in", "out", "ratio")), ("train_s", "train s")]
    ctable = runner.format_table([contrast_row(r["name"], r["run"]) for r in results], ccols)
    print(table)
    print(f"\nspread over {len(args.seeds)} seed(s) (sample standard deviation):")
    print(sd_table)
    print("\nranking by training loss (seed means over the last 10 % of steps before each point; 1 = lowest):")
    print(rank_table)
    print(
        "\nmean |output(contrast-scaled photo) - output(photo)| (out), the same for the photos themselves (in), "
        "and out/in, 0-1 units, at",
        args.mid,
        "px:",
    )
    print(ctable)
    pictured = [r for r in results if r["picture"]]
    sheet = contact_sheet(
        [pictured[0]["picture"]["photo"], *(r["picture"]["run"] for r in pictured)],
        row_labels=["photo", *(r["name"].rsplit("/", 1)[0] for r in pictured)],
        col_labels=["photo", "contrast x0.5", "contrast x2"],
        cell=256 if len(pictured) <= 4 else 192,
    )
    save_image(args.picture, image_to_tensor(sheet), overwrite=True)
    plot_curves(curves, args.variants, args.curves)
    report.update(
        {
            "settings": vars(args),
            "held_back_photos": {n: str(p) for n, p in photo_files.items()},
            "runs": {r["name"]: r["run"] for r in results},
            "scores": rows,
            "curves": curves,
            "ranking": ranks,
            "table": table,
            "sd_table": sd_table,
            "rank_table": rank_table,
            "contrast_table": ctable,
        }
    )
    runner.finish_report(report, args.json)
    print()
    runner.print_notes(report["notes"], args.json, args.picture, args.curves)
    return 0


if __name__ == "__main__":
    sys.exit(main())
