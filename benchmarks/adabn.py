#!/usr/bin/env python
"""AdaBN under domain shift (Li et al. 2016, "Revisiting Batch Normalization For Practical Domain
Adaptation"), for a batch-norm style network, against instance norm.

Answers: a fast style network trained with batch norm on photos meets another domain (night
shots, a colour cast, haze, pencil sketches, paintings). Does re-estimating its BN statistics on
that domain (``instyle adapt``, weights untouched) bring its output back to what it does on
photos, and how does it compare with the same generator trained with instance norm, which
normalizes every image by its own statistics? And AdaBN on a single image, which should behave
like IN.

How it measures
---------------
* Networks: the seed-0 Johnson networks of ``benchmarks/in_vs_bn.py``'s grid (``--runs``; the
  same training, only the norm differs), BN evaluated with its training statistics as deployed.
* Domains: the held-back photos of ``in_vs_bn`` changed as a camera or a medium changes them
  (:data:`DOMAINS`), and paintings (``pacs_art`` from ``../shared/images/train/style``, PACS's art
  domain). Each domain's adaptation set is other images of that domain (training photos changed
  alike; other paintings), never the test images.
* Methods: ``BN`` (training statistics), ``BN+AdaBN`` (statistics of the domain's adaptation set,
  exact whole-domain means and variances), ``BN+AdaBN (1 image)`` (statistics of the test image
  alone: BN becomes IN at inference), ``IN`` (the instance-norm network).
* Scores: how far the output on the changed photo is from the network's output on the original
  photo (mean absolute difference, 0–1; for the BN methods the reference is the deployed BN
  network on the original photo — what AdaBN tries to recover), and the balanced scores of
  :class:`instyle.evaluate.Evaluator` against the painting and the image given (lower is better).
* A picture: one photo per domain through each method.

    python benchmarks/adabn.py                     # after: python benchmarks/in_vs_bn.py ... --out-dir runs/grid
    python benchmarks/adabn.py --smoke             # seconds: two 2-step networks, stand-in images
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import in_vs_bn, inputs, runner

NAME = "adabn"
SHARED = inputs.SHARED_IMAGES
#: name -> what it does to a photo; ``paintings`` is a folder of images, not a change
DOMAINS = {
    "photos": "unchanged (the test size differs from the training crops: a shift of scale alone)",
    "night": "exposure x0.35, gamma 1.4, bluish (R x0.8, B x1.15)",
    "warm cast": "R x1.2, B x0.7 (tungsten light, clipped)",
    "haze": "half the contrast, lifted towards 0.7 grey",
    "sketch": "pencil sketch: grey, divided by its blurred inverse (a colour dodge)",
    "paintings": "PACS art paintings (their own images)",
}
METHODS = ("BN", "BN+AdaBN", "BN+AdaBN (1 image)", "IN")
PAINTINGS = "pacs_art"
SMOKE = {"adapt_images": 4, "size": 64, "photos": 2}


def shift(x, domain: str):
    """(1, 3, H, W) in [0, 1] -> the same photo in ``domain``."""
    import torch
    import torch.nn.functional as F

    rgb = lambda *g: torch.tensor(g, dtype=x.dtype).view(1, 3, 1, 1)  # noqa: E731
    if domain == "photos":
        return x
    if domain == "night":
        return ((0.35 * x) ** 1.4 * rgb(0.8, 1.0, 1.15) * 2.2).clamp(0, 1)
    if domain == "warm cast":
        return (x * rgb(1.2, 1.0, 0.7)).clamp(0, 1)
    if domain == "haze":
        return 0.5 * x + 0.35
    if domain == "sketch":
        grey = (x * rgb(0.299, 0.587, 0.114)).sum(1, keepdim=True)
        k = max(3, (min(x.shape[-2:]) // 64) * 2 + 1)
        blur = F.avg_pool2d(F.pad(1 - grey, [k // 2] * 4, mode="replicate"), k, stride=1)
        blur = F.avg_pool2d(F.pad(blur, [k // 2] * 4, mode="replicate"), k, stride=1)
        return (grey / (1 - blur).clamp_min(1e-3)).clamp(0, 1).expand(-1, 3, -1, -1).contiguous()
    raise ValueError(f"unknown domain {domain!r}")


def find_images(args, tmp: Path) -> tuple[dict[str, Path], list[Path], list[Path], list[Path], list[str]]:
    """(test photos by name, adaptation photos, test paintings, adaptation paintings, notes)."""
    notes = []
    photos = {n: p for n in in_vs_bn.HELD_BACK if (p := inputs.find_image(SHARED / "content", n)) is not None}
    photos = dict(list(photos.items())[: args.photos])
    train = sorted((SHARED / "train" / "content").glob("*")) if (SHARED / "train" / "content").is_dir() else []
    arts = sorted((SHARED / "train" / "style").glob(f"{PAINTINGS}*")) if (SHARED / "train").is_dir() else []
    if not photos or not train or not arts:
        if not args.smoke:
            raise FileNotFoundError(f"needs the photos and paintings of {SHARED}")
        photos = {p.stem: p for p in inputs.sample_photos(args.photos, tmp / "photos")}
        train = inputs.sample_photos(args.adapt_images, tmp / "train")
        arts = inputs.sample_paintings(args.adapt_images + args.photos, tmp / "arts")
        notes.append(f"{SHARED} not found: stand-in photos and paintings (--smoke)")
    spread = lambda items, n: [items[i * len(items) // n] for i in range(min(n, len(items)))]  # noqa: E731
    test_arts = spread(arts, args.photos)
    adapt_arts = spread([a for a in arts if a not in test_arts], args.adapt_images)
    return photos, spread(train, args.adapt_images), test_arts, adapt_arts, notes


def adapted(model: Path, images: Sequence[Any], folder: Path):
    """The BN network with the statistics of ``images`` ((1, 3, H, W) tensors), through the same
    code as ``instyle adapt`` (the images written to ``folder`` and read back)."""
    from instyle.adapt import adapt_network, load_batchnorm_network
    from instyle.imageio import save_image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        paths.append(folder / f"{i:03d}.png")
        save_image(paths[-1], img, overwrite=True)
    net, _ = adapt_network(load_batchnorm_network(model), paths, size=max(images[0].shape[-2:]))
    return net


def measure(args, tmp: Path) -> tuple[list[dict[str, Any]], list[list[Any]], list[str]]:
    import torch

    from instyle.evaluate import Evaluator
    from instyle.feedforward import FastStylizer
    from instyle.imageio import load_image

    torch.set_num_threads(args.threads or torch.get_num_threads())
    photos, train, test_arts, adapt_arts, notes = find_images(args, tmp)
    style = load_image(args.style) if args.style.is_file() else load_image(inputs.sample_paintings(1, tmp / "s")[0])
    bn_file, in_file = (
        args.runs / "batch" / "seed0" / "model.safetensors",
        args.runs / "instance" / "seed0" / "model.safetensors",
    )
    bn, inn = FastStylizer(bn_file, precision="fp32"), FastStylizer(in_file, precision="fp32")
    ev = Evaluator(size=args.size)
    read = lambda p: load_image(p, size=args.size)  # noqa: E731
    originals = {n: read(p) for n, p in photos.items()}
    reference = {"BN": {n: bn(x) for n, x in originals.items()}, "IN": {n: inn(x) for n, x in originals.items()}}
    rows, picture = [], []
    for domain in DOMAINS:
        if domain == "paintings":
            tests = {p.stem: read(p) for p in test_arts}
            adapt_set = [read(p) for p in adapt_arts]
        else:
            tests = {n: shift(x, domain) for n, x in originals.items()}
            adapt_set = [shift(read(p), domain) for p in train]
        nets = {
            "BN": bn,
            "BN+AdaBN": FastStylizer(adapted(bn_file, adapt_set, tmp / domain), precision="fp32"),
            "IN": inn,
        }
        outs: dict[str, dict[str, Any]] = {m: {} for m in METHODS}
        for name, x in tests.items():
            for m, net in nets.items():
                outs[m][name] = net(x)
            outs["BN+AdaBN (1 image)"][name] = FastStylizer(
                adapted(bn_file, [x], tmp / f"{domain}-1"), precision="fp32"
            )(x)
        first = next(iter(tests))
        picture.append([tests[first], *(outs[m][first] for m in METHODS)])
        for m in METHODS:
            scores = [ev(outs[m][n], x, style) for n, x in tests.items()]
            row: dict[str, Any] = {"domain": domain, "method": m}
            row.update({k: sum(s[k] for s in scores) / len(scores) for k in ("style", "color", "content", "gram")})
            if domain != "paintings":
                ref = reference["IN" if m == "IN" else "BN"]
                row["change"] = sum(float((outs[m][n] - ref[n]).abs().mean()) for n in tests) / len(tests)
            rows.append(row)
        print(f"measured {domain}", flush=True)
    return rows, picture, notes


def train_stand_ins(folder: Path) -> Path:
    """``--smoke``: two 2-step 48-px networks (BN and IN) where the grid would be."""
    from instyle.train import FastTask, FastTrainConfig, TrainConfig, train

    content = inputs.training_folder(folder / "train", 4) / "content"
    style = inputs.sample_paintings(1, folder / "style")[0]
    for norm in ("batch", "instance"):
        cfg = TrainConfig(steps=2, batch_size=2, image_size=48, crop=32, checkpoint_every=2, sample_every=0, workers=0)
        task = FastTask([str(style)], str(content), FastTrainConfig(norm=norm, width=0.25, style_size=48))
        train(task, cfg, folder / "runs" / norm / "seed0", progress=False, say=lambda m: None)
    return folder / "runs"


def main(argv: Sequence[str] | None = None) -> int:
    p = runner.parser(NAME, __doc__.splitlines()[0])
    p.add_argument("--runs", type=Path, default=Path("runs/grid/johnson"), help="the grid's runs of one generator")
    p.add_argument("--style", type=Path, default=SHARED / "style" / f"{in_vs_bn.STYLE}.jpg", help="their painting")
    p.add_argument("--photos", type=int, default=8, help="test images per domain")
    p.add_argument("--adapt-images", type=int, default=48, help="images of each domain AdaBN adapts to")
    p.add_argument("--size", type=int, default=256, help="longer side of every image")
    p.add_argument(
        "--picture", type=Path, default=None, help="the picture (default: docs/adabn.jpg; --smoke: beside the report)"
    )
    runner.add_run_args(p, smoke=SMOKE)
    args = runner.parse_args(p, argv, NAME, SMOKE, positive=("photos", "adapt_images", "size"))
    if args.picture is None:
        args.picture = args.json.with_name("adabn.jpg") if args.smoke else runner.REPO_ROOT / "docs" / "adabn.jpg"
    with tempfile.TemporaryDirectory(prefix="adabn_") as tmpdir:
        tmp = Path(tmpdir)
        if args.smoke and not (args.runs / "batch" / "seed0" / "model.safetensors").is_file():
            args.runs = train_stand_ins(tmp / "nets")
        for norm in ("batch", "instance"):
            if not (args.runs / norm / "seed0" / "model.safetensors").is_file():
                print(f"skipped: needs {args.runs}/{norm}/seed0/model.safetensors (benchmarks/in_vs_bn.py --out-dir)")
                return 0
        report = runner.new_report(
            NAME,
            "does re-estimating a BN style network's statistics on a new domain (AdaBN) recover it, against IN?",
            settings={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            domains=DOMAINS,
        )
        rows, picture, notes = measure(args, tmp)
    from instyle.imageio import image_to_tensor, save_image
    from instyle.sheet import contact_sheet

    report["notes"] += notes
    report["rows"] = rows
    cols = [
        "domain",
        "method",
        ("change", "change vs photos", ".4f"),
        *((k, k, ".4g") for k in ("style", "color", "content", "gram")),
    ]
    report["table"] = runner.format_table(rows, cols)
    print(report["table"])
    sheet = contact_sheet(picture, row_labels=list(DOMAINS), col_labels=["input", *METHODS], cell=192)
    save_image(args.picture, image_to_tensor(sheet), overwrite=True)
    runner.finish_report(report, args.json)
    runner.print_notes(report["notes"], args.json, args.picture)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
