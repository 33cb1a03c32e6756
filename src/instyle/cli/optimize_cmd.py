"""``instyle optimize``: Gatys et al. style transfer by image optimization."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..choices import COLOR_MODES, GRAM_STYLE_LAYERS, OPTIMIZERS, PADDINGS, PRECISIONS, STYLE_LOSSES, VGG_POOLING
from . import common

HELP = "stylize by optimizing the image (Gatys et al.; slow, best quality, any style)"

EPILOG = """examples:
  instyle optimize photo.jpg starry.jpg -o out.png
  instyle optimize photo.jpg a.jpg:0.7 b.jpg:0.3 -o blend.png --size 768 --steps 500
  instyle optimize photo.jpg starry.jpg -o out.png --color luminance --save-every 50 --intermediate-dir steps/
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = common.add_command(sub, "optimize", HELP, EPILOG)
    p.add_argument("content", help="content image (a file, or - for stdin)")
    p.add_argument(
        "styles",
        nargs="+",
        metavar="STYLE[:WEIGHT]",
        help="style image(s); several are blended, with optional weights (normalized to sum to 1)",
    )
    p.add_argument(
        "-o", "--output", required=True, help="output image (.png/.jpg/.webp/.tif/.bmp, or - for PNG on stdout)"
    )
    g = p.add_argument_group("size")
    g.add_argument(
        "--size", type=common.image_size, default=512, help="longer side of the output in pixels (default 512)"
    )
    g.add_argument(
        "--style-size",
        type=common.image_size,
        default=None,
        help="longer side of the style images (default: same as --size)",
    )
    g = p.add_argument_group("optimization")
    g.add_argument(
        "--steps", type=common.non_negative_int, default=300, help="forward/backward evaluations (default 300)"
    )
    g.add_argument("--optimizer", choices=OPTIMIZERS, default="lbfgs")
    g.add_argument(
        "--lr", type=common.positive_float, default=None, help="step size (default 1.0 for L-BFGS, 0.02 for Adam)"
    )
    g.add_argument("--init", default="content", help="start from 'content', 'noise' or an image file (default content)")
    g.add_argument("--multiscale", action="store_true", help="coarse-to-fine: half size first, then full size")
    g.add_argument("--seed", type=common.seed, default=0)
    g = p.add_argument_group("losses")
    g.add_argument("--content-layers", default="relu4_2", help="comma list of LAYER[:WEIGHT] (default relu4_2)")
    g.add_argument(
        "--style-layers",
        default=",".join(GRAM_STYLE_LAYERS),
        help="comma list of LAYER[:WEIGHT] (default relu1_1…relu5_1)",
    )
    g.add_argument("--content-weight", type=common.non_negative_float, default=1.0)
    g.add_argument(
        "--style-weight",
        type=common.non_negative_float,
        default=5.0,
        help="style/content balance; higher = more stylized (default 5)",
    )
    g.add_argument(
        "--tv-weight", type=common.non_negative_float, default=0.0, help="total-variation smoothing (default 0)"
    )
    g.add_argument("--style-loss", choices=STYLE_LOSSES, default="gram")
    g.add_argument(
        "--raw-layer-weights", action="store_true", help="do not rescale layer weights by their targets' magnitude"
    )
    g = p.add_argument_group("colour and network")
    g.add_argument(
        "--color",
        choices=COLOR_MODES,
        default="none",
        help="colour preservation: 'match' recolours the style to the content first, "
        "'luminance' transfers luminance only (default none)",
    )
    g.add_argument("--pooling", choices=VGG_POOLING, default="avg")
    g.add_argument("--padding", choices=PADDINGS, default="reflect")
    g.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto = bf16 where the CPU/GPU has native bf16 (faster, same quality), else fp32",
    )
    g.add_argument("--no-channels-last", action="store_true", help="keep the NCHW memory layout")
    g = p.add_argument_group("output")
    g.add_argument(
        "--save-every",
        type=common.positive_int,
        default=None,
        help="write the current image every N steps to --intermediate-dir",
    )
    g.add_argument("--intermediate-dir", default=None, help="folder for intermediate images")
    common.add_output_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imports are local so `instyle --help` stays fast.
    from ..errors import UsageError
    from ..imageio import read_image, save_image
    from ..losses import LossWeights
    from ..optimize import GatysOptimizer, OptimizeConfig

    if args.save_every and not args.intermediate_dir:
        raise UsageError("--save-every needs --intermediate-dir")
    if args.json and args.output == "-":
        raise UsageError("--json and -o - both write to stdout; give an output file with --json")
    common.check_image_output(args.output, args.overwrite)
    style_paths, style_weights = common.parse_weighted(args.styles, "style")
    content = read_image(args.content, size=args.size)
    styles = [read_image(p, size=args.style_size or args.size).rgb for p in style_paths]
    init_img = None
    init_mode = args.init
    if args.init not in ("content", "noise"):
        init_img = read_image(args.init).rgb  # resized to the content by the optimizer
        init_mode = "content"

    loss = LossWeights(
        content_layers=common.parse_layers(args.content_layers),
        style_layers=common.parse_layers(args.style_layers),
        content_weight=args.content_weight,
        style_weight=args.style_weight,
        tv_weight=args.tv_weight,
        style_loss=args.style_loss,
    )
    cfg = OptimizeConfig(
        steps=args.steps,
        optimizer=args.optimizer,
        lr=args.lr if args.lr is not None else (1.0 if args.optimizer == "lbfgs" else 0.02),
        init=init_mode,
        loss=loss,
        color=args.color,
        pooling=args.pooling,
        padding=args.padding,
        precision=args.precision,
        channels_last=not args.no_channels_last,
        balance_layers=not args.raw_layer_weights,
        multiscale=(0.5,) if args.multiscale else (),
        seed=args.seed,
    )
    optimizer = GatysOptimizer(cfg)

    inter = Path(args.intermediate_dir) if args.intermediate_dir else None
    bar = common.progress(cfg.steps, "optimize", args.quiet)
    last = {}

    def on_step(info) -> None:
        last.update(info.losses)
        bar.update(1)
        bar.set_postfix(
            content=f"{info.losses['content']:.3g}",
            style=f"{info.losses['style']:.3g}",
            total=f"{info.losses['total']:.3g}",
            refresh=False,
        )
        if inter is not None and args.save_every and info.step % args.save_every == 0:
            save_image(inter / f"step_{info.step:05d}.png", info.image, overwrite=True)

    t0 = time.perf_counter()
    try:
        out = optimizer(content.rgb, styles, style_weights=style_weights, init=init_img, callback=on_step)
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    written = save_image(args.output, out, alpha=content.alpha, overwrite=args.overwrite)
    result: dict[str, Any] = {
        "output": str(written) if written else "-",
        "content": content.source,
        "styles": [{"path": p, "weight": w} for p, w in zip(style_paths, style_weights)],
        "size": [int(out.shape[-1]), int(out.shape[-2])],
        "steps": cfg.steps,
        "seconds": round(seconds, 3),
        "losses": last,
    }
    if args.json:
        common.emit_json(result)
    elif args.output != "-" and not args.quiet:
        print(f"wrote {result['output']} ({result['size'][0]}x{result['size'][1]}, {cfg.steps} steps, {seconds:.1f} s)")
    return 0
