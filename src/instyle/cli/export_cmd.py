"""``instyle export``: a network as ONNX, for onnxruntime and other runtimes."""

from __future__ import annotations

import argparse

from . import common

HELP = "export a network as ONNX (the built-in one, a trained fast network, or AdaIN) for onnxruntime"

EPILOG = """examples:
  instyle export -o styles.onnx                              # the built-in multi-style network
  instyle export builtin-large -o large.onnx
  instyle export builtin-video -o video.onnx                 # the built-in network for video
  instyle export runs/starry/model.safetensors -o starry.onnx
  instyle stylize photo.jpg --model starry.onnx -o out.png    # runs on onnxruntime, no torch
  instyle export adain -o adain_onnx/                        # encoder.onnx + decoder.onnx (Python: OnnxAdaIN)
  instyle export adain --arch vgg -o vgg_adain/              # VGG-19 and its decoder instead of the light network
  instyle export adain --decoder runs/adain/model.safetensors -o my_adain/

The fast networks' graphs take the image (H, W padded to multiples of 4, at least 16 px: the runtime
pads and crops), the style weights (blends) and a keep-colours flag; AdaIN's decoder takes the
style statistics (presets, blends) and alpha. Metadata in each file names its kind, config and styles.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = common.add_command(sub, "export", HELP, EPILOG)
    p.add_argument(
        "network",
        nargs="?",
        default="builtin",
        help="builtin (default), builtin-512, builtin-large, builtin-video, a fast-network file (model.safetensors or "
        "checkpoint.pt), or adain",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="the .onnx file (a folder for adain: encoder.onnx and decoder.onnx are written in it)",
    )
    common.add_adain_network_options(p.add_argument_group("with adain"))
    p.add_argument("--opset", type=common.int_between(17, 30), default=17, help="ONNX opset, 17 or newer (default 17)")
    p.add_argument(
        "--for-onnxruntime",
        action="store_true",
        help="pre-optimized for onnxruntime: loads ~3x faster there (the shipped ONNX files are made so)",
    )
    p.add_argument(
        "--shared-statistics",
        action="store_true",
        help="a Johnson network's graph for video: instance-norm statistics shared across frames "
        "(inputs: the past average; outputs: each frame's own), as `instyle video --stabilize full` runs it",
    )
    p.add_argument("--overwrite", action="store_true", help="replace files that already exist")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os
    import time

    from ..errors import UsageError
    from ..export import export_adain, export_fast

    t0 = time.perf_counter()
    if args.network == "adain":
        from ..choices import DEFAULT_ADAIN_ARCH

        if args.shared_statistics:
            raise UsageError("--shared-statistics goes with a fast network, not adain")
        written = list(
            export_adain(
                args.output,
                args.decoder,
                arch=args.arch or DEFAULT_ADAIN_ARCH,
                opset=args.opset,
                overwrite=args.overwrite,
                onnxruntime=args.for_onnxruntime,
            )
        )
    else:
        if common.adain_network_options(args):
            raise UsageError(f"{common.adain_network_options(args)[0]} goes with `instyle export adain`")
        if not args.output.lower().endswith(".onnx"):
            raise UsageError(f"give the ONNX file a .onnx name, got {args.output!r}")
        common.check_output_free(args.output, args.overwrite)
        written = [
            export_fast(
                args.network,
                args.output,
                opset=args.opset,
                overwrite=args.overwrite,
                onnxruntime=args.for_onnxruntime,
                shared_statistics=args.shared_statistics,
            )
        ]
    result = {
        "network": args.network,
        "files": [str(p) for p in written],
        "bytes": [os.path.getsize(p) for p in written],
        "opset": args.opset,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if args.json:
        common.emit_json(result)
    else:
        print(f"wrote {', '.join(result['files'])} ({sum(result['bytes']) / 1e6:.1f} MB, {result['seconds']:.1f} s)")
    return 0
