"""How ``stylize`` and ``video`` build the stylizing function from their options: the fast network
(torch or onnxruntime) or AdaIN (torch or onnxruntime). Each returns ``(stylize(ImageArray) ->
output, precision, grid() -> px)``, the output a (1, 3, H, W) tensor (torch) or a (H, W, 3) array
(onnxruntime), ``grid`` the network's sampling grid (asked when needed: onnxruntime loads in the
background)."""

from __future__ import annotations

import argparse
import os

from . import common


def choose(args: argparse.Namespace, styles: list[str]) -> str:
    """``fast`` or ``adain`` for the options (``--method``, ``--model``, the AdaIN-only controls);
    every combination that cannot work is a one-line :class:`~instyle.errors.UsageError`."""
    from ..errors import UsageError
    from ..method import choose_method

    masks = getattr(args, "mask", None)
    adain_only = common.adain_network_options(args) + [
        opt
        for opt, on in (
            ("--mask", bool(masks)),
            ("--alpha", args.alpha != 1.0),
            ("--color match", args.color == "match"),
        )
        if on
    ]
    if args.model is not None:
        if args.method == "adain":
            raise UsageError("--model is a fast network; it cannot be used with --method adain")
        if adain_only:
            raise UsageError(f"{adain_only[0]} works with AdaIN styles, not with --model")
        method = "fast"
    elif not args.style:
        raise UsageError("give a style with --style (a built-in style, preset or image; see `instyle styles`)")
    else:
        method = choose_method(args.method, styles, adain_only)
    if masks is not None and len(masks) != len(styles):
        raise UsageError(f"give one --mask per --style ({len(styles)} styles, {len(masks)} masks)")
    return method


def fast(
    args: argparse.Namespace,
    backend: str,
    styles: list[str],
    weights: list[float],
    *,
    threads: int | None = None,
    shared_statistics: bool = False,
):
    """(stylize(ImageArray) -> output, precision, grid) for a fast network on ``backend``
    (``threads``: onnxruntime's threads per call, None: its default). ``shared_statistics``
    (video): on onnxruntime, the network's graph that shares them, and ``stylize`` takes the
    frame's ``statistics=``; torch shares them through its statistics filter."""
    style = styles or None
    kw = dict(weights=weights or None, color=args.color)
    if backend == "onnxruntime":
        from concurrent.futures import ThreadPoolExecutor

        from ..blend import style_vector
        from ..onnx_runtime import OnnxFastStylizer
        from ..shipped import SHIPPED_ONNX, builtin_styles

        if args.model is None or args.model in SHIPPED_ONNX:  # the shipped networks share the styles
            style_vector(builtin_styles(), style, kw["weights"])  # unknown names fail before any work
        # onnxruntime loads the network while the first photo is decoded (a file's own names are
        # checked on the first call, still before anything is written)
        loading = ThreadPoolExecutor(1, thread_name_prefix="instyle-load").submit(
            OnnxFastStylizer, args.model, threads=threads, shared_statistics=shared_statistics
        )
        return (
            (lambda data, **stats: loading.result()(data.rgb, style, **kw, **stats)),
            "fp32",
            (lambda: loading.result().grid),
        )
    from ..feedforward import FastStylizer

    fast = FastStylizer(
        args.model, device=args.device, precision=args.precision, channels_last=not args.no_channels_last
    )
    fast.selector(style, kw["weights"])  # unknown names fail before any work
    return (lambda data: fast(data.to_tensors().rgb, style, **kw)), fast.precision, (lambda: fast.grid)


def adain_stylizer(args: argparse.Namespace, styles: list[str], **kw):
    """The :class:`~instyle.AdaINStylizer` of ``--decoder`` / ``--arch`` for these styles (a file says
    which network it is; otherwise :func:`instyle.method.choose_arch`)."""
    from ..method import choose_arch
    from ..stylize import AdaINStylizer

    arch = args.arch if args.decoder is not None else choose_arch(args.arch, styles)
    return AdaINStylizer(args.decoder, arch=arch, **kw)


def adain_onnx_blocker(args: argparse.Namespace, styles: list[str]) -> str | None:
    """What keeps this AdaIN request from onnxruntime (the shipped light network in one piece,
    statistics and α only), as the user named it; None when nothing does."""
    from ..method import choose_arch
    from ..onnx_runtime import ONNX_ADAIN_MAX_SIDE

    if args.decoder is not None:
        return "--decoder"
    if choose_arch(args.arch, styles) != "light":
        return "--arch vgg" if args.arch == "vgg" else "a preset saved before the light network"
    if args.color != "none":
        return f"--color {args.color}"
    if getattr(args, "mask", None):
        return "--mask"
    if args.keep_size:
        return "--keep-size"
    if args.size and args.size > ONNX_ADAIN_MAX_SIDE:
        return f"--size over {ONNX_ADAIN_MAX_SIDE}"
    return None


def adain(
    args: argparse.Namespace,
    backend: str,
    styles: list[str],
    weights: list[float],
    *,
    threads: int | None = None,
    shared_statistics: bool = False,
):
    """(stylize(ImageArray) -> output, precision, grid) for AdaIN (torch, or the light network on
    onnxruntime with ``threads`` per call). ``shared_statistics`` (video): torch only, through its
    statistics filter."""
    if backend == "onnxruntime":
        if shared_statistics:
            from ..errors import UsageError

            raise UsageError("AdaIN on onnxruntime cannot share statistics across frames: use --backend torch")
        from ..blend import blend_weights, check_alpha, mix
        from ..onnx_runtime import OnnxAdaIN

        check_alpha(args.alpha)  # before the work
        net = OnnxAdaIN(threads=threads)
        stats = [net.style_stats_of(s, style_size=args.style_size) for s in styles]
        w = blend_weights(weights or None, len(stats))
        mixed = (mix([st[0] for st in stats], w), mix([st[1] for st in stats], w))  # (mean, std): (1, C, 1, 1) each
        return (lambda data: net(data.rgb, mixed, alpha=args.alpha)), "fp32", (lambda: net.grid)
    from ..imageio import load_image

    stylizer = adain_stylizer(
        args,
        styles,
        device=args.device,
        precision=args.precision,
        channels_last=not args.no_channels_last,
        style_size=args.style_size,
        tile=args.tile,
    )
    # Style statistics once for all inputs (colour modes depend on each photo: done per image).
    style_specs = [load_image(s) if os.path.exists(s) else s for s in styles]
    if args.color == "none":
        style_specs = [stylizer.style_stats(s) for s in style_specs]
    masks = [load_image(m) for m in args.mask] if getattr(args, "mask", None) else None
    return (
        (
            lambda data: stylizer(
                data.to_tensors().rgb,
                style_specs,
                weights=None if masks else weights,
                alpha=args.alpha,
                masks=masks,
                color=args.color,
            )
        ),
        stylizer.precision,
        (lambda: stylizer.grid),
    )
