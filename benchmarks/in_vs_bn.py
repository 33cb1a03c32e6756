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
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, runner

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
    args = runner.parse_args(p, argv, "in_vs_bn", SMOKE, positive=("steps", "batch"))
    if args.picture is None:
        args.picture = args.json.with_name("in_vs_bn.jpg") if args.smoke else PICTURE
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


def train_variants(args: argparse.Namespace, content_dir: Path, style: Path, out_root: Path) -> dict[str, dict]:
    """Train every variant the same way (only the norm, or the content layer, differs)."""
    from instyle.train import FastTask, FastTrainConfig, TrainConfig, train

    runs: dict[str, dict[str, Any]] = {}
    for variant in args.variants:
        norm, _, layer = variant.partition("@")
        cfg = TrainConfig(
            steps=args.steps,
            batch_size=args.batch,
            lr=args.lr,
            schedule="constant",
            image_size=args.image_size,
            crop=args.crop,
            seed=0,
            checkpoint_every=max(1, args.steps),
            sample_every=0,
            log_every=max(1, min(50, args.steps)),
            device=args.device,
            workers=0,
        )
        task = FastTask(
            [str(style)],
            str(content_dir),
            FastTrainConfig(
                norm=norm,
                width=args.width,
                style_weight=args.style_weight,
                style_size=256,
                content_layer=layer or "relu3_1",
            ),
        )
        t0 = time.perf_counter()
        res = train(task, cfg, out_root / variant, overwrite=True, progress=False)
        runs[variant] = {
            "train_s": round(time.perf_counter() - t0, 1),
            "final_losses": res.losses,
            "model": str(out_root / variant / "model.safetensors"),
        }
        print(f"trained {variant}: {args.steps} steps in {runs[variant]['train_s']} s, losses {res.losses}")
    return runs


def contrast_row(name: str, run: dict[str, Any]) -> dict[str, Any]:
    """The contrast table's row of one run."""
    return {
        "run": name,
        "train_s": run["train_s"],
        **{f"out {k}": v for k, v in run["contrast_change"].items()},
        **{f"in {k}": v for k, v in run["input_change"].items()},
        **{f"ratio {k}": v for k, v in run["change_ratio"].items()},
    }


def evaluate_runs(
    args: argparse.Namespace, runs: dict[str, dict[str, Any]], photos: dict[str, Any], style_img: Any, mid: int
) -> tuple[list[dict[str, Any]], dict[str, list]]:
    """Score every run on the held-back photos at every size, and measure its contrast dependence at
    ``mid`` px (into ``runs``): (score rows, picture rows)."""
    from instyle.evaluate import Evaluator
    from instyle.feedforward import FastStylizer
    from instyle.resize import resize_longer

    rows: list[dict[str, Any]] = []
    pictures: dict[str, list] = {}
    for variant, run in runs.items():
        fs = FastStylizer(run["model"], precision="fp32")
        for size in args.sizes:
            ev = Evaluator(size=size)
            scores = []
            for photo in photos.values():
                x = resize_longer(photo, size)
                scores.append(ev(fs(x), x, style_img))
            means = {k: sum(s[k] for s in scores) / len(scores) for k in scores[0]}
            rows.append({"run": variant, "size": size, **means})
        changes = {k: [] for k in CONTRASTS}
        input_changes = {k: [] for k in CONTRASTS}
        for name, photo in photos.items():
            x = resize_longer(photo, mid)
            base = fs(x)
            outs = {k: fs(contrast(x, k)) for k in CONTRASTS}
            for k in CONTRASTS:
                changes[k].append(float((outs[k] - base).abs().mean()))
                input_changes[k].append(float((contrast(x, k) - x).abs().mean()))
            if name == next(iter(photos)):
                pictures[variant] = [base] + [outs[k] for k in CONTRASTS]
                pictures["photo"] = [x] + [contrast(x, k) for k in CONTRASTS]
        run["contrast_change"] = {f"x{k:g}": sum(v) / len(v) for k, v in changes.items()}
        run["input_change"] = {f"x{k:g}": sum(v) / len(v) for k, v in input_changes.items()}
        run["change_ratio"] = {
            f"x{k:g}": run["contrast_change"][f"x{k:g}"] / run["input_change"][f"x{k:g}"] for k in CONTRASTS
        }
    return rows, pictures


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.smoke and (not args.content_dir.is_dir() or not args.style.is_file()):
        print(f"skipped: needs {args.content_dir} and {args.style} (../shared)")
        return 0

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from instyle.imageio import image_to_tensor, load_image, save_image
    from instyle.sheet import contact_sheet

    report = runner.new_report(
        "in_vs_bn",
        "does instance norm stylize better than batch norm in the same fast "
        "network, and depend less on the photo's contrast?",
    )
    mid = 512 if 512 in args.sizes else args.sizes[-1]
    with tempfile.TemporaryDirectory(prefix="in_vs_bn_") as tmpdir:
        out_root = args.out_dir or Path(tmpdir)
        content_dir, style, photo_files, notes = find_inputs(args, Path(tmpdir) / "inputs")
        report["notes"] += notes
        runs = train_variants(args, content_dir, style, out_root)
        photos = {n: load_image(p) for n, p in photo_files.items()}
        rows, pictures = evaluate_runs(args, runs, photos, load_image(style), mid)

    table = runner.format_table(
        rows,
        [
            ("run", "run"),
            ("size", "px"),
            ("content", "content", ".4g"),
            ("style_mean_std", "style mean/std", ".4g"),
            ("style_gram", "style Gram", ".4g"),
        ],
    )
    ccols = ["run", *(f"{w} x{k:g}" for k in CONTRASTS for w in ("in", "out", "ratio")), ("train_s", "train s")]
    ctable = runner.format_table([contrast_row(n, r) for n, r in runs.items()], ccols)
    print(table)
    print(
        "\nmean |output(contrast-scaled photo) - output(photo)| (out), the same for the photos themselves (in), "
        "and out/in, 0-1 units, at",
        mid,
        "px:",
    )
    print(ctable)
    sheet = contact_sheet(
        [pictures["photo"], *(pictures[v] for v in runs)],
        row_labels=["photo", *runs],
        col_labels=["photo", "contrast x0.5", "contrast x2"],
        cell=256,
    )
    save_image(args.picture, image_to_tensor(sheet), overwrite=True)
    report.update(
        {
            "settings": vars(args),
            "held_back_photos": {n: str(p) for n, p in photo_files.items()},
            "runs": runs,
            "scores": rows,
            "table": table,
            "contrast_table": ctable,
        }
    )
    runner.finish_report(report, args.json)
    print()
    runner.print_notes(report["notes"], args.json, args.picture)
    return 0


if __name__ == "__main__":
    sys.exit(main())
