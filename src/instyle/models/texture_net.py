"""Ulyanov et al. 2016, "Texture Networks" / 2017 "Improved Texture Networks" (the instance
normalization paper): a multi-scale generator g(x, z) fed with the content image at K scales,
each concatenated with a noise tensor z, processed coarse to fine.

    scale k (k = K−1 … 0):  x_k = x downsampled 2^k×,  z_k ~ U(0, 1)
    branch_k = Block(cat(x_k, z_k))                                  (3 + z channels -> c)
    y_{K−1} = branch_{K−1};  y_k = Block(cat(norm(up(y_{k+1})), norm(branch_k)))
    output = 1×1 conv(y_0) -> RGB

Block = 3×3, 3×3, 1×1 convs, each followed by a norm layer and LeakyReLU (as in the paper). The
channel count grows by c at every join, so the finest scale has K·c channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..choices import NORM_LAYERS, check
from ..nn.norm import ConditionalInstanceNorm2d, StyleSelector
from ..sizes import texture_net_grid, texture_sizes
from .layers import ConvBlock, apply_norm, make_norm


@dataclass(frozen=True)
class TextureNetConfig:
    """Shape of a texture network.

    Attributes:
        norm: a norm layer name (``instance`` by default; ``batch`` reproduces the original).
        scales: K, number of input scales (5 in the paper for 256 px images).
        channels: c, channels added per scale (8 in the paper), times ``width``.
        noise_channels: channels of z at each scale (0: no noise input).
        width: channel multiplier.
        styles: style names for a conditional-IN network.
    """

    norm: str = "instance"
    scales: int = 5
    channels: int = 8
    noise_channels: int = 3
    width: float = 1.0
    styles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "styles", tuple(self.styles))
        check(self.norm, NORM_LAYERS, "norm")
        if not 1 <= self.scales <= 8:
            raise ValueError(f"scales must be in [1, 8], got {self.scales}")
        if self.channels < 1 or self.noise_channels < 0:
            raise ValueError("channels must be >= 1 and noise channels >= 0")
        if not 0.0 < self.width <= 8.0:
            raise ValueError(f"width must be in (0, 8], got {self.width}")
        if self.norm == "conditional_instance" and not self.styles:
            raise ValueError("a conditional-IN network needs style names")

    @property
    def num_styles(self) -> int:
        return max(1, len(self.styles))


class _Block(nn.Module):
    """3×3 → 3×3 → 1×1 convs, each with norm + LeakyReLU(0.01): (N, C_in, H, W) -> (N, C_out, H, W)."""

    def __init__(self, c_in: int, c_out: int, norm: str, num_styles: int):
        super().__init__()
        kw: dict[str, Any] = dict(norm=norm, num_styles=num_styles)
        self.convs = nn.ModuleList(
            [
                ConvBlock(c_in, c_out, 3, act=nn.LeakyReLU(0.01, inplace=True), **kw),
                ConvBlock(c_out, c_out, 3, act=nn.LeakyReLU(0.01, inplace=True), **kw),
                ConvBlock(c_out, c_out, 1, act=nn.LeakyReLU(0.01, inplace=True), **kw),
            ]
        )

    def forward(self, x: Tensor, style: StyleSelector | None) -> Tensor:
        for conv in self.convs:
            x = conv(x, style)
        return x


class TextureNet(nn.Module):
    """g(x, z): image (N, 3, H, W) in [0, 1] (+ optional noise list) -> image (N, 3, H, W), not clamped.

    Example:
        >>> net = TextureNet(TextureNetConfig())
        >>> net(torch.rand(1, 3, 64, 48)).shape
        torch.Size([1, 3, 64, 48])
    """

    def __init__(self, config: TextureNetConfig = TextureNetConfig()):
        super().__init__()
        self.config = config
        c = max(2, round(config.channels * config.width))
        k, s = config.scales, config.num_styles
        self.branches = nn.ModuleList([_Block(3 + config.noise_channels, c, config.norm, s) for _ in range(k)])
        # join j merges the running path (c·(j+1) channels) with branch k−2−j (c channels)
        self.join_norm_up = nn.ModuleList([make_norm(config.norm, c * (j + 1), s) for j in range(k - 1)])
        self.join_norm_branch = nn.ModuleList([make_norm(config.norm, c, s) for _ in range(k - 1)])
        self.joins = nn.ModuleList([_Block(c * (j + 2), c * (j + 2), config.norm, s) for j in range(k - 1)])
        self.out = nn.Conv2d(c * k, 3, 1)

    def noise(self, x: Tensor, generator: torch.Generator | None = None) -> list[Tensor]:
        """z for every scale: U(0, 1) tensors (N, noise_channels, H_k, W_k)."""
        sizes = self._sizes(x)
        return [
            torch.rand(
                x.shape[0], self.config.noise_channels, h, w, generator=generator, device=x.device, dtype=x.dtype
            )
            for h, w in sizes
        ]

    def _sizes(self, x: Tensor) -> list[tuple[int, int]]:
        return texture_sizes(x.shape[-2], x.shape[-1], self.config.scales)

    @property
    def grid(self) -> int:
        """Its sampling grid (its coarsest input's step; see :attr:`JohnsonNet.grid`)."""
        return texture_net_grid(self.config.scales)

    def forward(self, x: Tensor, style: StyleSelector | None = None, z: list[Tensor] | None = None) -> Tensor:
        sizes = self._sizes(x)
        if z is None:
            z = self.noise(x) if self.config.noise_channels else [x.new_zeros(x.shape[0], 0, h, w) for h, w in sizes]
        feats = []
        xk = x
        for k, (_h, _w) in enumerate(sizes):
            if k > 0:  # (N, 3, H_{k−1}, W_{k−1}) -> (N, 3, H_k, W_k), ceil so 1-px maps survive
                xk = F.avg_pool2d(xk, 2, 2, ceil_mode=True)
            feats.append(self.branches[k](torch.cat([xk, z[k].to(xk.dtype)], dim=1), style))
        y = feats[-1]
        for j, k in enumerate(range(self.config.scales - 2, -1, -1)):
            y = F.interpolate(y, size=feats[k].shape[-2:], mode="nearest")  # (a traced shape: exports dynamic)
            y = torch.cat(
                [apply_norm(self.join_norm_up[j], y, style), apply_norm(self.join_norm_branch[j], feats[k], style)],
                dim=1,
            )
            y = self.joins[j](y, style)
        return self.out(y)

    def cin_layers(self):
        return [m for m in self.modules() if isinstance(m, ConditionalInstanceNorm2d)]
