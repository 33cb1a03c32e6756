"""``instyle demo``: the zero-argument main job on images that scikit-image ships."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import common

HELP = "run the built-in demo: stylize scikit-image's cat photo with its IHC texture (about 30 s on 2 cores)"
DEFAULT_OUTPUT = "out/demo.png"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help=HELP, description=HELP)
    p.add_argument("-o", "--output", default=DEFAULT_OUTPUT, help=f"where to write the result (default {DEFAULT_OUTPUT})")
    p.add_argument("--size", type=common.image_size, default=256, help="longer side in pixels (default 256)")
    p.add_argument("--steps", type=common.positive_int, default=100, help="optimization steps (default 100)")
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
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / name
    if not path.is_file():
        raise InstyleError(f"scikit-image's sample image {name} is missing: reinstall scikit-image")
    return path


def run(args: argparse.Namespace) -> int:
    from ..imageio import load_image, save_image
    from ..optimize import GatysOptimizer, OptimizeConfig

    common.check_image_output(args.output, overwrite=True)  # the demo's own file: always refreshed
    content_path, style_path = sample_image("chelsea.png"), sample_image("ihc.png")
    content = load_image(content_path, size=args.size)
    style = load_image(style_path, size=args.size)
    bar = common.progress(args.steps, "demo", args.quiet)
    t0 = time.perf_counter()
    try:
        out = GatysOptimizer(OptimizeConfig(steps=args.steps))(content, [style], callback=lambda _: bar.update(1))
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    written = save_image(args.output, out, overwrite=True)  # the demo's own file: always refreshed
    if args.json:
        common.emit_json({"output": str(written), "content": str(content_path), "style": str(style_path),
                          "steps": args.steps, "seconds": round(seconds, 2)})
    else:
        print(f"wrote {written}  (content: {content_path.name}, style: {style_path.name}, "
              f"{args.steps} steps, {seconds:.1f} s)")
    return 0
