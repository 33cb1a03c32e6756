"""Arbitrary style transfer in one forward pass: :class:`AdaINStylizer` (AdaIN, Huang & Belongie 2017).

Controls (paper, section 7): content–style trade-off α, blends of several styles with weights,
spatial control with masks, colour preservation; plus style presets (stored statistics) and
exact tiling for images of any size.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeGuard, Union, cast

import torch
from torch import Tensor, nn

from . import color as colour
from . import shipped
from .blend import check_alpha
from .checkpoint import load_model
from .choices import ADAIN_ARCHS, COLOR_MODES, DEFAULT_ADAIN_ARCH, check
from .device import precision_dtype, resolve_device, resolve_precision
from .errors import COLOR_LUMINANCE, UsageError
from .models.adain import ENCODER_LAYER, AdaINDecoder, make_encoder
from .models.light import LightAdaIN
from .nn.functional import Stats, adain, adain_regions, alpha_blend, calc_mean_std, mix_stats, normalize_weights
from .presets import ENCODER_ID as VGG_ENCODER_ID
from .presets import load_preset
from .resize import resize_longer, resize_to
from .sizes import STROKE_REFERENCE, Brushes
from .tiling import STRIDE, decode_tiled, encode_tiled

if TYPE_CHECKING:
    from .models.light import LightEncoder
    from .vgg import VGG19Encoder

StyleSpec = Union[Tensor, Stats, str]  # noqa: UP007 - Stats is a typing alias: | needs 3.11


def _is_single(style: object) -> TypeGuard[StyleSpec]:
    """One style (image, path, name, or a (mean, std) pair of (C,) or (…, C, 1, 1) tensors) vs a sequence of styles."""
    if isinstance(style, (Tensor, str, os.PathLike)):
        return True
    return bool(
        isinstance(style, (tuple, list))
        and len(style) == 2
        and all(isinstance(t, Tensor) and (t.dim() == 1 or tuple(t.shape[-2:]) == (1, 1)) for t in style)
    )


def style_statistics(
    style: Tensor,
    encode: Callable[[Tensor], Tensor],
    *,
    style_size: int | None = 512,
    match_to: Tensor | None = None,
) -> Stats:
    """relu4_1 ``(mean, std)``, each (1, C, 1, 1) float32, of a style image (1, 3, H, W), as AdaIN
    takes them: longer side resized to ``style_size`` (None: as given) with instyle's one resize
    (:mod:`instyle.resize`), recoloured to ``match_to`` first if given (CORAL), then ``encode``d.

    The one definition of a style's statistics: :class:`AdaINStylizer` uses it for style images, and
    :func:`make_preset` for the presets users save and the built-in ones, so a
    preset stylizes exactly like its image.
    """
    img = style.float()
    if img.dim() == 3:
        img = img.unsqueeze(0)
    if style_size is not None:
        img = resize_longer(img, style_size)
    if match_to is not None:
        img = colour.match_colors(img, match_to.to(img.device, torch.float32))
    return calc_mean_std(encode(img))


def make_preset(image: Tensor, *, style_size: int = 512, network: LightAdaIN | None = None) -> Stats:
    """A style image (1, 3, H, W) in [0, 1] -> the statistics a preset stores: exactly what
    :class:`~instyle.AdaINStylizer` takes from that image at ``style_size`` (in float32), through
    :func:`style_statistics`, with VGG-19 (``network`` None) or a
    :class:`~instyle.models.LightAdaIN`'s encoder. Used by ``instyle styles save`` and to build
    the built-in presets."""
    import torch

    from .models.adain import ENCODER_LAYER, make_encoder

    encoder = make_encoder() if network is None else network.encoder.float().eval()
    with torch.no_grad():
        return style_statistics(image, lambda x: encoder.encode(x, ENCODER_LAYER), style_size=style_size)


def shipped_light_preset(image: Tensor, *, style_size: int = 512) -> tuple[str, Stats] | None:
    """``(encoder id, stats)`` of a style image for the shipped light AdaIN network, as
    :func:`make_preset` takes them; None when this instyle ships no light network."""
    from .checkpoint import load_model
    from .errors import WeightsError

    try:
        path = shipped.default_decoder_path("light")
    except WeightsError:
        return None
    loaded, _ = load_model(path, expect="adain_light")
    network = cast(LightAdaIN, loaded)  # expect= lets only the light network through
    return network.encoder_id(), make_preset(image, style_size=style_size, network=network)


class AdaINStylizer(Brushes):
    """Stylize any content image with any style, in one forward pass.

    Args:
        decoder: a model file / training checkpoint path of an AdaIN decoder (behind VGG-19) or
            a light AdaIN network, an :class:`AdaINDecoder` or :class:`LightAdaIN`, or None for
            the network shipped with instyle.
        arch: ``"light"`` or ``"vgg"``: which shipped network when ``decoder`` is None (default
            :data:`instyle.choices.DEFAULT_ADAIN_ARCH`); given with a file, the file must be one.
        device: ``"cpu"``, ``"cuda"``…
        precision: ``"auto"`` (bf16 where the hardware has native bf16, else fp32), ``"fp32"``, ``"bf16"``.
        channels_last: NHWC layout for the convolutions.
        style_size: style images are resized so their longer side is this (None: as given).
        tile: images above ``max_pixels`` are processed in exact tiles of ``tile`` px (no seams,
            bounded memory).

    Example:
        >>> from instyle import AdaINStylizer, load_image, save_image
        >>> st = AdaINStylizer()                                                        # doctest: +SKIP
        >>> out = st(load_image("photo.jpg", size=512), load_image("starry.jpg"), alpha=0.8)  # doctest: +SKIP
        >>> out = st(photo, ["starry.jpg", "wave"], weights=[0.7, 0.3])           # doctest: +SKIP
        >>> save_image("out.png", out)                                             # doctest: +SKIP
    """

    encoder: VGG19Encoder | LightEncoder  # VGG-19, or the light network's own
    decoder: AdaINDecoder

    def __init__(
        self,
        decoder: str | os.PathLike | nn.Module | None = None,
        *,
        arch: str | None = None,
        device: str = "cpu",
        precision: str = "auto",
        channels_last: bool = True,
        style_size: int | None = 512,
        tile: int = 1024,
        max_pixels: int = 1536 * 1536,
    ):
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        if tile % STRIDE or tile < 64:
            raise ValueError(f"tile must be a multiple of {STRIDE} and >= 64, got {tile}")
        if arch is not None:
            check(arch, ADAIN_ARCHS, "arch", UsageError)
        self.tile, self.max_pixels, self.style_size = tile, max_pixels, style_size
        self.channels_last = channels_last
        if decoder is None:
            decoder = shipped.default_decoder_path(arch or DEFAULT_ADAIN_ARCH)
        net: AdaINDecoder | LightAdaIN
        if isinstance(decoder, nn.Module):
            if not isinstance(decoder, (AdaINDecoder, LightAdaIN)):
                raise TypeError(f"decoder must be an AdaINDecoder or LightAdaIN, got {type(decoder).__name__}")
            net = copy.deepcopy(decoder)  # converted below: the caller's module stays as it is
        else:
            loaded, _ = load_model(decoder, expect=("adain_decoder", "adain_light"))
            net = cast("AdaINDecoder | LightAdaIN", loaded)  # expect= lets only these two kinds through
        if isinstance(net, LightAdaIN):
            # the light network: its own encoder and decoder (models/light.py), its own statistics
            self.arch, self.encoder_id = "light", net.encoder_id()
            self.encoder, self.decoder = net.encoder, net.decoder
        else:
            self.arch, self.encoder_id = "vgg", VGG_ENCODER_ID
            self.encoder, self.decoder = make_encoder(), net
        if arch is not None and arch != self.arch:
            raise UsageError(
                f"{os.fspath(decoder) if not isinstance(decoder, nn.Module) else 'the network'} "
                f"is a {self.arch} AdaIN network, not {arch}"
            )
        self.grid = STRIDE  # the sampling grid in px (relu4_1's step): video keeps it fixed to the scene
        #: The side at which its strokes have the size ``stroke`` = 1 asks for (instyle.sizes.stroke_side).
        self.stroke_reference = STROKE_REFERENCE
        # bf16: weights converted once (autocast would re-cast every weight on every call).
        self.dtype = precision_dtype(self.precision)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        # (Module.to takes memory_format, which torch's type overloads of it leave out)
        self.decoder = self.decoder.to(self.device, dtype=self.dtype, memory_format=fmt).eval()  # type: ignore[call-overload]
        self.encoder = self.encoder.to(self.device, dtype=self.dtype, memory_format=fmt).eval()  # type: ignore[call-overload]

    # -- building blocks

    def _prep(self, img: Tensor) -> Tensor:
        if img.dim() == 3:
            img = img.unsqueeze(0)
        if img.dim() != 4 or img.shape[1] != 3:
            raise ValueError(f"expected an RGB image (1, 3, H, W), got shape {tuple(img.shape)}")
        img = img.to(self.device, torch.float32)
        return img.contiguous(memory_format=torch.channels_last) if self.channels_last else img

    def _encode_one(self, img: Tensor) -> Tensor:
        return self.encoder.encode(img.to(self.dtype), ENCODER_LAYER)

    def _decode_one(self, t: Tensor) -> Tensor:
        t = t.to(self.dtype)
        return self.decoder(t.contiguous(memory_format=torch.channels_last) if self.channels_last else t)

    @torch.no_grad()
    def encode(self, img: Tensor) -> Tensor:
        """(1, 3, H, W) RGB [0, 1] -> relu4_1 features (1, C, ⌈H/8⌉, ⌈W/8⌉), tiled when large
        (C: 512 for VGG-19, 128 for the light encoder)."""
        img = self._prep(img)
        if img.shape[-2] * img.shape[-1] > self.max_pixels:
            return encode_tiled(self._encode_one, img, self.tile)
        return self._encode_one(img)

    @torch.no_grad()
    def decode(self, t: Tensor, size: Sequence[int] | None = None) -> Tensor:
        """Features (1, C, h, w) -> image (1, 3, 8h, 8w) float32, cropped to ``size`` (H, W) if given."""
        h, w = t.shape[-2:]
        if h * w * STRIDE * STRIDE > self.max_pixels:
            out = decode_tiled(self._decode_one, t, self.tile // STRIDE)
        else:
            out = self._decode_one(t).float()
        if size is not None:
            out = out[..., : size[0], : size[1]]
        return out

    @torch.no_grad()
    def style_stats(self, style: StyleSpec, *, match_to: Tensor | None = None) -> Stats:
        """relu4_1 ``(mean, std)`` (each (1, C, 1, 1)) of a style image, stats pair, preset name or
        image path. ``match_to``: recolour the style image to this content first (CORAL)."""
        if isinstance(style, (tuple, list)):
            if match_to is not None:
                raise UsageError(
                    "colour matching needs style images, not stored statistics or presets; use {luminance} instead",
                    luminance=COLOR_LUMINANCE,
                )
            mean, std = style
            return mean.to(self.device).float().view(1, -1, 1, 1), std.to(self.device).float().view(1, -1, 1, 1)
        if isinstance(style, (str, os.PathLike)):
            from .presets import is_preset

            name = os.fspath(style)
            if (not os.path.exists(name) and name != "-") and (
                is_preset(name) or not (os.sep in name or os.path.splitext(name)[1])
            ):
                return self.style_stats(load_preset(name, self.encoder_id), match_to=match_to)  # or: no such preset
            from .imageio import load_image

            style = load_image(name)
        return style_statistics(style.to(self.device), self.encode, style_size=self.style_size, match_to=match_to)

    # -- the pipeline

    @torch.no_grad()
    def __call__(
        self,
        content: Tensor,
        style: StyleSpec | Sequence[StyleSpec],
        *,
        weights: Sequence[float] | None = None,
        alpha: float = 1.0,
        masks: Sequence[Tensor] | None = None,
        color: str = "none",
    ) -> Tensor:
        """Stylize ``content`` (1, 3, H, W) RGB in [0, 1]; returns (1, 3, H, W) in [0, 1].

        Args:
            style: one style (image tensor, image path, preset name, or ``(mean, std)``) or a list.
            weights: blend weights of several styles (normalized to sum to 1; default equal).
            alpha: content–style trade-off α ∈ [0, 1]: t' = α·AdaIN(f(c), f(s)) + (1 − α)·f(c).
            masks: one (1, 1, H, W) mask in [0, 1] per style: style k goes where mask k is the
                largest and above 0.5; elsewhere the content is kept. Each region is normalized
                with its own statistics. Weights do not apply with masks.
            color: ``"none"``, ``"match"`` (recolour styles to the content first) or
                ``"luminance"`` (stylize luminance only, keep the content's colours).
        """
        check_alpha(alpha)
        check(color, COLOR_MODES, "color", UsageError)
        styles: list[StyleSpec] = [style] if _is_single(style) else list(style)
        if not styles:
            raise UsageError("give at least one style")
        content = self._prep(content).float()
        H, W = content.shape[-2:]
        w = normalize_weights(weights, len(styles)) if masks is None else None

        source = colour.luminance_only(content) if color == "luminance" else content
        stats = []
        for s in styles:
            if color == "luminance" and isinstance(s, Tensor):
                s = colour.luminance_only(s.to(self.device, torch.float32), reference=content)
            elif color == "luminance" and isinstance(s, (str, os.PathLike)) and os.path.exists(os.fspath(s)):
                from .imageio import load_image

                s = colour.luminance_only(load_image(os.fspath(s)).to(self.device), reference=content)
            stats.append(self.style_stats(s, match_to=content if color == "match" else None))

        fc = self.encode(source).float()  # (1, C, h, w)
        if masks is None:
            assert w is not None  # set above where there are no masks
            t = adain(fc, mix_stats(stats, w), key=ENCODER_LAYER)  # keyed: video shares its statistics
        else:
            t = adain_regions(fc, self._labels(masks, len(styles), fc.shape[-2:]), stats)
        t = alpha_blend(t, fc, alpha)
        out = self.decode(t, (H, W)).clamp(0.0, 1.0)
        if color == "luminance":
            out = colour.combine_luminance(out, content)
        return out.contiguous()

    def _labels(self, masks: Sequence[Tensor], n_styles: int, hw: Sequence[int]) -> Tensor:
        """Masks (1, 1, H, W) in [0, 1] -> region labels (1, 1, h, w) at feature resolution."""
        if len(masks) != n_styles:
            raise UsageError(f"got {len(masks)} masks for {n_styles} styles; give one mask per style")
        small = []
        for m in masks:
            m = m.to(self.device, torch.float32)
            if m.dim() == 3:
                m = m.unsqueeze(0)
            if m.shape[1] == 3:
                m = m.mean(dim=1, keepdim=True)
            small.append(resize_to(m, hw))
        stacked = torch.cat(small, dim=1)  # (1, K, h, w)
        best, label = stacked.max(dim=1, keepdim=True)
        return torch.where(best > 0.5, label, torch.full_like(label, -1))


#: The name AdaINStylizer had before the fast and video stylizers were named for their method too.
Stylizer = AdaINStylizer
