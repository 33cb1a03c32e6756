"""Render docs/distill.jpg: held-out photos in a few built-in styles, the large network (the
teacher) next to the built-in one distilled from it.

Usage (from the repo root, needs ../shared/images):
    .venv/bin/python docs/scripts/distill_sheet.py --size 384 --styles starry_night mosaic candy sketch
"""

from __future__ import annotations

import argparse
from pathlib import Path

from instyle import FastStylizer, load_image
from instyle.atomic import write_with
from instyle.sheet import contact_sheet

SHARED = Path(__file__).resolve().parents[3] / "shared" / "images"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contents", nargs="+", default=["adain_golden_gate", "adain_chicago"])
    ap.add_argument("--styles", nargs="+", default=["starry_night", "mosaic", "candy", "sketch"])
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--large", default="builtin-large", help="the teacher (default: the shipped large network)")
    ap.add_argument("--small", default="builtin", help="the student (default: the built-in network)")
    ap.add_argument("-o", "--output", default="docs/distill.jpg")
    args = ap.parse_args()
    large, small = FastStylizer(args.large), FastStylizer(args.small)
    rows = []
    for name in args.contents:
        photo = load_image(SHARED / "content" / f"{name}.jpg", size=args.size)
        rows.append([photo] + [net(photo, style) for style in args.styles for net in (large, small)])
    labels = [""] + [f"{s} ({w})" for s in args.styles for w in ("large", "built-in")]
    sheet = contact_sheet(rows, col_labels=labels, cell=args.size)
    write_with(args.output, lambda f: sheet.save(f, format="JPEG", quality=88), overwrite=True, what="image")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
