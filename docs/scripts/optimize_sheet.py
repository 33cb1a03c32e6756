"""Render docs/gatys_contact_sheet.jpg: 4 contents × 4 styles with `instyle`'s Gatys optimizer.

Usage (from the repo root, needs ../shared/images):
    .venv/bin/python docs/scripts/optimize_sheet.py --size 384 --steps 200

Every cell is made with the default OptimizeConfig (what `instyle optimize` does) at --size.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from instyle import GatysOptimizer, OptimizeConfig, load_image
from instyle.atomic import write_text, write_with
from instyle.sheet import contact_sheet

SHARED = Path(__file__).resolve().parents[3] / "shared" / "images"
CONTENTS = ["adain_golden_gate", "neuralstyle_tubingen", "adain_brad_pitt", "adain_flowers"]
STYLES = ["neuralstyle_starry_night", "faststyle_wave", "adain_picasso_self_portrait", "jcfast_composition_vii"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("-o", "--output", default="docs/gatys_contact_sheet.jpg")
    args = ap.parse_args()
    opt = GatysOptimizer(OptimizeConfig(steps=args.steps))
    contents = [load_image(SHARED / "content" / f"{n}.jpg", size=args.size) for n in CONTENTS]
    styles = [load_image(SHARED / "style" / f"{n}.jpg", size=args.size) for n in STYLES]
    grid, log = [], []
    for cname, c in zip(CONTENTS, contents):
        row = [c]
        for sname, s in zip(STYLES, styles):
            t0 = time.perf_counter()
            row.append(opt(c, [s]))
            log.append({"content": cname, "style": sname, "seconds": round(time.perf_counter() - t0, 1)})
            print(json.dumps(log[-1]), flush=True)
        grid.append(row)
    sheet = contact_sheet(
        grid,
        header=[None, *styles],
        row_labels=[n.split("_", 1)[1] for n in CONTENTS],
        col_labels=["content", *[n.split("_", 1)[1] for n in STYLES]],
        cell=args.size // 2 + 64,
    )
    write_with(args.output, lambda f: sheet.save(f, format="JPEG", quality=88), overwrite=True, what="image")
    write_text(
        Path(args.output).with_suffix(".json"),
        json.dumps(
            {"size": args.size, "steps": args.steps, "config": "OptimizeConfig() defaults", "cells": log}, indent=2
        )
        + "\n",
        overwrite=True,
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
