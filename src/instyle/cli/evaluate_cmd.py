"""``instyle evaluate``: score stylized images against their content and style images."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

from . import common

HELP = "score stylized images: balanced style, colour, content and Gram scores (and the raw VGG sums)"

EPILOG = """examples:
  instyle evaluate out.png --content photo.jpg --style starry.jpg
  instyle evaluate a.png b.png --content photo.jpg --style starry.jpg -o scores.json
  instyle evaluate --pairs runs.csv -o scores.json     # CSV columns: output,content,style[,method]
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = common.add_command(sub, "evaluate", HELP, EPILOG)
    p.add_argument("outputs", nargs="*", help="stylized images to score (all against --content/--style)")
    p.add_argument("--content", help="the content image the outputs were made from")
    p.add_argument("--style", help="the style image the outputs were made with")
    p.add_argument("--pairs", help="CSV file with columns output,content,style and optionally method")
    p.add_argument(
        "--size",
        type=common.image_size,
        default=512,
        help="evaluation size: longer side in pixels (default 512; keep it fixed to compare runs)",
    )
    p.add_argument("-o", "--output", help="write the scores as JSON to this file")
    p.add_argument("--overwrite", action="store_true", help="replace the JSON file if it exists")
    p.add_argument("--json", action="store_true", help="print the scores as JSON instead of a table")
    p.set_defaults(run=run)


def _rows_from_args(args: argparse.Namespace) -> list[dict]:
    from ..errors import InstyleError, UsageError
    from ..files import open_regular

    if args.pairs:
        if args.outputs or args.content or args.style:
            raise UsageError("give either --pairs or OUTPUT… with --content and --style, not both")
        try:
            with (
                open_regular(args.pairs, lambda reason: InstyleError(f"cannot read {args.pairs}: {reason}")) as raw,
                io.TextIOWrapper(raw, newline="", encoding="utf-8-sig") as f,
            ):  # -sig: Excel's BOM
                rows = [dict(r) for r in csv.DictReader(f)]
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise InstyleError(f"cannot read {args.pairs}: {e}") from None
        need = {"output", "content", "style"}
        if not rows or not need <= set(rows[0]):
            raise InstyleError(f"{args.pairs} needs a header with columns output,content,style[,method] and rows")
        for i, r in enumerate(rows, start=1):
            if not all(r.get(k) for k in need):  # a short row gives None, an empty cell ""
                raise InstyleError(f"{args.pairs} row {i}: output, content and style must all be given")
        return [
            {
                "method": r.get("method") or Path(r["output"]).stem,
                "output": r["output"],
                "content": r["content"],
                "style": r["style"],
            }
            for r in rows
        ]
    if not args.outputs or not args.content or not args.style:
        raise UsageError("give OUTPUT images with --content and --style (or --pairs FILE)")
    return [{"method": Path(o).stem, "output": o, "content": args.content, "style": args.style} for o in args.outputs]


def run(args: argparse.Namespace) -> int:
    from ..atomic import write_text
    from ..evaluate import METRICS, Evaluator, format_table, summarize
    from ..imageio import load_image

    rows = _rows_from_args(args)
    if args.output:
        common.check_output_free(args.output, args.overwrite)
    evaluator = Evaluator(size=args.size)
    cache: dict = {}

    def image(path: str):
        if path not in cache:
            cache[path] = load_image(path)
        return cache[path]

    for r in rows:
        scores = evaluator(image(r["output"]), image(r["content"]), image(r["style"]))
        # The "content" metric would overwrite the "content" path: keep the paths under their own names.
        r["content_image"], r["style_image"] = r.pop("content"), r.pop("style")
        r.update(scores)
    mean = summarize(rows)
    report = {"size": args.size, "metrics": list(METRICS), "rows": rows, "mean": mean}
    if args.output:
        write_text(args.output, json.dumps(report, indent=2) + "\n", overwrite=args.overwrite)
    if args.json:
        common.emit_json(report)
    else:
        table = rows + ([{"method": "mean", **mean}] if len(rows) > 1 else [])
        print(format_table(table, ["method", *METRICS]))
        if args.output:
            print(f"wrote {args.output}")
    return 0
