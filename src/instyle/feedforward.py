"""Stylizing with a trained fast network (Johnson / Ulyanov generators, one style or several via
conditional instance normalization): :class:`FastStylizer`."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from . import color as colour
from .alloc import keep_freed_memory
from .blend import FAST_MAX_PIXELS, StyleChoice, check_fast_request, style_vector
from .checkpoint import load_model
from .device import precision_dtype, resolve_device, resolve_precision
from .errors import OptionError
from .models import JohnsonNet, TextureNet
from .models.inference import InferenceJohnson, for_inference
from .shipped import companion_references, resolve_model
from .sizes import STROKE_REFERENCE, Brushes, stroke_reference


class FastStylizer(Brushes):
    """One forward pass of a trained feed-forward network.

    Args:
        model: a model file / training checkpoint of a ``johnson`` or ``texture_net`` network,
            the module itself, or None (or ``"builtin"``) for the multi-style network shipped
            with instyle (its styles: :func:`builtin_styles`), which hands outputs up to 512 px to
            its companion ``"builtin-512"`` (:meth:`brush`); ``"builtin-large"`` for the wider,
            slower network it was distilled from, ``"builtin-video"`` for the one trained for
            video (same styles; narrower and deeper, faster per frame: docs/fast.md).
        device, channels_last: as for :class:`instyle.AdaINStylizer`.
        precision: ``fp32``, ``bf16``, or ``auto``: bf16 on GPUs that support it, fp32 on CPUs
            (these narrow nets gain nothing from bf16 even with native bf16 instructions: the
            built-in net is slower in bf16 than in fp32 on an AVX512-BF16 CPU, and bf16 moves
            its outputs visibly; benchmarks/fast.py, docs/fast.md).
        max_pixels: larger images are refused with a clear error: the network sees the whole
            image at once (instance-norm statistics are global), so its memory grows with the
            pixel count (peak memory per size: benchmarks/fast.py, docs/fast.md); use a smaller
            size, or AdaIN (``AdaINStylizer``), which tiles.

    Example:
        >>> fs = FastStylizer()                       # the built-in styles    # doctest: +SKIP
        >>> fs.styles                                                               # doctest: +SKIP
        ('starry_night', 'the_scream', 'wave', ...)
        >>> out = fs(load_image("photo.jpg", size=1024), ["starry_night", "wave"], weights=[0.5, 0.5])  # doctest: +SKIP
    """

    net: JohnsonNet | TextureNet | InferenceJohnson  # the net as loaded, or its inference rewrite
    #: The longer side at which its strokes have the size ``stroke`` = 1 asks for (its file's
    #: metadata, :func:`instyle.sizes.stroke_reference`; :func:`instyle.sizes.stroke_side` uses it).
    stroke_reference: int

    def __init__(
        self,
        model: str | os.PathLike | nn.Module | None = None,
        *,
        device: str = "cpu",
        precision: str = "auto",
        channels_last: bool = True,
        max_pixels: int = FAST_MAX_PIXELS,
    ):
        self.device = resolve_device(device)
        self.max_pixels = max_pixels
        self._settings: dict[str, Any] = dict(
            device=device, precision=precision, channels_last=channels_last, max_pixels=max_pixels
        )
        if model is None or isinstance(model, str):  # a shipped network's name may have companions
            self.companions = companion_references(model)
        self.precision = resolve_precision(precision, self.device, bf16_on_cpu=False)
        if self.device.type == "cpu":
            keep_freed_memory()  # reuse activation pages between calls (alloc.py)
        net: nn.Module
        if isinstance(model, nn.Module):
            if not isinstance(model, (JohnsonNet, TextureNet)):
                raise TypeError(f"model must be a JohnsonNet or TextureNet, got {type(model).__name__}")
            net = copy.deepcopy(model)
            self.stroke_reference = STROKE_REFERENCE
        else:
            model = resolve_model(model)
            net, meta = load_model(model, device="cpu")
            self.stroke_reference = stroke_reference(meta)
            if not isinstance(net, (JohnsonNet, TextureNet)):
                raise OptionError(
                    f"{os.fspath(model)} holds an AdaIN decoder, not a fast network; use it with {{decoder}}",
                    decoder=("AdaINStylizer(decoder=...)", "--decoder"),
                )
        self.dtype = precision_dtype(self.precision)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        # the Johnson net rewritten for speed (same outputs; models/inference.py), then moved
        # (Module.to takes memory_format, which torch's type overloads of it leave out)
        self.net = for_inference(net.eval()).to(self.device, dtype=self.dtype, memory_format=fmt)  # type: ignore[call-overload]
        self.channels_last = channels_last

    def _load_companion(self, name: str) -> FastStylizer:
        return FastStylizer(name, **self._settings)

    @property
    def grid(self) -> int:
        """The network's sampling grid in px (4 for Johnson nets): video keeps it fixed to the scene."""
        return self.net.grid

    @property
    def styles(self) -> tuple[str, ...]:
        """Names of the styles of a multi-style network (empty for a single-style one)."""
        return tuple(self.net.config.styles)

    def selector(self, style: StyleChoice, weights: Sequence[float] | None = None) -> Tensor | None:
        """A CIN style selector: None (single-style net), or weights (S,) over the net's styles
        (:func:`instyle.blend.style_vector`)."""
        vec = style_vector(self.styles, style, weights)
        return None if vec is None else torch.tensor(vec, dtype=torch.float32, device=self.device)

    @torch.no_grad()
    def __call__(
        self,
        content: Tensor,
        style: StyleChoice = None,
        *,
        weights: Sequence[float] | None = None,
        color: str = "none",
        seed: int = 0,
    ) -> Tensor:
        """Stylize ``content`` (1, 3, H, W) RGB in [0, 1] -> (1, 3, H, W) in [0, 1].

        ``style``: a style name or index of a multi-style net, or several to blend with
        ``weights`` (CIN γ, β mixed, Dumoulin et al. 2017). ``color="luminance"`` keeps the
        photo's chroma. ``seed`` fixes a texture net's noise input.
        """
        check_fast_request(color, content.shape[-2:], self.max_pixels)
        sel = self.selector(style, weights)
        x = content.to(self.device, torch.float32)
        if x.dim() == 3:
            x = x.unsqueeze(0)
        xin = x.to(self.dtype)
        if self.channels_last:
            xin = xin.contiguous(memory_format=torch.channels_last)
        out = forward(self.net, xin, sel, seed=seed)
        out = out.float().clamp_(0.0, 1.0)  # the net's own fresh output: clamped in place
        if color == "luminance":
            out = colour.combine_luminance(out, x)
        return out.contiguous()


def forward(net: nn.Module, x: Tensor, style: Tensor | None = None, *, seed: int = 0) -> Tensor:
    """One pass of a fast network (a :class:`JohnsonNet`, its inference rewrite, or a
    :class:`TextureNet`, which also takes noise drawn from ``seed``) on (N, 3, H, W) in [0, 1]."""
    if isinstance(net, TextureNet):
        z = net.noise(x, torch.Generator(device=x.device).manual_seed(seed))
        return net(x, style, z=z)
    return net(x, style)
