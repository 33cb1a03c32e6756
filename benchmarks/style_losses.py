#!/usr/bin/env python
"""Gatys optimization with each style loss on the same pairs: Gram, mean/std, and MMD with the
linear, 2nd-order polynomial and Gaussian kernels (Li et al. 2017, "Demystifying Neural Style
Transfer"), as one sheet and one table.

Li et al. show that matching Gram matrices minimizes an MMD with the kernel k(x, y) = (xᵀy)², so
``gram`` and ``mmd_poly2`` should give the same picture (the identity is exact:
tests/test_losses.py), and that the other kernels and BN-statistics (mean/std) matching also
transfer style, each with its own look. Every run is :class:`instyle.optimize.GatysOptimizer`
with its defaults (L-BFGS from the photo, balanced layer weights, so each loss's layers count
alike) but for ``style_loss``; each output is scored with ``instyle evaluate``'s balanced scores
against its own photo and painting.

    python benchmarks/style_losses.py                 # docs/style_losses.jpg, results/style_losses.json
    python benchmarks/style_losses.py --smoke
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, runner

NAME = "style_losses"
SMOKE = {"size": 64, "steps": 2, "photos": 1, "paintings": 1}
DOCS = runner.REPO_ROOT / "docs"
PHOTOS = ("adain_chicago", "adain_blonde_girl", "artflow_half_dome_yosemite_national_park")
PAINTINGS = ("jcfast_starry_night_crop", "pytorch_mosaic", "neuralstyle_the_scream")
SCORES = ("content", "style", "gram", "color")


def run(args) -> tuple[list[dict[str, Any]], list[list[Any]], list[str]]:
    import torch

    from instyle.choices import STYLE_LOSSES
    from instyle.evaluate import Evaluator
    from instyle.imageio import load_image
    from instyle.optimize import GatysOptimizer, OptimizeConfig

    torch.set_num_threads(args.threads or torch.get_num_threads())
    photos, paintings = _inputs(args)
    ev = Evaluator(size=min(256, args.size))
    defaults = OptimizeConfig().loss
    optimizers = {
        kind: GatysOptimizer(OptimizeConfig(steps=args.steps, precision="fp32", loss=_with_loss(defaults, kind)))
        for kind in STYLE_LOSSES
    }
    rows, grid, labels = [], [], []
    for photo in photos:
        content = load_image(photo, size=args.size)
        for painting in paintings:
            style = load_image(painting, size=args.size)
            cells: list[Any] = [content, style]
            for kind, optimizer in optimizers.items():
                t0 = time.perf_counter()
                out = optimizer(content, [style])
                seconds = time.perf_counter() - t0
                cells.append(out)
                scores = ev(out, content, style)
                rows.append(
                    {"photo": photo.stem, "painting": painting.stem, "loss": kind, "seconds": seconds}
                    | {k: scores[k] for k in SCORES}
                )
            grid.append(cells)
            labels.append(f"{photo.stem[:18]} / {painting.stem[:18]}")
    return rows, grid, labels


def _with_loss(weights, kind: str):
    from dataclasses import replace

    return replace(weights, style_loss=kind)


def _inputs(args) -> tuple[list[Path], list[Path]]:
    folder = inputs.SHARED_IMAGES
    photos = [inputs.find_image(folder / "content", n) for n in PHOTOS[: args.photos]] if folder.is_dir() else [None]
    paintings = (
        [inputs.find_image(folder / "style", n) for n in PAINTINGS[: args.paintings]] if folder.is_dir() else [None]
    )
    if None in photos or None in paintings:  # no shared images (CI): generated stand-ins
        tmp = Path(args.json).parent
        return inputs.sample_photos(args.photos, tmp), inputs.sample_paintings(args.paintings, tmp)
    return [p for p in photos if p], [p for p in paintings if p]


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per loss: the mean of each score over the pairs, and on how many pairs it has the lowest."""
    losses = list(dict.fromkeys(r["loss"] for r in rows))
    pairs = list(dict.fromkeys((r["photo"], r["painting"]) for r in rows))
    out = []
    for kind in losses:
        mine = [r for r in rows if r["loss"] == kind]
        row: dict[str, Any] = {"loss": kind, "pairs": len(mine)}
        for k in SCORES:
            row[k] = sum(r[k] for r in mine) / len(mine)
            row[f"{k}_best"] = sum(
                min((r for r in rows if (r["photo"], r["painting"]) == p), key=lambda r: r[k])["loss"] == kind
                for p in pairs
            )
        row["seconds"] = sum(r["seconds"] for r in mine) / len(mine)
        out.append(row)
    return out


def main(argv=None) -> int:
    p = runner.parser(NAME, __doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256, help="longer side of photo and painting")
    p.add_argument("--steps", type=int, default=150, help="L-BFGS evaluations per run")
    p.add_argument("--photos", type=int, default=2, help=f"how many of {', '.join(PHOTOS)}")
    p.add_argument("--paintings", type=int, default=3, help=f"how many of {', '.join(PAINTINGS)}")
    p.add_argument("--picture", type=Path, default=None, help="the sheet (default docs/style_losses.jpg)")
    runner.add_run_args(p, smoke=SMOKE)
    args = runner.parse_args(p, argv, NAME, SMOKE, positive=("size", "steps", "photos", "paintings"))
    if args.photos > len(PHOTOS) or args.paintings > len(PAINTINGS):
        p.error(f"--photos is at most {len(PHOTOS)} and --paintings at most {len(PAINTINGS)}")
    report = runner.new_report(
        NAME,
        "Do Gram and MMD(poly-2) give the same picture, and how do the other style losses differ?",
        settings={k: getattr(args, k) for k in ("size", "steps", "photos", "paintings", "smoke")},
    )
    rows, grid, labels = run(args)
    report["rows"] = rows
    report["summary"] = summarize(rows)
    from instyle.choices import STYLE_LOSSES
    from instyle.sheet import contact_sheet

    sheet = contact_sheet(
        grid, row_labels=labels, col_labels=["photo", "painting", *STYLE_LOSSES], cell=min(256, args.size)
    )
    picture = args.picture or (Path(args.json).parent / f"{NAME}.jpg" if args.smoke else DOCS / f"{NAME}.jpg")
    sheet.save(picture, quality=90)
    report["picture"] = str(picture)
    print(runner.format_table(report["summary"], ["loss", *SCORES, *(f"{k}_best" for k in SCORES), "seconds"]))
    runner.finish_report(report, args.json)
    runner.print_notes(report["notes"], args.json, picture)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
