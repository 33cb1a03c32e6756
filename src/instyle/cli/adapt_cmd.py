"""``instyle adapt``: AdaBN, a ``--norm batch`` network's statistics re-estimated on a new domain."""

from __future__ import annotations

import argparse
import time

from . import common

HELP = (
    "adapt a batch-norm fast network to photos of a new domain (AdaBN: night, sketches, a colour cast): "
    "its statistics are re-estimated on a folder, its weights kept"
)

EPILOG = """examples:
  instyle train fast --style starry.jpg --content photos/ --out runs/starry-bn --norm batch
  instyle adapt runs/starry-bn/model.safetensors --to night_photos/ -o starry-bn-night.safetensors
  instyle stylize night.jpg --model starry-bn-night.safetensors -o out.png
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = common.add_command(sub, "adapt", HELP, EPILOG)
    p.add_argument("model", help="a fast network trained with --norm batch (model.safetensors or checkpoint.pt)")
    p.add_argument("--to", required=True, metavar="FOLDER", help="photos of the new domain (searched recursively)")
    p.add_argument("-o", "--output", required=True, help="where to write the adapted network (.safetensors)")
    p.add_argument(
        "--size", type=common.image_size, default=256, help="longer side the photos are read at (default 256)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os

    from ..adapt import adapt_network, load_batchnorm_network
    from ..checkpoint import save_model
    from ..errors import UsageError
    from ..imageio import list_images
    from ..nn.adabn import batchnorm_layers

    if not args.output.endswith(".safetensors"):
        raise UsageError(
            f"the adapted network is written as safetensors: give -o a .safetensors name, not {args.output!r}"
        )
    common.check_output_free(args.output, args.overwrite)
    if not os.path.isdir(args.to):
        raise UsageError(f"--to {args.to!r} is not a folder of photos")
    images = list_images(args.to, recursive=True)
    if not images:
        raise UsageError(f"no images in {args.to}")
    net = load_batchnorm_network(args.model)
    t0 = time.perf_counter()
    layers = len(batchnorm_layers(net))
    # one image to find the layers' order, then every image once per layer
    bar = common.progress(1 + len(images) * layers, "adapt", args.quiet, unit="image")
    try:
        net, read = adapt_network(net, images, size=args.size, on_image=lambda: bar.update(1))
    finally:
        bar.close()
    written = save_model(args.output, net, overwrite=args.overwrite, extra={"adapted_to": os.path.abspath(args.to)})
    result = {
        "output": str(written),
        "images": read,
        "batchnorm_layers": layers,
        "size": args.size,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if args.json:
        common.emit_json(result)
    elif not args.quiet:
        print(f"wrote {written} ({layers} batch-norm layers adapted to {read} photos, {result['seconds']} s)")
    return 0
