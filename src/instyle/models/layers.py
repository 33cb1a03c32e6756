"""Building blocks of the feed-forward generators: padded convs with a norm layer from the
factory, which may be conditional (CIN: the block then takes a style selector)."""

from __future__ import annotations

from torch import Tensor, nn

from ..nn.functional import pad_reflect
from ..nn.norm import ConditionalInstanceNorm2d, StyleSelector, get_norm_layer


def make_norm(norm: str, num_features: int, num_styles: int) -> nn.Module:
    """A norm layer by name; ``conditional_instance`` gets ``num_styles`` (γ, β) pairs."""
    layer = get_norm_layer(norm)
    if layer is ConditionalInstanceNorm2d:
        return ConditionalInstanceNorm2d(num_features, num_styles)
    return layer(num_features)


def apply_norm(layer: nn.Module, x: Tensor, style: StyleSelector | None) -> Tensor:
    if isinstance(layer, ConditionalInstanceNorm2d):
        return layer(x, 0 if style is None else style)
    return layer(x)


class ConvBlock(nn.Module):
    """[nearest ×up] → reflection pad → k×k conv (stride s) → norm → activation.

    (N, C_in, H, W) -> (N, C_out, H·up/s, W·up/s).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        *,
        stride: int = 1,
        upsample: int = 1,
        norm: str = "instance",
        num_styles: int = 1,
        act: nn.Module | None = None,
    ):
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=upsample, mode="nearest") if upsample > 1 else None
        self.pad = nn.ReflectionPad2d(kernel // 2) if kernel > 1 else None  # applied by pad_reflect
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride)
        self.norm = make_norm(norm, c_out, num_styles)
        self.act = act if act is not None else nn.ReLU(inplace=True)

    def forward(self, x: Tensor, style: StyleSelector | None = None) -> Tensor:
        if self.upsample is not None:
            x = self.upsample(x)
        if self.pad is not None:
            x = pad_reflect(x, self.pad.padding)
        return self.act(apply_norm(self.norm, self.conv(x), style))
