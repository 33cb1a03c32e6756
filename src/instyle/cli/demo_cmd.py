"""``instyle demo``: the zero-argument main job on images that scikit-image ships."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import common

HELP = (
    "run the built-in demo: restyle scikit-image's cat photo with four built-in styles (the multi-style "
    "network, one pass each; seconds on a CPU) and write a labelled sheet"
)
DEFAULT_OUTPUT = "out/demo.png"
DEMO_STYLES = ("starry_night", "the_scream", "wave", "mosaic")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help=HELP, description=HELP)
    p.add_argument(
        "-o", "--output", default=DEFAULT_OUTPUT, help=f"where to write the result (default {DEFAULT_OUTPUT})"
    )
    p.add_argument(
        "--style",
        action="append",
        default=None,
        help=f"built-in style(s) to show (default {', '.join(DEMO_STYLES)}; see `instyle styles`)",
    )
    p.add_argument(
        "--method",
        choices=("auto", "fast", "adain", "optimize"),
        default="auto",
        help="auto: for each style what `instyle stylize --style NAME` runs, the network or the style's AdaIN "
        "preset, whichever people preferred (default); fast: the built-in multi-style network; adain: the AdaIN "
        "presets of the same paintings; optimize: Gatys et al. with scikit-image's IHC texture (about a minute)",
    )
    p.add_argument(
        "--size", type=common.image_size, default=None, help="longer side in pixels (default 512; 256 for optimize)"
    )
    p.add_argument(
        "--steps", type=common.positive_int, default=100, help="optimization steps for --method optimize (default 100)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def sample_image(name: str) -> Path:
    """Path of an image bundled with scikit-image (no download, no skimage import)."""
    import importlib.util

    from ..errors import InstyleError

    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise InstyleError("the demo uses scikit-image's sample photos: run `pip install scikit-image`")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    if not path.is_file():
        raise InstyleError(f"scikit-image's sample image {name} is missing: reinstall scikit-image")
    return path


def run(args: argparse.Namespace) -> int:
    from ..imageio import save_image

    common.check_image_output(args.output, overwrite=True)  # the demo's own file: always refreshed
    content_path = sample_image("chelsea.png")
    t0 = time.perf_counter()
    if args.method == "optimize":
        out, styles = _optimize(content_path, args)
        methods = ["optimize"]
        written = save_image(args.output, out, overwrite=True)
    else:
        sheet, styles, methods = _one_pass(content_path, args)
        from ..atomic import write_with

        written = write_with(args.output, lambda f: sheet.save(f, format="PNG"), overwrite=True, what="image")
    seconds = time.perf_counter() - t0
    result = {
        "output": str(written),
        "content": str(content_path),
        "styles": styles,
        "method": args.method,
        "methods": methods,
        "seconds": round(seconds, 2),
    }
    if args.method == "optimize":
        result["steps"] = args.steps
    if args.json:
        common.emit_json(result)
    else:
        print(
            f"wrote {written}  (content: {content_path.name}, styles: {', '.join(Path(s).name for s in styles)}, "
            f"{args.method}, {seconds:.1f} s)"
        )
    return 0


def _one_pass(content_path: Path, args: argparse.Namespace):
    """A sheet: the photo, then one column per built-in style, each labelled with its name and the
    method that drew it (``auto``: the one :func:`instyle.method.choose_method` picks for it)."""
    from ..errors import InstyleError
    from ..imageio import read_array
    from ..imageio.modes import hwc_to_tensor, tensor_to_hwc
    from ..method import choose_method
    from ..sheet import contact_sheet
    from ..shipped import builtin_styles
    from .methods import at_brush, fit

    styles = args.style or list(DEMO_STYLES)
    for s in styles:  # fail before any work on an unknown name
        if s not in builtin_styles():
            raise InstyleError(f"no built-in style named {s!r}; run `instyle styles` to list them")
    methods = {s: args.method if args.method != "auto" else choose_method("auto", [s]) for s in styles}
    data = read_array(content_path, size=args.size or 512)
    content = hwc_to_tensor(data.rgb)
    # each painted as `instyle stylize` paints a photo of this size: by the network whose brush
    # fits, at its side (methods.at_brush), then resampled to the photo's size
    renderers = {}
    if "fast" in methods.values():
        from ..feedforward import FastStylizer

        net, work = at_brush(FastStylizer(), data)
        renderers["fast"] = lambda s: fit(tensor_to_hwc(net(hwc_to_tensor(work), s)), data)
    if "adain" in methods.values():
        from ..stylize import AdaINStylizer

        stylizer = AdaINStylizer()
        stats = {s: stylizer.style_stats(s) for s in styles if methods[s] == "adain"}
        adain, adain_work = at_brush(stylizer, data)
        renderers["adain"] = lambda s: fit(tensor_to_hwc(adain(hwc_to_tensor(adain_work), stats[s])), data)
    bar = common.progress(len(styles), "demo", args.quiet)
    outs = []
    for s in styles:
        outs.append(renderers[methods[s]](s))
        bar.update(1)
    bar.close()
    labels = ["photo", *(f"{s.replace('_', ' ')} ({'network' if methods[s] == 'fast' else 'AdaIN'})" for s in styles)]
    sheet = contact_sheet([[content, *outs]], col_labels=labels, cell=max(content.shape[-2:]), tight=True)
    return sheet, styles, [methods[s] for s in styles]


def _optimize(content_path: Path, args: argparse.Namespace):
    from ..imageio import load_image
    from ..optimize import GatysOptimizer, OptimizeConfig

    style_path = sample_image("ihc.png")
    size = args.size or 256
    content, style = load_image(content_path, size=size), load_image(style_path, size=size)
    bar = common.progress(args.steps, "demo", args.quiet)
    try:
        out = GatysOptimizer(OptimizeConfig(steps=args.steps))(content, [style], callback=lambda _: bar.update(1))
    finally:
        bar.close()
    return out, [str(style_path)]
