"""A trained Johnson network rewritten for fast inference, with the same outputs (up to float
rounding): :func:`for_inference`.

Two rewrites, both exact re-expressions of the same linear maps:

* **Nearest ×2 upsample + reflection pad + 3×3 conv** becomes one 3×3 conv on the *low-resolution*
  map (replicate-padded) with 4× the output channels, one per output phase (a, b) ∈ {0, 1}², then
  a depth-to-space copy (:func:`phase_shuffle`). With U = up(x): U[2i + a + k − 1] = x[i + ⌊(a + k − 1)/2⌋],
  so phase a sums the
  kernel rows that land on the same low-res row (a = 0: w₀ | w₁ + w₂; a = 1: w₀ + w₁ | w₂), and
  reflect-pad(up(x)) = up(replicate-pad(x)) at the border. No upsampled map is built or padded.
* **The last 9×9 conv to RGB** (3 output channels: poorly vectorized, a large share of a call) runs
  as a stride-2 10×10 conv to 12 channels (3 colours × 4 output phases, the kernel shifted by the
  phase), then the same copy: 23 % more multiply-adds (zeros), yet faster on CPUs, as 12 output
  channels vectorize where 3 do not (docs/fast.md, "Speed"). The first 9×9 conv gets the same
  rewrite when it has fewer than 16 output channels (narrow students); wider, it is faster as it is.

The norm layers, the down-sampling convs and the residual blocks are the trained modules
themselves (shared, not copied).
"""

from __future__ import annotations

from typing import TypeVar, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nn.functional import pad_reflect
from ..nn.norm import StyleSelector
from .johnson import JohnsonNet
from .layers import ConvBlock, apply_norm

# Rows of the phase kernels from the rows of a 3×3 kernel, for output phase a = 0 and a = 1:
# (3 new rows over replicate-padded low-res offsets −1, 0, +1) × (3 original rows).
_PHASE_ROWS = torch.tensor(
    [[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]]
)


def upsample_conv_weight(weight: Tensor) -> Tensor:
    """3×3 conv weight (Co, Ci, 3, 3) applied after nearest ×2 upsampling -> the phase conv's
    weight (4·Co, Ci, 3, 3) on the replicate-padded low-res input; output channel (2a + b)·Co + co
    is phase (a, b) of channel co, the order :func:`phase_shuffle` expects."""
    m = _PHASE_ROWS.to(weight)  # (2, 3, 3): phase, new row, old row
    w = torch.einsum("arj,oijk,bsk->aboirs", m, weight, m)  # (2, 2, Co, Ci, 3, 3)
    return w.reshape(weight.shape[0] * 4, weight.shape[1], 3, 3)


def strided_phase_conv_weight(weight: Tensor) -> Tensor:
    """Stride-1 k×k conv weight (Co, Ci, k, k) -> the weight (4·Co, Ci, k + 1, k + 1) of a
    stride-2 conv giving the same outputs, one channel per output phase, in :func:`phase_shuffle`
    order: out[(2a + b)·Co + co] at (i, j) = y[co] at (2i + a, 2j + b) (the kernel shifted by (a, b))."""
    co, ci, k, _ = weight.shape
    w = weight.new_zeros(2, 2, co, ci, k + 1, k + 1)
    for a in range(2):
        for b in range(2):
            w[a, b, :, :, a : a + k, b : b + k] = weight
    return w.reshape(co * 4, ci, k + 1, k + 1)


def phase_shuffle(y: Tensor) -> Tensor:
    """Interleave 4 output phases: (N, 4·C, H, W), channel (2a + b)·C + c -> (N, C, 2H, 2W) with
    out[c, 2i + a, 2j + b] = y[(2a + b)·C + c, i, j]. ``pixel_shuffle`` with the phase index
    outermost: on channels-last maps each pixel's phases are then whole runs of C values, and
    this copy is much faster than ``pixel_shuffle`` there (which it equals up to channel order;
    docs/fast.md, "Speed")."""
    if torch.onnx.is_in_onnx_export():
        return _DepthToSpace.apply(y)
    if y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous():
        n, c4, h, w = y.shape
        z = y.permute(0, 2, 3, 1).view(n, h, w, 2, 2, c4 // 4).permute(0, 1, 3, 2, 4, 5)  # (N, H, a, W, b, C)
        return z.reshape(n, 2 * h, 2 * w, c4 // 4).permute(0, 3, 1, 2)  # channels-last (N, C, 2H, 2W)
    return _phase_shuffle_nchw(y)


def _phase_shuffle_nchw(y: Tensor) -> Tensor:
    """:func:`phase_shuffle` on an NCHW map: ONNX's DepthToSpace in DCR mode, step by step."""
    n, c4, h, w = y.shape
    z = y.reshape(n, 2, 2, c4 // 4, h, w).permute(0, 3, 4, 1, 5, 2)  # (N, C, H, a, W, b)
    return z.reshape(n, c4 // 4, 2 * h, 2 * w)


class _DepthToSpace(torch.autograd.Function):
    """:func:`phase_shuffle` as ONNX writes it: ``DepthToSpace`` in DCR mode is exactly this copy
    (ONNX spec: reshape (N, 2, 2, C, H, W), perm (0, 3, 4, 1, 5, 2)), and onnxruntime runs it
    faster than the traced reshape and 6-D transpose, a saving on the whole built-in network
    (docs/benchmarks.md)."""

    @staticmethod
    def forward(ctx, y: Tensor) -> Tensor:
        return _phase_shuffle_nchw(y)

    @staticmethod
    def symbolic(g, y):
        return g.op("DepthToSpace", y, blocksize_i=2, mode_s="DCR")


class PhaseUpConv(nn.Module):
    """``ConvBlock(..., upsample=2)`` without the upsampled map: (N, Ci, H, W) -> (N, Co, 2H, 2W)."""

    weight: Tensor  # buffers (register_buffer)
    bias: Tensor

    def __init__(self, block: ConvBlock):
        super().__init__()
        conv = block.conv
        assert conv.bias is not None  # ConvBlock's convs have a bias
        self.register_buffer("weight", upsample_conv_weight(conv.weight.detach()))
        self.register_buffer("bias", conv.bias.detach().repeat(4))
        self.norm, self.act = block.norm, block.act

    def forward(self, x: Tensor, style: StyleSelector | None = None) -> Tensor:
        y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.weight, self.bias)  # (N, 4·Co, H, W)
        return self.act(apply_norm(self.norm, phase_shuffle(y), style))


class PhaseConv(nn.Module):
    """Reflection pad + k×k conv as a stride-2 conv with 4× the output channels + pixel shuffle:
    (N, Ci, H, W) -> (N, Co, H, W) for even H, W. For convs with few output channels."""

    weight: Tensor  # buffers (register_buffer)
    bias: Tensor

    def __init__(self, pad: nn.ReflectionPad2d, conv: nn.Conv2d):
        super().__init__()
        assert conv.bias is not None  # JohnsonNet's convs have a bias
        self.padding = tuple(pad.padding)
        self.register_buffer("weight", strided_phase_conv_weight(conv.weight.detach()))
        self.register_buffer("bias", conv.bias.detach().repeat(4))

    def forward(self, x: Tensor) -> Tensor:
        x = pad_reflect(x, self.padding)
        return phase_shuffle(F.conv2d(x, self.weight, self.bias, stride=2))  # (N, 4·Co, H/2, W/2) -> (N, Co, H, W)


class PhaseConvBlock(nn.Module):
    """A stride-1 ``ConvBlock`` (pad, k×k conv, norm, activation) with its conv as a :class:`PhaseConv`."""

    def __init__(self, block: ConvBlock):
        super().__init__()
        assert block.pad is not None  # a stride-1 k×k block with k > 1: it pads
        self.conv = PhaseConv(block.pad, block.conv)
        self.norm, self.act = block.norm, block.act

    def forward(self, x: Tensor, style: StyleSelector | None = None) -> Tensor:
        return self.act(apply_norm(self.norm, self.conv(x), style))


class InferenceJohnson(nn.Module):
    """The forward pass of a trained :class:`JohnsonNet` with the rewrites above; same call,
    same ``config``. Inference only: it holds derived weights, not trainable ones."""

    def __init__(self, net: JohnsonNet):
        super().__init__()
        self.config = net.config
        first = cast(ConvBlock, net.down[0])  # JohnsonNet's down and up blocks are ConvBlocks
        narrow = first.conv.out_channels < 16  # measured: the rewrite pays off below 16 channels
        self.down = nn.ModuleList([PhaseConvBlock(first) if narrow else first, *net.down[1:]])
        self.res = net.res
        self.up = nn.ModuleList([PhaseUpConv(cast(ConvBlock, b)) for b in net.up])
        pad, conv = net.out
        assert isinstance(pad, nn.ReflectionPad2d) and isinstance(conv, nn.Conv2d)  # JohnsonNet.out
        self.out = PhaseConv(pad, conv)

    # JohnsonNet's forward pass (pad to a multiple of 4, down, res, up, out, crop) over these
    # blocks: the same attribute names, so the same code; its sampling grid likewise.
    forward = JohnsonNet.forward
    grid = JohnsonNet.grid


_Net = TypeVar("_Net", bound=nn.Module)


@torch.no_grad()
def for_inference(net: _Net) -> _Net | InferenceJohnson:
    """``net`` rewritten for speed if it is a :class:`JohnsonNet` whose up-sampling blocks have the
    standard layout (else ``net`` itself). The derived weights are computed in ``net``'s dtype:
    rewrite the float32 net, then move the result (``.to(dtype, memory_format=...)``).

    Example:
        >>> net = JohnsonNet(JohnsonConfig(width=0.25)).eval()
        >>> fast = for_inference(net)
        >>> x = torch.rand(1, 3, 64, 80)
        >>> torch.allclose(fast(x), net(x), atol=1e-4)
        True
    """
    if not isinstance(net, JohnsonNet):
        return net
    standard = all(
        b.upsample is not None
        and b.upsample.scale_factor == 2
        and b.conv.kernel_size == (3, 3)
        and b.conv.stride == (1, 1)
        for b in cast("list[ConvBlock]", net.up)  # JohnsonNet's up blocks are ConvBlocks
    )
    _pad, conv = net.out
    assert isinstance(conv, nn.Conv2d)  # JohnsonNet.out: reflection pad, conv
    if not standard or conv.kernel_size[0] % 2 == 0 or conv.stride != (1, 1):
        return net
    return InferenceJohnson(net).eval()
