#!/usr/bin/env python
"""AdaIN's content-style trade-off α and style interpolation (Huang & Belongie 2017, figs. 9-10),
and the built-in network's conditional-IN blends (Dumoulin et al. 2017), as sheets and numbers.

For one photo: the light AdaIN network at α = 0, 0.25, 0.5, 0.75, 1; AdaIN interpolating two
paintings' statistics (weights 0 … 1); the built-in network blending two of its styles' (γ, β)
(weights 0 … 1). Each picture is scored with ``instyle evaluate``'s balanced scores: the claim is
that α moves the output monotonically from the photo (content distance 0 at α = 0) to the full
stylization, and that interpolation moves it monotonically from one style to the other.

    python benchmarks/interpolation.py                  # sheets in docs/, numbers in results/
    python benchmarks/interpolation.py --smoke
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, runner

NAME = "interpolation"
SMOKE = {"size": 96, "steps": 3}
DOCS = runner.REPO_ROOT / "docs"


def run(args) -> tuple[list[dict[str, Any]], dict[str, list]]:
    import torch

    from instyle.evaluate import Evaluator
    from instyle.feedforward import FastStylizer
    from instyle.imageio import load_image
    from instyle.stylize import AdaINStylizer

    torch.set_num_threads(args.threads or torch.get_num_threads())
    photo, paintings = _inputs(args)
    content = load_image(photo, size=args.size)
    styles = [load_image(p, size=args.size) for p in paintings]
    weights = [i / (args.steps - 1) for i in range(args.steps)]
    adain = AdaINStylizer(precision="fp32")
    fast = FastStylizer(precision="fp32")
    ev = Evaluator(size=min(256, args.size))
    rows, pictures = [], {"alpha": [], "adain_blend": [], "cin_blend": []}
    stats = [adain.style_stats(s) for s in styles]
    for w in weights:
        out = adain(content, stats[:1], alpha=w)
        pictures["alpha"].append(out)
        rows.append({"sweep": "alpha", "weight": w, **_scores(ev, out, content, styles[0])})
    for w in weights:  # the second painting's share
        out = adain(content, stats, weights=[1 - w, w])
        pictures["adain_blend"].append(out)
        rows.append({"sweep": "adain_blend", "weight": w, **_scores(ev, out, content, styles[0], styles[1])})
    a, b = args.fast_styles
    for w in weights:
        out = fast(content, [a, b], weights=[1 - w, w]) if 0 < w < 1 else fast(content, b if w else a)
        pictures["cin_blend"].append(out)
        rows.append({"sweep": "cin_blend", "weight": w, **_scores(ev, out, content, *_fast_paintings(args, a, b))})
    return rows, pictures


def _scores(ev, out, content, style, other=None) -> dict[str, float]:
    s = ev(out, content, style)
    row = {"content": s["content"], "style_to_first": s["style"], "color_to_first": s["color"]}
    if other is not None:
        o = ev(out, content, other)
        row.update({"style_to_second": o["style"], "color_to_second": o["color"]})
    return row


def _inputs(args) -> tuple[Path, list[Path]]:
    folder = inputs.SHARED_IMAGES
    photo = inputs.find_image(folder / "content", "adain_chicago") if folder.is_dir() else None
    paintings = [inputs.find_image(folder / "style", n) for n in ("jcfast_starry_night_crop", "pytorch_mosaic")]
    if photo is None or None in paintings:
        tmp = Path(args.json).parent
        return inputs.sample_photos(1, tmp)[0], inputs.sample_paintings(2, tmp)
    return photo, paintings


def _fast_paintings(args, a: str, b: str):
    """The paintings of built-in styles ``a`` and ``b`` (scripts/build_presets.py), for scoring."""
    from instyle.imageio import load_image

    sys.path.insert(0, str(runner.REPO_ROOT / "scripts"))
    from build_presets import PRESETS

    found = [inputs.find_image(inputs.SHARED_IMAGES / "style", Path(PRESETS[n]).stem) for n in (a, b)]
    if None in found:
        found = inputs.sample_paintings(2, Path(args.json).parent)
    return [load_image(p, size=args.size) for p in found]


def main(argv=None) -> int:
    p = runner.parser(NAME, __doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=384, help="longer side of the photo")
    p.add_argument("--steps", type=int, default=5, help="weights from 0 to 1 in each sweep")
    p.add_argument("--fast-styles", nargs=2, default=["starry_night", "mosaic"], help="two built-in styles to blend")
    p.add_argument("--picture", type=Path, default=None, help="the sheet (default docs/interpolation.jpg)")
    runner.add_run_args(p, smoke=SMOKE)
    args = runner.parse_args(p, argv, NAME, SMOKE, positive=("size", "steps"))
    if args.steps < 2:
        p.error("--steps must be >= 2")
    report = runner.new_report(
        NAME,
        "Do α and style interpolation move the output monotonically between their ends?",
        settings={"size": args.size, "steps": args.steps, "fast_styles": args.fast_styles, "smoke": args.smoke},
    )
    rows, pictures = run(args)
    report["rows"] = rows
    report["monotonic"] = {
        "alpha_content": _monotonic([r["content"] for r in rows if r["sweep"] == "alpha"], up=True),
        "alpha_style": _monotonic([r["style_to_first"] for r in rows if r["sweep"] == "alpha"], up=False),
        "adain_blend_to_second": _monotonic(
            [r["style_to_second"] for r in rows if r["sweep"] == "adain_blend"], up=False
        ),
        "cin_blend_to_second": _monotonic([r["style_to_second"] for r in rows if r["sweep"] == "cin_blend"], up=False),
    }
    from instyle.sheet import contact_sheet

    labels = [f"{w:.2f}" for w in sorted({r["weight"] for r in rows})]
    sheet = contact_sheet(
        [pictures[k] for k in ("alpha", "adain_blend", "cin_blend")],
        row_labels=["AdaIN alpha", "AdaIN blend", "CIN blend"],
        col_labels=labels,
        cell=min(256, args.size),
        tight=True,
    )
    picture = args.picture or (
        Path(args.json).parent / "interpolation.jpg" if args.smoke else DOCS / "interpolation.jpg"
    )
    sheet.save(picture, quality=90)
    report["picture"] = str(picture)
    print(runner.format_table(rows, ["sweep", "weight", "content", "style_to_first", "style_to_second"]))
    print("monotonic:", ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in report["monotonic"].items()))
    runner.finish_report(report, args.json)
    runner.print_notes(report["notes"], args.json, picture)
    return 0


def _monotonic(values: list[float], *, up: bool) -> bool:
    pairs = list(itertools.pairwise(values))
    return all(b >= a for a, b in pairs) if up else all(b <= a for a, b in pairs)


if __name__ == "__main__":
    raise SystemExit(main())
