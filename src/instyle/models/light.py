"""A light arbitrary-style network: a small VGG-shaped encoder and its mirrored decoder, distilled
from AdaIN's VGG-19 encoder and decoder (collaborative distillation, Wang et al. CVPR 2020,
"Collaborative Distillation for Ultra-Resolution Universal Style Transfer").

    e: RGB (N, 3, H, W) -> {relu1_1 … relu4_1}, the last (N, C4, ⌈H/8⌉, ⌈W/8⌉)   student encoder
    d: (N, C4, h, w) -> RGB (N, 3, 8h, 8w)                                     student decoder
    P_l: 1×1 conv, student relu{l}_1 -> VGG-19 relu{l}_1's channels            used in training only

    T(c, s) = d((1 − α)·e(c) + α·AdaIN(e(c), e(s)))

The encoder keeps VGG-19's layout up to relu4_1 (2, 2, 4, 1 convs of 3×3 with reflection
padding, three 2×2 max-poolings in ceil mode), so it has the same stride (8) and receptive field
(68 px) as AdaIN's encoder and the exact tiling of :mod:`instyle.tiling` applies unchanged; its
widths are a fraction of VGG's (default 16/32/64/128 against 64/128/256/512: 1/16 of the
multiply-adds). The decoder mirrors it like AdaIN's decoder mirrors VGG. Style statistics are taken
from this encoder's relu4_1, so presets have a light version of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..choices import ADAIN_LAYER, ADAIN_STYLE_LAYERS, PADDINGS, UPSAMPLINGS, check
from ..nn.functional import adain
from .adain import AdaINConfig, AdaINDecoder, _PadConv

#: VGG-19's channels at relu1_1 … relu4_1: what the projections P_l map to.
TEACHER_CHANNELS = (64, 128, 256, 512)
#: Convs per stage up to relu4_1, as in VGG-19 (conv1_1-1_2, conv2_1-2_2, conv3_1-3_4, conv4_1).
_STAGE_CONVS = (2, 2, 4, 1)


@dataclass(frozen=True)
class LightAdaINConfig:
    """Shape of a light AdaIN network.

    Attributes:
        width: channel multiplier on VGG-19's 64/128/256/512 channels, for the encoder and the
            decoder alike (0.25: 16/32/64/128, 1/16 of VGG's multiply-adds).
        padding: of every 3×3 conv: ``reflect`` (files made before this field) or ``zero``
            (the shipped network: on onnxruntime the pads and the layout copies around them were
            a large share of its time; docs/benchmarks.md).
        upsample: the decoder's ×2 upsampling, ``nearest`` (files made before this field) or
            ``bilinear`` (the shipped network: nearest left a block lattice in flat areas).
    """

    width: float = 0.25
    padding: str = "reflect"
    upsample: str = "nearest"

    def __post_init__(self) -> None:
        if not 0.0 < self.width <= 1.0:
            raise ValueError(f"width must be in (0, 1], got {self.width}")
        check(self.padding, PADDINGS, "padding")
        check(self.upsample, UPSAMPLINGS, "upsample")

    @property
    def widths(self) -> tuple[int, ...]:
        """Encoder channels at relu1_1, relu2_1, relu3_1, relu4_1."""
        return tuple(max(8, round(c * self.width)) for c in TEACHER_CHANNELS)

    @property
    def feature_channels(self) -> int:
        """Channels of the AdaIN features (relu4_1)."""
        return self.widths[-1]


class LightEncoder(nn.Module):
    """e: RGB [0, 1] (N, 3, H, W) -> features by name, relu4_1 of shape (N, C4, ⌈H/8⌉, ⌈W/8⌉).

    The same interface as :class:`instyle.vgg.VGG19Encoder` for the layers it has: ``forward(x,
    layers)`` returns ``{name: tensor}`` and stops at the deepest layer asked for; ``encode(x)``
    returns relu4_1.
    """

    layer_names = ADAIN_STYLE_LAYERS  # relu1_1 … relu4_1

    def __init__(self, config: LightAdaINConfig = LightAdaINConfig()):
        super().__init__()
        self.stages = nn.ModuleList()
        c_in = 3
        for width, n in zip(config.widths, _STAGE_CONVS):
            # the stage's first conv gives relu{k}_1, its other convs follow it at the same width
            self.stages.append(
                nn.ModuleList([_PadConv(c_in if i == 0 else width, width, padding=config.padding) for i in range(n)])
            )
            c_in = width

    def forward(self, x: Tensor, layers: Iterable[str] | str = (ADAIN_LAYER,)) -> dict[str, Tensor]:
        wanted = [layers] if isinstance(layers, str) else list(layers)
        unknown = [n for n in wanted if n not in self.layer_names]
        if unknown or not wanted:
            raise ValueError(f"the light encoder has layers {', '.join(self.layer_names)}, got {wanted}")
        stop = max(self.layer_names.index(n) for n in wanted)
        out: dict[str, Tensor] = {}
        h = x * 2.0 - 1.0  # [0, 1] -> [-1, 1]
        # each stage is a ModuleList of _PadConv (__init__)
        for k, convs in enumerate(cast("list[nn.ModuleList]", self.stages[: stop + 1])):
            if k > 0:
                h = F.max_pool2d(h, 2, 2, ceil_mode=True)  # (N, C, ⌈H/2⌉, ⌈W/2⌉): odd sizes keep every pixel
            h = convs[0](h)
            if self.layer_names[k] in wanted:
                out[self.layer_names[k]] = h
            if k == stop:
                break
            for conv in convs[1:]:
                h = conv(h)
        return out

    def encode(self, x: Tensor, layer: str = ADAIN_LAYER) -> Tensor:
        """Features of one layer, (N, C, H', W')."""
        return self(x, (layer,))[layer]


class LightAdaIN(nn.Module):
    """The light network: ``encoder`` (e), ``decoder`` (d, :class:`AdaINDecoder`'s layout at the
    same width) and ``project`` (P_l, training only).

    Example:
        >>> net = LightAdaIN(LightAdaINConfig())
        >>> net.encoder.encode(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 128, 8, 8])
        >>> net.decoder(torch.zeros(1, 128, 8, 8)).shape
        torch.Size([1, 3, 64, 64])
    """

    def __init__(self, config: LightAdaINConfig = LightAdaINConfig()):
        super().__init__()
        self.config = config
        self.encoder = LightEncoder(config)
        self.decoder = AdaINDecoder(
            AdaINConfig(
                width=config.width,
                in_channels=config.feature_channels,
                padding=config.padding,
                upsample=config.upsample,
            )
        )
        # P_l: (N, c_l, h, w) -> (N, C_l, h, w), a linear map of student features into VGG's (Wang et al. 2020, eq. 3)
        self.project = nn.ModuleDict(
            {
                name: nn.Conv2d(c, c_vgg, 1)
                for name, c, c_vgg in zip(ADAIN_STYLE_LAYERS, config.widths, TEACHER_CHANNELS)
            }
        )

    def encoder_id(self) -> str:
        """``light/<sha256 prefix of the encoder's fp16 weights>``: the features a preset's light
        statistics were taken from (another light network's encoder gives other statistics)."""
        h = hashlib.sha256()
        if self.config.padding != "reflect":  # other features from the same weights (reflect: ids as before)
            h.update(f"padding={self.config.padding}".encode())
        for name, t in sorted(self.encoder.state_dict().items()):
            h.update(name.encode())
            h.update(t.detach().to("cpu", torch.float16).contiguous().numpy().tobytes())
        return f"light/{h.hexdigest()[:16]}"

    def forward(self, content: Tensor, style: Tensor) -> Tensor:
        """Stylize (N, 3, H, W) with (N, 3, H', W'): d(AdaIN(e(c), e(s))), (N, 3, 8⌈H/8⌉, 8⌈W/8⌉)."""
        return self.decoder(adain(self.encoder.encode(content), self.encoder.encode(style)))
