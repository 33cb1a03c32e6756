"""Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses for Real-Time Style Transfer": the residual
image transformation network, with instance normalization in place of batch normalization
(Ulyanov et al. 2016) and nearest-upsample + conv instead of transposed convs (no checkerboard).
With ``norm="conditional_instance"`` it is Dumoulin et al.'s multi-style network (2017): one
(γ, β) per style in every norm layer, selected or blended by ``style``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from ..choices import NORM_LAYERS, check
from ..nn.functional import pad_reflect
from ..nn.norm import ConditionalInstanceNorm2d, StyleSelector
from ..sizes import SIDE_MULTIPLE, padded_side
from .layers import ConvBlock, apply_norm, make_norm


@dataclass(frozen=True)
class JohnsonConfig:
    """Shape of a Johnson transformer network.

    Attributes:
        norm: ``instance`` (default), ``batch``, ``group``, ``layer``, ``none`` or
            ``conditional_instance`` (multi-style).
        width: channel multiplier (1.0 = 32/64/128 channels as in the paper).
        residual_blocks: number of residual blocks (5 in the paper).
        styles: names of the styles of a conditional-IN network (one (γ, β) per name).
    """

    norm: str = "instance"
    width: float = 1.0
    residual_blocks: int = 5
    styles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "styles", tuple(self.styles))
        check(self.norm, NORM_LAYERS, "norm")
        if not 0.0 < self.width <= 4.0:
            raise ValueError(f"width must be in (0, 4], got {self.width}")
        if not 0 <= self.residual_blocks <= 32:
            raise ValueError(f"residual blocks must be in [0, 32], got {self.residual_blocks}")
        if self.conditional and not self.styles:
            raise ValueError("a conditional-IN network needs style names")
        if len(set(self.styles)) != len(self.styles):
            raise ValueError("style names must be unique")

    @property
    def conditional(self) -> bool:
        return self.norm == "conditional_instance"

    @property
    def num_styles(self) -> int:
        return max(1, len(self.styles))


class ResidualBlock(nn.Module):
    """x + norm(conv(relu(norm(conv(x))))), 3×3 convs with reflection padding: (N, C, H, W) -> same."""

    def __init__(self, channels: int, norm: str, num_styles: int):
        super().__init__()
        self.block = ConvBlock(channels, channels, 3, norm=norm, num_styles=num_styles)
        self.pad = nn.ReflectionPad2d(1)
        self.conv = nn.Conv2d(channels, channels, 3)
        self.norm = make_norm(norm, channels, num_styles)

    def forward(self, x: Tensor, style: StyleSelector | None = None) -> Tensor:
        return x + apply_norm(self.norm, self.conv(pad_reflect(self.block(x, style), self.pad.padding)), style)


class JohnsonNet(nn.Module):
    """Image (N, 3, H, W) in [0, 1] -> stylized image (N, 3, H, W), not clamped.

    Layout (Johnson et al. 2016, supplementary): 9×9 conv (32), two stride-2 3×3 convs (64, 128),
    residual blocks (128), two ×2 nearest upsample + 3×3 convs (64, 32), 9×9 conv to RGB.
    Sides not divisible by 4 or under :data:`~instyle.sizes.MIN_SIDE` are padded
    (:func:`~instyle.sizes.padded_side`) and cropped back, so any image of at least 1×1 px goes through.

    Example:
        >>> net = JohnsonNet(JohnsonConfig(width=0.5))
        >>> net(torch.rand(1, 3, 30, 42)).shape
        torch.Size([1, 3, 30, 42])
    """

    def __init__(self, config: JohnsonConfig = JohnsonConfig()):
        super().__init__()
        self.config = config
        c = [max(4, round(n * config.width)) for n in (32, 64, 128)]
        kw: dict[str, Any] = dict(norm=config.norm, num_styles=config.num_styles)
        self.down = nn.ModuleList(
            [
                ConvBlock(3, c[0], 9, **kw),
                ConvBlock(c[0], c[1], 3, stride=2, **kw),
                ConvBlock(c[1], c[2], 3, stride=2, **kw),
            ]
        )
        self.res = nn.ModuleList(
            [ResidualBlock(c[2], config.norm, config.num_styles) for _ in range(config.residual_blocks)]
        )
        self.up = nn.ModuleList(
            [ConvBlock(c[2], c[1], 3, upsample=2, **kw), ConvBlock(c[1], c[0], 3, upsample=2, **kw)]
        )
        self.out = nn.Sequential(nn.ReflectionPad2d(4), nn.Conv2d(c[0], 3, 9))

    @property
    def grid(self: nn.Module) -> int:  # self: any module, as InferenceJohnson shares this property
        """Its sampling grid: an input shifted by a multiple of it gives an output shifted alike
        (two stride-2 convs; other shifts paint textures in another phase)."""
        return SIDE_MULTIPLE

    def forward(self, x: Tensor, style: StyleSelector | None = None) -> Tensor:
        h, w = x.shape[-2:]
        ph, pw = padded_side(h) - h, padded_side(w) - w
        if ph or pw:  # (N, 3, H, W) -> (N, 3, padded_side(H), padded_side(W))
            x = pad_reflect(x, (0, pw, 0, ph))
        for block in self.down:
            x = block(x, style)
        for block in self.res:
            x = block(x, style)
        for block in self.up:
            x = block(x, style)
        return self.out(x)[..., :h, :w]

    def cin_layers(self):
        """The conditional-IN layers (whose γ, β are the per-style parameters)."""
        return [m for m in self.modules() if isinstance(m, ConditionalInstanceNorm2d)]
