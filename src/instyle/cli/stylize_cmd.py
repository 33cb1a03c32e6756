"""``instyle stylize``: style transfer in one forward pass: the built-in multi-style network, a
fast network you trained, or AdaIN with any style image."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time

from ..choices import METHODS, STYLIZE_COLOR_MODES
from . import common, methods

HELP = "stylize photos in one pass: a built-in style, any style image (AdaIN), or your own trained network"

EPILOG = """examples:
  instyle stylize photo.jpg --style starry_night -o out.png        # a built-in style (fast network)
  instyle stylize photo.jpg --style starry_night:0.5 --style wave:0.5 -o blend.png
  instyle stylize photo.jpg --style starry.jpg -o out.png          # any style image (AdaIN)
  instyle stylize photo.jpg --style starry.jpg:0.7 --style wave.jpg:0.3 -o blend.png
  instyle stylize photo.jpg --style starry.jpg --alpha 0.6 --color match -o soft.png
  instyle stylize photo.jpg --style sky.jpg --mask sky_mask.png --style ground.jpg --mask ground_mask.png -o out.png
  instyle stylize photos/ --style starry_night -o styled/          # a folder
  instyle stylize photo.jpg --style starry_night --method adain -o out.png   # the AdaIN preset instead
  instyle stylize photo.jpg --model runs/cin/model.safetensors --style my_style -o out.png
  instyle stylize big.jpg --style starry.jpg --keep-size -o big_styled.jpg   # any size, tiled
  cat photo.jpg | instyle stylize - --style starry.jpg -o - > out.png
"""

MAX_DEFAULT = 1024


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = common.add_command(sub, "stylize", HELP, EPILOG)
    p.add_argument("content", nargs="+", help="content image(s) or folder(s); - reads standard input")
    p.add_argument(
        "-s",
        "--style",
        action="append",
        default=None,
        metavar="STYLE[:WEIGHT]",
        help="built-in style or preset name (see `instyle styles`), style image, or a style of the "
        "--model network; repeat to blend, with optional weights",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="output image, a folder (for several inputs or a folder), or - for PNG on stdout",
    )
    g = p.add_argument_group("controls")
    g.add_argument(
        "--alpha", type=common.unit_float, default=1.0, help="content-style trade-off in [0, 1] (default 1: full style)"
    )
    g.add_argument(
        "--mask",
        action="append",
        default=None,
        metavar="MASK",
        help="one mask image per --style (white = that style's region); unmasked areas keep the content",
    )
    g.add_argument(
        "--color",
        choices=STYLIZE_COLOR_MODES,
        default="auto",
        help="colours: palette = the result in the style images' own colours; match = recolour the "
        "styles to the photo first; luminance = stylize brightness only, keep the photo's colours; "
        "auto (default) = palette for AdaIN with style images, else none",
    )
    g = p.add_argument_group("size")
    g.add_argument(
        "--size",
        type=common.image_size,
        default=None,
        help=f"longer side of the output (default: the photo's, at most {MAX_DEFAULT})",
    )
    g.add_argument("--keep-size", action="store_true", help="keep the photo's full size, however large (tiled)")
    common.add_stroke_option(g)
    g.add_argument(
        "--style-size", type=common.image_size, default=512, help="longer side of style images (default 512)"
    )
    g = p.add_argument_group("model and hardware")
    g.add_argument("--method", choices=METHODS, default="auto", help=common.METHOD_HELP)
    common.add_adain_network_options(g)
    g.add_argument(
        "--model",
        default=None,
        help="a trained fast network (`instyle train fast`) to use instead of AdaIN, or "
        "`builtin-large` (the wider network the built-in one was distilled from), `builtin-512` (the built-in "
        "network's companion for outputs up to 512 px, alone) or `builtin-video` (the "
        "built-in styles' network trained for video); "
        "--style then names its styles (multi-style nets)",
    )
    common.add_inference_device_options(g)
    g.add_argument("--tile", type=_tile, default=1024, help="tile size in px for large images (default 1024)")
    common.add_backend_option(g)
    common.add_output_options(p, images=True)
    g = p.add_argument_group("scale-out (Ray)")
    common.add_ray_options(
        g,
        "stylize a folder (local, or s3://, gs://, file:// ...) on a Ray cluster: no ADDRESS starts Ray on "
        "this machine, `auto` joins the cluster it belongs to; resumable (a manifest records every photo; "
        "outputs that exist are kept)",
    )
    g.add_argument("--manifest", default=None, help="the run's manifest (default: OUT/.instyle-manifest.jsonl)")
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="with a folder of photos: leave outputs that already exist as they are and stylize the rest "
        "(each output is written whole or not at all, so this resumes a run that was stopped)",
    )
    p.set_defaults(run=run)


def output_size(args: argparse.Namespace) -> dict:
    """``read_array``'s size arguments for ``--size`` / ``--keep-size`` (default: at most
    :data:`MAX_DEFAULT`): one rule for the local and the Ray runs."""
    return {"size": args.size} if args.size else {} if args.keep_size else {"max_size": MAX_DEFAULT}


def _tile(text: str) -> int:
    v = common.positive_int(text)
    if v < 64 or v % 8:
        raise argparse.ArgumentTypeError(f"tile must be a multiple of 8 and at least 64, got {text!r}")
    return v


def _jobs(
    inputs: list[str], output: str, overwrite: bool, skip_existing: bool = False
) -> tuple[list[tuple[str, str]], bool, int]:
    """(input, output) pairs, whether the output is a folder, and how many were skipped as done
    (``skip_existing``); all checked before any work."""
    from ..errors import UsageError
    from ..imageio import SAVE_EXTENSIONS, list_images

    expanded: list[str] = []
    for item in inputs:
        if item != "-" and os.path.isdir(item):
            expanded += [str(p) for p in list_images(item)]
        else:
            expanded.append(item)
    many = len(expanded) > 1 or any(i != "-" and os.path.isdir(i) for i in inputs)
    if "-" in expanded and len(expanded) > 1:
        raise UsageError("standard input (-) can only be stylized on its own")
    if not many:
        if skip_existing and output != "-" and os.path.isfile(output):
            return [], False, 1
        common.check_image_output(output, overwrite)
        return [(expanded[0], output)], False, 0
    if output == "-":
        raise UsageError("several images cannot all go to standard output; give a folder with -o")
    if os.path.exists(output) and not os.path.isdir(output):
        raise UsageError(f"{output} is a file; give a folder with -o for several images")
    jobs, seen, skipped = [], set(), 0
    for src in expanded:
        stem, ext = os.path.splitext(os.path.basename(src))
        ext = ext.lower() if ext.lower() in SAVE_EXTENSIONS else ".png"
        dst = os.path.join(output, stem + ext)
        if dst in seen:
            raise UsageError(f"two inputs would both be written to {dst}; stylize them separately")
        seen.add(dst)
        if skip_existing and os.path.isfile(dst):
            skipped += 1
            continue
        if os.path.exists(dst) and not overwrite:
            raise UsageError(f"{dst} already exists; pass --overwrite to replace it, or --skip-existing to keep it")
        jobs.append((src, dst))
    return jobs, True, skipped


def run(args: argparse.Namespace) -> int:
    from ..errors import InstyleError, UsageError, one_line
    from ..method import choose_color
    from ..pipeline import cpu_workers, pipelined

    if args.json and args.output == "-":
        raise UsageError("--json and -o - both write to stdout; give an output file with --json")
    if args.keep_size and args.size:
        raise UsageError("--size and --keep-size cannot be used together")
    styles, weights = common.parse_weighted(args.style, "style") if args.style else ([], [])
    if args.skip_existing and args.overwrite:
        raise UsageError("--skip-existing keeps existing outputs and --overwrite replaces them; pick one")
    method = methods.choose(args, styles)
    args.color = choose_color(args.color, method, images=all(os.path.exists(s) for s in styles), masks=bool(args.mask))
    if args.ray is not None:
        return _run_ray(args, method, styles, weights)
    if args.workers is not None or args.manifest is not None:
        raise UsageError("--workers and --manifest go with --ray")
    jobs, to_folder, skipped = _jobs(args.content, args.output, args.overwrite, args.skip_existing)
    if not jobs:
        if args.json:
            common.emit_json({"outputs": [], "failed": [], "skipped": skipped})
        elif not args.quiet:
            print(f"nothing to do: all {skipped} output{'s' if skipped != 1 else ''} already exist")
        return 0
    backend = _backend(args, method, styles)
    # onnxruntime on a folder: two photos in the network at once, on half the cores each
    workers, threads = cpu_workers(len(jobs)) if backend == "onnxruntime" else (1, None)
    painter = (methods.fast if method == "fast" else methods.adain)(args, backend, styles, weights, threads=threads)
    read_size = output_size(args)

    def read(src: str):
        from ..imageio import read_array

        return read_array(src, **read_size)

    def compute(data):
        return painter.at_stroke(data, args.stroke)

    def write(dst: str, data, out) -> dict:
        from ..imageio import save_image

        written = save_image(
            dst,
            out,
            alpha=data.alpha,
            overwrite=args.overwrite,
            quality=args.quality,
            png_compress=args.png_compress,
            size=data.size,
        )
        return {"output": str(written) if written else "-", "size": list(data.size)}

    results, failed = [], []
    bar = common.progress(len(jobs), "stylize", args.quiet or len(jobs) == 1)
    t0 = time.perf_counter()
    for outcome in pipelined(
        jobs, lambda job: read(job[0]), compute, lambda job, data, out: write(job[1], data, out), workers=workers
    ):
        bar.update(1)
        src = outcome.item[0]
        if outcome.error is not None:
            if not to_folder:
                raise outcome.error
            # one unreadable photo of many: say so, go on with the rest, fail at the end
            sys.stderr.write(f"instyle: error: {one_line(outcome.error)}\n")
            failed.append({"input": src, "error": str(outcome.error)})
            continue
        results.append(
            {"input": "<stdin>" if src == "-" else src, **outcome.value, "seconds": round(outcome.seconds, 3)}
        )
    bar.close()
    wall = time.perf_counter() - t0
    summary = {
        "outputs": results,
        "failed": failed,
        "skipped": skipped,
        "styles": [{"style": s, "weight": w} for s, w in zip(styles, weights)],
        "alpha": args.alpha,
        "color": args.color,
        "stroke": args.stroke,
        "precision": painter.precision,
        "method": method,
        "backend": backend,
        "seconds": round(wall, 3),
        "seconds_per_image": round(wall / max(1, len(results)), 4),
    }
    if args.json:
        common.emit_json(summary)
    elif results and args.output != "-" and not args.quiet:
        where = args.output if to_folder else results[0]["output"]
        kept = f"; {skipped} already there, kept" if skipped else ""
        print(f"wrote {len(results)} image{'s' if len(results) != 1 else ''} to {where} ({wall:.1f} s{kept})")
    if failed and len(jobs) > 1:
        raise InstyleError(
            f"{len(failed)} of {len(jobs)} images could not be read (named above); "
            f"the other {len(results)} were written"
        )
    return 1 if failed else 0  # one image that failed: its error line is already printed


def _backend(args: argparse.Namespace, method: str, styles: list[str]) -> str:
    """``--backend`` resolved for this method and these styles (:func:`instyle.backends.choose_backend`)."""
    from ..backends import choose_backend

    return choose_backend(
        args.backend,
        method,
        model=args.model,
        device=args.device,
        precision=args.precision,
        adain_blocker=methods.adain_onnx_blocker(args, styles) if method == "adain" else None,
    )


def _run_ray(args: argparse.Namespace, method: str, styles: list[str], weights: list[float]) -> int:
    """``--ray``: the folder stylized by Ray actors (:mod:`instyle.cli.cluster`), with the local run's
    options, names and atomic writes, a manifest, progress and a summary."""
    from ..errors import InstyleError, UsageError
    from ..pipeline import cores
    from . import cluster

    if len(args.content) != 1 or args.content[0] == "-" or args.output == "-":
        raise UsageError("--ray stylizes one folder into another: give one input folder and an output folder")
    if args.overwrite:
        raise UsageError("--ray keeps outputs that exist (that is how it resumes); remove them to stylize again")
    if not cluster.is_uri(args.output) and os.path.isfile(args.output):
        raise UsageError(f"{args.output} is a file; give a folder with -o")
    jobs = cluster.list_jobs(args.content[0], args.output)
    if not jobs:
        raise UsageError(f"no images in {args.content[0]}")
    backend = _backend(args, method, styles)
    workers = args.workers or cores()
    manifest = cluster.Manifest.open(cluster.manifest_path(args.output, args.manifest))
    args.parsed_styles = (styles, weights)
    counts = {"ok": 0, "kept": 0, "failed": 0}
    failed = []
    log = os.path.join(tempfile.gettempdir(), f"instyle-ray-{os.getpid()}.log")
    t0 = time.perf_counter()
    with cluster.native_logs_to(log):  # Ray's own C++ notes: to a file, not the terminal
        cluster.connect(args.ray, workers)
        bar = common.progress(len(jobs), "stylize (ray)", args.quiet, unit="image")
        for rec in cluster.run(jobs, args, method, backend, workers=workers, manifest=manifest):
            counts[rec["status"]] = counts.get(rec["status"], 0) + 1
            bar.update(1)
            if rec["status"] == "failed":
                sys.stderr.write(f"instyle: error: {rec['input']}: {rec['error']}\n")
                failed.append({"input": rec["input"], "error": rec["error"]})
        bar.close()
    wall = time.perf_counter() - t0
    with contextlib.suppress(OSError):
        os.remove(log)  # kept only when the run stopped with an error
    summary = {
        "output": args.output,
        "manifest": manifest.path,
        "images": len(jobs),
        "written": counts["ok"],
        "kept": counts["kept"],
        "failed": failed,
        "workers": workers,
        "ray": args.ray,
        "method": method,
        "backend": backend,
        "seconds": round(wall, 3),
        "images_per_second": round(counts["ok"] / wall, 3) if wall > 0 else None,
    }
    if args.json:
        common.emit_json(summary)
    elif not args.quiet:
        print(
            f"wrote {counts['ok']} image{'s' if counts['ok'] != 1 else ''} to {args.output} with {workers} Ray "
            f"worker{'s' if workers != 1 else ''} ({wall:.1f} s); {counts['kept']} already there, kept; "
            f"{len(failed)} failed; manifest {manifest.path}"
        )
    if failed:
        raise InstyleError(
            f"{len(failed)} of {len(jobs)} images could not be read (named above); the others are written"
        )
    return 0
