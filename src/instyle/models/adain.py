"""AdaIN arbitrary style transfer (Huang & Belongie 2017, "Arbitrary Style Transfer in Real-time
with Adaptive Instance Normalization").

    t = AdaIN(f(c), f(s))            f: frozen VGG-19 up to relu4_1
    T(c, s) = g((1 − α)·f(c) + α·t)  g: the decoder, trained

The decoder mirrors the encoder: reflection padding, nearest-neighbour ×2 upsampling (or
bilinear: ``upsample``), no normalization layers and no output activation (the caller clamps when
saving).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ..choices import ADAIN_LAYER, PADDINGS, UPSAMPLINGS, check
from ..nn.functional import pad_reflect
from ..vgg import VGG19Encoder

ENCODER_LAYER = ADAIN_LAYER  # relu4_1
# (out_channels per conv) for each resolution stage of the decoder, deepest first;
# the encoder's relu4_1 → relu1_1 path read backwards (conv4_1, conv3_4…3_1, conv2_2…2_1, conv1_2…1_1).
_STAGES = ((256,), (256, 256, 256, 128), (128, 64), (64,))


@dataclass(frozen=True)
class AdaINConfig:
    """Shape of an AdaIN decoder.

    Attributes:
        width: channel multiplier of the decoder (1.0 = the paper's 256/128/64 channels); smaller
            decoders are faster, at some cost in detail.
        in_channels: channels of the encoder feature it decodes (relu4_1: 512).
        padding: of its 3×3 convs, ``reflect`` (the paper's) or ``zero`` (the light network).
        upsample: of its ×2 stages, ``nearest`` (the paper's) or ``bilinear`` (no block lattice).
    """

    width: float = 1.0
    in_channels: int = 512
    padding: str = "reflect"
    upsample: str = "nearest"

    def __post_init__(self) -> None:
        if not 0.0 < self.width <= 4.0:
            raise ValueError(f"decoder width must be in (0, 4], got {self.width}")
        if self.in_channels < 1:
            raise ValueError(f"in_channels must be positive, got {self.in_channels}")
        check(self.padding, PADDINGS, "padding")
        check(self.upsample, UPSAMPLINGS, "upsample")


class _ReflectPad(nn.ReflectionPad2d):
    """ReflectionPad2d through :func:`~instyle.nn.functional.pad_reflect`: thin images, whose
    relu4_1 map is 1 px, decode instead of failing."""

    def forward(self, x: Tensor) -> Tensor:
        return pad_reflect(x, self.padding)


class _PadConv(nn.Sequential):
    """ReflectionPad(1) + 3×3 conv (+ ReLU), or with ``padding="zero"`` the conv's own zero padding
    (the same weights and names; onnxruntime runs it without a separate pad and layout copies):
    (N, C_in, H, W) -> (N, C_out, H, W)."""

    def __init__(self, c_in: int, c_out: int, relu: bool = True, padding: str = "reflect"):
        zero = padding == "zero"
        layers: list[nn.Module] = [
            nn.Identity() if zero else _ReflectPad(1),
            nn.Conv2d(c_in, c_out, 3, padding=int(zero)),
        ]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class AdaINDecoder(nn.Module):
    """g: relu4_1-like features (N, 512, H/8, W/8) -> RGB image (N, 3, H, W), not clamped.

    Example:
        >>> dec = AdaINDecoder(AdaINConfig())
        >>> dec(torch.zeros(1, 512, 4, 4)).shape
        torch.Size([1, 3, 32, 32])
    """

    def __init__(self, config: AdaINConfig = AdaINConfig()):
        super().__init__()
        self.config = config
        ch = lambda c: max(8, round(c * config.width))  # noqa: E731
        layers: list[nn.Module] = []
        c_in = config.in_channels
        for i, stage in enumerate(_STAGES):
            if i > 0:
                layers.append(nn.Upsample(scale_factor=2, mode=config.upsample))
            for c_out in stage:
                layers.append(_PadConv(c_in, ch(c_out), padding=config.padding))
                c_in = ch(c_out)
        layers.append(_PadConv(c_in, 3, relu=False, padding=config.padding))  # conv1_1 mirrored: to RGB
        self.layers = nn.Sequential(*layers)

    def forward(self, t: Tensor) -> Tensor:
        return self.layers(t)


def make_encoder(weights_path=None) -> VGG19Encoder:
    """The frozen AdaIN encoder: VGG-19 to relu4_1 with reflection padding and ceil-mode pooling
    (as in the authors' code, so borders stay clean and odd sizes keep every pixel)."""
    return VGG19Encoder(last_layer=ENCODER_LAYER, padding="reflect", ceil_mode=True, weights_path=weights_path)
