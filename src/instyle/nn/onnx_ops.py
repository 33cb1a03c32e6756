"""The instance-norm statistics as ONNX writes them (``torch.autograd.Function`` with a
``symbolic``): used by :func:`.functional.instance_norm` only while ``torch.onnx.export`` runs
(:mod:`instyle.export`); eager and training code never touch this module."""

from __future__ import annotations

import torch
from torch import Tensor

from .functional import calc_mean_std
from .stats_filter import Stats


class OnnxInstanceNorm(torch.autograd.Function):
    """(x − μ_nc)/σ_nc as ONNX writes it: one ``InstanceNormalization`` node (γ = 1, β = 0; the
    affine part stays two ops, as γ, β may differ per sample) in place of the traced reduce,
    subtract, square, reduce, add, sqrt and divide, so onnxruntime runs its fused kernel (same
    outputs within 1e-6; faster on the video network, ``benchmarks/video.py``)."""

    @staticmethod
    def forward(ctx, x: Tensor, eps: float, channels: int) -> Tensor:
        mean, std = calc_mean_std(x, eps)
        return (x - mean.to(x.dtype)) / std.to(x.dtype)

    @staticmethod
    def symbolic(g, x, eps: float, channels: int):
        ones = g.op("Constant", value_t=torch.ones(channels))
        zeros = g.op("Constant", value_t=torch.zeros(channels))
        return g.op("InstanceNormalization", x, ones, zeros, epsilon_f=eps)


class OnnxMeanStd(torch.autograd.Function):
    """:func:`calc_mean_std` as ONNX writes it where a statistics filter is exported with the net
    (:func:`instyle.export.export_fast`'s ``shared_statistics``): one ``ReduceMean`` and one
    ``ReduceSumSquare`` pass over the data shifted by its first pixel, in place of the traced
    two-pass ``var_mean`` (mean, subtract, square, mean), which runs markedly slower in onnxruntime;
    with the scale-and-shift that follows, the graph keeps close to the plain one with fused
    ``InstanceNormalization`` nodes (``benchmarks/video.py``, shared statistics)."""

    @staticmethod
    def forward(ctx, x: Tensor, eps: float) -> Stats:
        return calc_mean_std(x, eps)

    @staticmethod
    def symbolic(g, x, eps: float):
        def const(v):
            return g.op("Constant", value_t=torch.tensor(v))

        # Shifted data (x − k, k = the map's first pixel per channel): E[(x−k)²] − (E[x−k])² keeps
        # its precision where |μ|/σ is large (a nearly flat frame), which the unshifted form loses.
        k = g.op("Slice", x, const([0, 0]), const([1, 1]), const([2, 3]))  # (N, C, 1, 1)
        d = g.op("Sub", x, k)
        axes = [2, 3]
        if g.opset >= 18:  # axes became an input of the reductions
            mean_d = g.op("ReduceMean", d, const(axes), keepdims_i=1)
            sum_sq = g.op("ReduceSumSquare", d, const(axes), keepdims_i=1)
        else:
            mean_d = g.op("ReduceMean", d, axes_i=axes, keepdims_i=1)
            sum_sq = g.op("ReduceSumSquare", d, axes_i=axes, keepdims_i=1)
        hw = g.op("ReduceProd", g.op("Slice", g.op("Shape", x), const([2]), const([4])), keepdims_i=1)  # (1,) H·W
        count = g.op("Cast", hw, to_i=1)  # float32
        var = g.op("Sub", g.op("Div", sum_sq, count), g.op("Mul", mean_d, mean_d))
        mean = g.op("Add", mean_d, k)
        var = g.op("Relu", var)  # E[x²] − μ² may round below 0 on a constant channel
        std = g.op("Sqrt", g.op("Add", var, g.op("Constant", value_t=torch.tensor(eps, dtype=torch.float32))))
        return mean, std
