"""Render docs/style_weight_sweep.jpg: one content/style pair at several style weights.

Usage (from the repo root, needs ../shared/images):
    .venv/bin/python docs/scripts/style_weight_sweep.py --size 256 --steps 80 --weights 1 10 100 1000
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from instyle import GatysOptimizer, OptimizeConfig, load_image
from instyle.atomic import write_with
from instyle.sheet import contact_sheet

SHARED = Path(__file__).resolve().parents[3] / "shared" / "images"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--content", default=str(SHARED / "content" / "adain_golden_gate.jpg"))
    ap.add_argument("--style", default=str(SHARED / "style" / "neuralstyle_starry_night.jpg"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--weights", type=float, nargs="+", default=[1, 10, 100, 1000])
    ap.add_argument("-o", "--output", default="docs/style_weight_sweep.jpg")
    args = ap.parse_args()
    content, style = load_image(args.content, size=args.size), load_image(args.style, size=args.size)
    cfg = OptimizeConfig(steps=args.steps)
    row = [GatysOptimizer(replace(cfg, loss=replace(cfg.loss, style_weight=w)))(content, [style]) for w in args.weights]
    sheet = contact_sheet([row], col_labels=[f"style weight {w:g}" for w in args.weights], cell=args.size)
    write_with(args.output, lambda f: sheet.save(f, format="JPEG", quality=88), overwrite=True, what="image")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
