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

Usage (from the repository root)::

    python benchmarks/in_vs_bn.py                                  # CPU: a short budget
    python benchmarks/in_vs_bn.py --steps 4000 --batch 8 --crop 256 --device cuda
    python benchmarks/in_vs_bn.py --quick                          # smoke test, minutes
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

common.ensure_instyle_importable()

SHARED = common.REPO_ROOT.parent / "shared" / "images"
HELD_BACK = ("adain_golden_gate", "adain_chicago", "adain_sailboat", "adaattn_tubingen", "artflow_kitten",
             "adain_cornell", "adain_flowers", "anish_stata_center")
STYLE = "jcfast_starry_night_crop"
SIZES = (256, 512, 1080)
CONTRASTS = (0.5, 2.0)
# NORM[@CONTENT_LAYER]; content defaults to relu3_1 (FastTrainConfig's default)
VARIANTS = ("instance", "batch", "instance@relu2_2")


def contrast(img, k: float):
    """(1, 3, H, W): scale the deviation from the image's mean by ``k``, clamp to [0, 1]."""
    m = img.mean(dim=(1, 2, 3), keepdim=True)
    return (m + k * (img - m)).clamp(0, 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--style-weight", type=float, default=5.0)
    p.add_argument("--style", default=str(SHARED / "style" / f"{STYLE}.jpg"))
    p.add_argument("--content-dir", default=str(SHARED / "train" / "content"))
    p.add_argument("--held-back", nargs="*", default=list(HELD_BACK))
    p.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out-dir", default=None, help="keep the two runs here (default: a temporary folder)")
    p.add_argument("--picture", default=str(common.REPO_ROOT / "docs" / "in_vs_bn.jpg"))
    p.add_argument("--json", default=str(common.BENCH_DIR / "results" / "in_vs_bn.json"))
    p.add_argument("--variants", nargs="+", default=list(VARIANTS),
                   help="runs as NORM or NORM@CONTENT_LAYER (default: instance, batch, and instance with "
                        "content at relu2_2 for the content-layer choice)")
    p.add_argument("--quick", action="store_true", help="smoke test: tiny budget and sizes")
    args = p.parse_args()
    if args.quick:
        args.steps, args.batch, args.crop, args.image_size, args.width = 4, 2, 64, 64, 0.25
        args.sizes, args.held_back = [64, 96], args.held_back[:2]
        args.picture = str(Path(tempfile.gettempdir()) / "in_vs_bn_quick.jpg")
        args.json = str(Path(tempfile.gettempdir()) / "in_vs_bn_quick.json")
    if not Path(args.content_dir).is_dir() or not Path(args.style).is_file():
        print(f"skipped: needs {args.content_dir} and {args.style} (../shared)")
        return 0

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from instyle.evaluate import Evaluator
    from instyle.feedforward import FastStylizer
    from instyle.imageio import image_to_tensor, load_image, save_image
    from instyle.resize import resize_longer
    from instyle.sheet import contact_sheet
    from instyle.train import FastTask, FastTrainConfig, TrainConfig, train

    info = common.machine_info()
    out_root = Path(args.out_dir) if args.out_dir else Path(tempfile.mkdtemp(prefix="in_vs_bn_"))
    runs: Dict[str, Dict[str, Any]] = {}
    for variant in args.variants:
        norm, _, layer = variant.partition("@")
        cfg = TrainConfig(steps=args.steps, batch_size=args.batch, lr=args.lr, schedule="constant",
                          image_size=args.image_size, crop=args.crop, seed=0, checkpoint_every=max(1, args.steps),
                          sample_every=0, log_every=max(1, min(50, args.steps)), device=args.device, workers=0)
        task = FastTask([args.style], args.content_dir,
                        FastTrainConfig(norm=norm, width=args.width, style_weight=args.style_weight, style_size=256,
                                        content_layer=layer or "relu3_1"))
        t0 = time.perf_counter()
        res = train(task, cfg, out_root / variant, overwrite=True, progress=False)
        runs[variant] = {"train_s": round(time.perf_counter() - t0, 1), "final_losses": res.losses,
                         "model": str(out_root / variant / "model.safetensors")}
        print(f"trained {variant}: {args.steps} steps in {runs[variant]['train_s']} s, losses {res.losses}")

    style_img = load_image(args.style)
    photos = {n: load_image(SHARED / "content" / f"{n}.jpg") for n in args.held_back
              if (SHARED / "content" / f"{n}.jpg").is_file()}
    rows: List[Dict[str, Any]] = []
    pictures: Dict[str, List] = {}
    for variant, run in runs.items():
        fs = FastStylizer(run["model"], precision="fp32")
        for size in args.sizes:
            ev = Evaluator(size=size)
            scores = []
            for name, photo in photos.items():
                x = resize_longer(photo, size)
                scores.append(ev(fs(x), x, style_img))
            rows.append({"run": variant, "size": size, **{k: sum(s[k] for s in scores) / len(scores) for k in scores[0]}})
        mid = 512 if 512 in args.sizes else args.sizes[-1]
        changes = {k: [] for k in CONTRASTS}
        inputs = {k: [] for k in CONTRASTS}
        for name, photo in photos.items():
            x = resize_longer(photo, mid)
            base = fs(x)
            outs = {k: fs(contrast(x, k)) for k in CONTRASTS}
            for k in CONTRASTS:
                changes[k].append(float((outs[k] - base).abs().mean()))
                inputs[k].append(float((contrast(x, k) - x).abs().mean()))
            if name == next(iter(photos)):
                pictures[variant] = [base] + [outs[k] for k in CONTRASTS]
                pictures["photo"] = [x] + [contrast(x, k) for k in CONTRASTS]
        run["contrast_change"] = {f"x{k:g}": sum(v) / len(v) for k, v in changes.items()}
        run["input_change"] = {f"x{k:g}": sum(v) / len(v) for k, v in inputs.items()}
        run["change_ratio"] = {f"x{k:g}": run["contrast_change"][f"x{k:g}"] / run["input_change"][f"x{k:g}"]
                               for k in CONTRASTS}

    table = common.format_table(rows, [("run", "run"), ("size", "px"), ("content", "content", ".4g"),
                                       ("style_mean_std", "style mean/std", ".4g"), ("style_gram", "style Gram", ".4g")])
    crow = lambda n, r: {"run": n, "train_s": r["train_s"],  # noqa: E731
                         **{f"out {k}": v for k, v in r["contrast_change"].items()},
                         **{f"in {k}": v for k, v in r["input_change"].items()},
                         **{f"ratio {k}": v for k, v in r["change_ratio"].items()}}
    ccols = ["run", *(f"{w} x{k:g}" for k in CONTRASTS for w in ("in", "out", "ratio")), ("train_s", "train s")]
    ctable = common.format_table([crow(n, r) for n, r in runs.items()], ccols)
    print(table)
    print("\nmean |output(contrast-scaled photo) - output(photo)| (out), the same for the photos themselves (in), "
          "and out/in, 0-1 units, at", mid, "px:")
    print(ctable)
    labels = ["photo", "contrast x0.5", "contrast x2"]
    sheet = contact_sheet([pictures["photo"], *(pictures[v] for v in runs)],
                          row_labels=["photo", *runs], col_labels=labels, cell=256)
    Path(args.picture).parent.mkdir(parents=True, exist_ok=True)
    save_image(args.picture, image_to_tensor(sheet), overwrite=True)
    common.write_json(args.json, {"machine": info, "command": common.command_line(), "settings": vars(args),
                                  "runs": runs, "scores": rows, "table": table, "contrast_table": ctable})
    print(f"\nwrote {args.json} and {args.picture}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
