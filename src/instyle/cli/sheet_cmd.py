"""``instyle sheet``: one photo in every built-in style, on one labelled contact sheet."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..choices import METHODS, PRECISIONS
from . import common

if TYPE_CHECKING:
    from ..sheet import Picture

HELP = "render a photo in every built-in style (or the ones you list) on one labelled sheet"

EPILOG = """examples:
  instyle sheet photo.jpg -o sheet.png                  # every style of the built-in network
  instyle sheet photo.jpg -o sheet.jpg --styles starry_night,wave,mosaic --size 384 --columns 4
  instyle sheet photo.jpg -o presets.png --method adain  # every AdaIN preset
  instyle sheet photo.jpg -o mine.png --styles a.jpg,b.jpg   # your own style images (AdaIN)
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = common.add_command(sub, "sheet", HELP, EPILOG)
    p.add_argument("content", help="the photo (a file, or - for stdin)")
    p.add_argument("-o", "--output", required=True, help="the sheet image (.png/.jpg/…, or - for PNG on stdout)")
    p.add_argument(
        "--styles",
        default=None,
        help="comma list of built-in styles, presets or style images (default: every built-in style "
        "of the network; with --method adain, every preset)",
    )
    p.add_argument("--method", choices=METHODS, default="auto", help=common.METHOD_HELP)
    p.add_argument("--size", type=common.image_size, default=256, help="longer side of each cell (default 256)")
    p.add_argument("--columns", type=common.positive_int, default=5, help="cells per row (default 5)")
    common.add_adain_network_options(p)
    p.add_argument("--precision", choices=PRECISIONS, default="auto")
    common.add_backend_option(p)
    common.add_output_options(p, images=True)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os
    import time

    import numpy as np

    from ..errors import UsageError
    from ..imageio import read_array, save_image
    from ..method import choose_method
    from ..presets import list_presets
    from ..sheet import contact_sheet
    from .methods import at_brush, fit

    if args.json and args.output == "-":
        raise UsageError("--json and -o - both write to stdout; give an output file with --json")
    common.check_image_output(args.output, args.overwrite)
    names = common.comma_list(args.styles) if args.styles else None
    adain_only = common.adain_network_options(args)
    if names is None:
        from ..shipped import builtin_styles

        use_net = args.method != "adain" and not adain_only and builtin_styles()
        names = list(builtin_styles()) if use_net else [p.name for p in list_presets()]
    if not names:
        raise UsageError("no styles to show: no presets are installed and --styles is empty")
    method = choose_method(args.method, names, adain_only)
    from ..backends import choose_backend

    backend = choose_backend(args.backend, method, precision=args.precision)
    t0 = time.perf_counter()
    data = read_array(args.content, size=args.size)
    photo = data.rgb  # (H, W, 3)
    # each cell painted as `instyle stylize` paints a photo of its size: by the network whose brush
    # fits, at its side (methods.at_brush), then resampled to the cell
    render: Callable[[str], Picture]
    if backend == "onnxruntime":
        from ..onnx_runtime import OnnxFastStylizer

        onnx_net, work = at_brush(OnnxFastStylizer(), data)  # names: checked by choose_method
        render = lambda name: fit(onnx_net(work, name), data)  # noqa: E731
    elif method == "fast":
        from ..feedforward import FastStylizer
        from ..imageio.modes import hwc_to_tensor, tensor_to_hwc

        net, work = at_brush(FastStylizer(precision=args.precision), data)
        x = hwc_to_tensor(work)
        render = lambda name: fit(tensor_to_hwc(net(x, name)), data)  # noqa: E731
    else:
        from ..imageio.modes import hwc_to_tensor, tensor_to_hwc
        from .methods import adain_stylizer

        stylizer = adain_stylizer(args, names, precision=args.precision)
        stats = {n: stylizer.style_stats(n) for n in names}  # every name checked before the slow part
        adain, work = at_brush(stylizer, data)
        x = hwc_to_tensor(work)
        render = lambda name: fit(tensor_to_hwc(adain(x, stats[name])), data)  # noqa: E731
    bar = common.progress(len(names), "sheet", args.quiet)
    cells: list[Picture] = [photo]
    labels = ["photo"]
    for name in names:
        cells.append(render(name))
        labels.append(os.path.splitext(os.path.basename(name))[0])
        bar.update(1)
    bar.close()
    cols = min(args.columns, len(cells))
    rows = [cells[i : i + cols] for i in range(0, len(cells), cols)]
    captions = [labels[i : i + cols] for i in range(0, len(labels), cols)]
    sheet = contact_sheet(rows, cell=max(photo.shape[:2]), captions=captions)
    written = save_image(
        args.output,
        np.asarray(sheet, dtype=np.float32) / 255.0,
        overwrite=args.overwrite,
        quality=args.quality,
        png_compress=args.png_compress,
    )
    output = str(written) if written else "-"
    result = {
        "output": output,
        "styles": names,
        "method": method,
        "backend": backend,
        "cells": len(cells),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if args.json:
        common.emit_json(result)
    elif output != "-" and not args.quiet:
        print(f"wrote {output} ({len(names)} styles, {result['seconds']:.1f} s)")
    return 0
