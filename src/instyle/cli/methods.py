"""How ``stylize`` and ``video`` build their :class:`Painter` from the options: the fast network
(torch or onnxruntime) or AdaIN (torch or onnxruntime), behind one type that takes and returns
(H, W, 3) float32 arrays whatever the runtime."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..method import network_color
from ..sizes import DEFAULT_STROKE
from . import common

if TYPE_CHECKING:
    import numpy as np

    from ..imageio import ImageArray
    from ..stylize import AdaINStylizer


class Network(Protocol):
    """What a painter asks of the network behind it (FastStylizer, OnnxFastStylizer,
    AdaINStylizer, OnnxAdaIN)."""

    @property
    def grid(self) -> int: ...  # its sampling grid in px (video keeps it fixed to the scene)

    def brush(self, longer: int, stroke: float) -> tuple[Any, int]: ...  # instyle.sizes.Brushes.brush


class Painter:
    """One network with the options of a run bound: ``painter(rgb, **statistics)`` turns a (H, W, 3)
    float32 array in [0, 1] into its stylized (H, W, 3) float32 array (``statistics=``: an ONNX
    graph that shares them across video frames). ``paint(network, rgb, **statistics)`` runs a
    network of the run (the main one or a companion, :meth:`at_stroke`); ``network`` is called when
    the main one is needed (onnxruntime loads it in the background while the first photo is decoded)."""

    def __init__(self, paint: Callable[..., np.ndarray], precision: str, network: Callable[[], Network]):
        self._paint, self.precision, self._network = paint, precision, network

    def __call__(self, rgb: np.ndarray, **statistics) -> np.ndarray:
        return self._paint(self._network(), rgb, **statistics)

    @property
    def grid(self) -> int:
        return self._network().grid

    def at_stroke(self, data: ImageArray, stroke: float) -> np.ndarray:
        """``data`` (at the output's size) painted with the asked brush (:func:`at_brush`); the
        result is resampled to the output's size as it is written (``save_image(size=data.size)``)."""
        return self._paint(*at_brush(self._network(), data, stroke))


def at_brush(network: Network, data: ImageArray, stroke: float = DEFAULT_STROKE) -> tuple[Any, np.ndarray]:
    """(painter, rgb): the network of ``network``'s pair whose brush fits ``data`` (at the output's
    size) and the photo at the side it paints at (:meth:`instyle.sizes.Brushes.brush`)."""
    painter, side = network.brush(max(data.size), stroke)
    return painter, data.resized(side).rgb


def fit(rgb: np.ndarray, data: ImageArray) -> np.ndarray:
    """A result painted at its brush's side (:func:`at_brush`) resampled to ``data``'s size (a file
    gets this from ``save_image(size=)``; a sheet's cell from here)."""
    import numpy as np

    from ..imageio.modes import resize_plane

    if rgb.shape[1::-1] == tuple(data.size):
        return rgb
    return np.stack([resize_plane(rgb[..., c], data.size) for c in range(3)], axis=2)


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
            ("--color palette", args.color == "palette"),
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
) -> Painter:
    """The :class:`Painter` of a fast network on ``backend`` (``threads``: onnxruntime's threads
    per call, None: its default). ``shared_statistics`` (video): on onnxruntime, the network's
    graph that shares them, and the painter takes the frame's ``statistics=``; torch shares them
    through its statistics filter."""
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
        return Painter(lambda net, rgb, **stats: net(rgb, style, **kw, **stats), "fp32", loading.result)
    from ..feedforward import FastStylizer
    from ..imageio.modes import hwc_to_tensor, tensor_to_hwc

    fast = FastStylizer(
        args.model, device=args.device, precision=args.precision, channels_last=not args.no_channels_last
    )
    fast.selector(style, kw["weights"])  # unknown names fail before any work
    return Painter(lambda net, rgb: tensor_to_hwc(net(hwc_to_tensor(rgb), style, **kw)), fast.precision, lambda: fast)


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
    if network_color(args.color) != "none":  # palette recolours the result: either runtime
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
) -> Painter:
    """The :class:`Painter` of AdaIN (torch, or the light network on onnxruntime with ``threads``
    per call). ``shared_statistics`` (video): torch only, through its statistics filter."""
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
        recolour = _palette(args, styles, weights)
        return Painter(lambda net, rgb: recolour(net(rgb, mixed, alpha=args.alpha)), "fp32", lambda: net)
    from ..imageio import load_image
    from ..imageio.modes import hwc_to_tensor, tensor_to_hwc

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
    if network_color(args.color) == "none":
        style_specs = [stylizer.style_stats(s) for s in style_specs]
    masks = [load_image(m) for m in args.mask] if getattr(args, "mask", None) else None
    recolour = _palette(args, styles, weights)

    def paint(stylizer: AdaINStylizer, rgb: np.ndarray) -> np.ndarray:
        out = stylizer(
            hwc_to_tensor(rgb),
            style_specs,
            weights=None if masks else weights,
            alpha=args.alpha,
            masks=masks,
            color=network_color(args.color),
        )
        return recolour(tensor_to_hwc(out))

    return Painter(paint, stylizer.precision, lambda: stylizer)


def _palette(args: argparse.Namespace, styles: list[str], weights: list[float]) -> Callable[[np.ndarray], np.ndarray]:
    """The step after the network for ``--color palette`` (:func:`instyle.palette.match_palette`
    with the style images at ``--style-size``, weighted like the blend, as strong as α); else none."""
    if args.color != "palette":
        return lambda rgb: rgb
    from ..imageio import read_array
    from ..palette import match_palette

    paintings = [read_array(s, max_size=args.style_size).rgb for s in styles]
    return lambda rgb: match_palette(rgb, paintings, weights or None, strength=args.alpha)
