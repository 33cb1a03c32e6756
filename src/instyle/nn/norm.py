"""Normalization layers: instance norm, conditional instance norm, AdaIN, and one factory.

Every layer takes ``num_features`` first, so a model swaps its normalization by a string
(``get_norm_layer("instance")``) without touching its own code (cf. timm ``create_norm``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import torch
from torch import Tensor, nn

from ..choices import NORM_LAYERS
from .functional import DEFAULT_EPS, Stats, adain, alpha_blend, instance_norm

StyleSelector = int | Tensor


class InstanceNorm2d(nn.Module):
    """Instance normalization with learnable per-channel γ, β (Ulyanov et al. 2016).

    Unlike ``torch.nn.InstanceNorm2d(track_running_stats=True)`` or batch norm, this layer
    has no running averages: the statistics always come from the sample itself, so
    ``train()`` and ``eval()`` give identical outputs. A 1×1 feature map normalizes to
    zero (output = β); nothing produces NaN.

    Shapes: (N, C, H, W) -> (N, C, H, W).

    Old checkpoints that carry ``running_mean``/``running_var`` buffers (e.g. from
    pytorch/examples fast_neural_style) load: those keys are ignored.
    """

    weight: Tensor | None  # γ, β: parameters, or None without affine (_affine_parameters)
    bias: Tensor | None

    def __init__(self, num_features: int, eps: float = DEFAULT_EPS, affine: bool = True):
        super().__init__()
        self.num_features, self.eps, self.affine = num_features, eps, affine
        _affine_parameters(self, num_features, affine)

    def forward(self, x: Tensor) -> Tensor:
        _check_channels(x, self.num_features)
        return instance_norm(x, self.weight, self.bias, self.eps, key=self)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for key in ("running_mean", "running_var", "num_batches_tracked"):
            state_dict.pop(prefix + key, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}"


class ConditionalInstanceNorm2d(nn.Module):
    """Conditional instance normalization (Dumoulin et al. 2017): one (γ, β) per style.

    ``forward(x, style)`` where ``style`` is
      * an ``int`` style index (all samples),
      * a LongTensor (N,) of per-sample indices,
      * a float tensor (S,) or (N, S) of weights over the S styles: γ = Σ wᵢ γᵢ and
        β = Σ wᵢ βᵢ, a convex blend when the weights are non-negative and sum to one.
        The output is linear in the weights.

    Shapes: x (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, num_features: int, num_styles: int, eps: float = DEFAULT_EPS):
        super().__init__()
        if num_styles < 1:
            raise ValueError(f"num_styles must be >= 1, got {num_styles}")
        self.num_features = num_features
        self.num_styles = num_styles
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_styles, num_features))  # γ: (S, C)
        self.bias = nn.Parameter(torch.zeros(num_styles, num_features))  # β: (S, C)

    def style_params(self, style: StyleSelector, batch: int) -> tuple[Tensor, Tensor]:
        """(γ, β), each (N, C), for a style selector (see class docstring)."""
        if isinstance(style, int):
            if not 0 <= style < self.num_styles:
                raise IndexError(f"style index {style} out of range for {self.num_styles} styles")
            return self.weight[style].expand(batch, -1), self.bias[style].expand(batch, -1)
        if not isinstance(style, Tensor):
            raise TypeError(f"style must be an int or a tensor, got {type(style).__name__}")
        if not style.is_floating_point() and style.dtype != torch.bool:  # any integer dtype: indices
            if style.shape != (batch,):
                raise ValueError(f"style indices must have shape ({batch},), got {tuple(style.shape)}")
            if style.min() < 0 or style.max() >= self.num_styles:
                raise IndexError(f"style index out of range for {self.num_styles} styles")
            idx = style.long()  # uint8 would otherwise index as a boolean mask
            return self.weight[idx], self.bias[idx]
        w = style.to(self.weight.dtype)
        if w.dim() == 1:
            w = w.unsqueeze(0).expand(batch, -1)
        if w.shape != (batch, self.num_styles):
            raise ValueError(
                f"style weights must have shape ({self.num_styles},) or ({batch}, "
                f"{self.num_styles}), got {tuple(style.shape)}"
            )
        return w @ self.weight, w @ self.bias  # (N, S) @ (S, C) -> (N, C)

    def forward(self, x: Tensor, style: StyleSelector = 0) -> Tensor:
        _check_channels(x, self.num_features)
        gamma, beta = self.style_params(style, x.shape[0])
        return instance_norm(x, gamma, beta, self.eps, key=self)

    def add_styles(self, count: int = 1, init_from: int | None = None) -> range:
        """Append ``count`` new styles (initialised from style ``init_from`` or identity).

        Returns the indices of the new styles. Used to teach a trained network a new style
        by training only the new γ, β (Dumoulin et al. 2017, sec. 4.3).
        """
        if init_from is None:
            g = torch.ones(count, self.num_features)
            b = torch.zeros(count, self.num_features)
        else:
            g = self.weight.detach()[init_from].expand(count, -1).clone()
            b = self.bias.detach()[init_from].expand(count, -1).clone()
        start = self.num_styles
        dev = self.weight.device
        self.weight = nn.Parameter(torch.cat([self.weight.detach(), g.to(dev)]))
        self.bias = nn.Parameter(torch.cat([self.bias.detach(), b.to(dev)]))
        self.num_styles += count
        return range(start, self.num_styles)

    def extra_repr(self) -> str:
        return f"{self.num_features}, num_styles={self.num_styles}, eps={self.eps}"


class AdaIN(nn.Module):
    """Adaptive instance normalization (Huang & Belongie 2017) as a module.

    ``forward(content, style, alpha=1.0)``: ``style`` is a feature map or a (mean, std)
    pair; ``alpha`` interpolates t' = α·AdaIN(c, s) + (1 − α)·c.
    No learnable parameters.
    """

    def __init__(self, eps: float = DEFAULT_EPS):
        super().__init__()
        self.eps = eps

    def forward(self, content: Tensor, style: Tensor | Stats, alpha: float = 1.0) -> Tensor:
        return alpha_blend(adain(content, style, self.eps), content, alpha)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


class VirtualBatchNorm2d(nn.Module):
    """Virtual batch norm (Salimans et al. 2016, "Improved Techniques for Training GANs"): each
    sample is normalized by the statistics of a fixed *reference batch* together with itself,

        μ_i = (N·μ_ref + m_i) / (N + 1),   E_i[x²] = (N·q_ref + q_i) / (N + 1),   σ_i² = E_i[x²] − μ_i²

    per channel, where m_i, q_i are sample i's own spatial mean and mean square and μ_ref, q_ref
    those of the N reference images (each image weighs the same). So, unlike BN, a sample's output
    does not depend on the other samples of its batch, and, unlike IN, part of the statistics is
    shared: between the two (N = 0 is IN; N → ∞ is BN with the reference's statistics).

    The reference statistics are recorded by running the reference batch through the model inside
    :func:`record_reference` (every training step, so they follow the current weights and carry
    gradients); the last ones recorded are kept as buffers for ``eval()`` and inference. Before
    any is recorded the layer is instance norm.

    Shapes: (N, C, H, W) -> (N, C, H, W).
    """

    weight: Tensor | None  # γ, β: parameters, or None without affine (_affine_parameters)
    bias: Tensor | None
    ref_mean: Tensor  # buffers (register_buffer)
    ref_sq: Tensor
    ref_count: Tensor

    def __init__(self, num_features: int, eps: float = DEFAULT_EPS, affine: bool = True):
        super().__init__()
        self.num_features, self.eps, self.affine = num_features, eps, affine
        _affine_parameters(self, num_features, affine)
        self.register_buffer("ref_mean", torch.zeros(num_features))  # (C,)
        self.register_buffer("ref_sq", torch.ones(num_features))  # (C,) mean square
        self.register_buffer("ref_count", torch.zeros((), dtype=torch.long))  # N; 0: none recorded
        self.recording = False
        self._live: tuple[Tensor, Tensor, int] | None = None  # this step's reference, with gradients

    def forward(self, x: Tensor) -> Tensor:
        _check_channels(x, self.num_features)
        xf = x.float()
        m, q = xf.mean(dim=(2, 3)), (xf * xf).mean(dim=(2, 3))  # (N, C) each
        if self.recording:  # the reference batch, normalized by its own batch statistics
            ref = (m.mean(0), q.mean(0), x.shape[0])
            self._live = ref
            with torch.no_grad():
                self.ref_mean.copy_(ref[0])
                self.ref_sq.copy_(ref[1])
                self.ref_count.fill_(ref[2])
            mean, sq = ref[0].expand_as(m), ref[1].expand_as(q)
        else:
            ref_mean, ref_sq, n = (
                self._live
                if self.training and self._live is not None
                else (self.ref_mean, self.ref_sq, int(self.ref_count))
            )
            c = 1.0 / (n + 1)
            mean, sq = (1 - c) * ref_mean + c * m, (1 - c) * ref_sq + c * q  # (N, C)
        var = (sq - mean * mean).clamp_min(0.0)
        y = (xf - mean[..., None, None]) * torch.rsqrt(var + self.eps)[..., None, None]
        if self.affine:
            assert self.weight is not None and self.bias is not None  # affine: _affine_parameters made them
            y = y * self.weight[:, None, None] + self.bias[:, None, None]
        return y.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}, reference={int(self.ref_count)}"


@contextmanager
def record_reference(model: nn.Module) -> Iterator[list[VirtualBatchNorm2d]]:
    """The forward passes inside ``with record_reference(model):`` are the reference batch of every
    :class:`VirtualBatchNorm2d` in ``model`` (their statistics recorded for the passes after it)."""
    layers = [m for m in model.modules() if isinstance(m, VirtualBatchNorm2d)]
    for layer in layers:
        layer.recording, layer._live = True, None
    try:
        yield layers
    finally:
        for layer in layers:
            layer.recording = False


def _affine_parameters(module: nn.Module, num_features: int, affine: bool) -> None:
    """γ (ones) and β (zeros), (C,) each, as ``weight`` and ``bias``; None without ``affine``."""
    if affine:
        module.weight = nn.Parameter(torch.ones(num_features))
        module.bias = nn.Parameter(torch.zeros(num_features))
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _check_channels(x: Tensor, num_features: int) -> None:
    if x.dim() != 4 or x.shape[1] != num_features:
        raise ValueError(f"expected (N, {num_features}, H, W) input, got shape {tuple(x.shape)}")


def _group_norm(num_features: int, num_groups: int = 32, eps: float = DEFAULT_EPS, affine: bool = True) -> nn.GroupNorm:
    # Largest divisor of C not above num_groups, so any width works (e.g. 48 channels -> 24 groups),
    # and at least two channels a group: one channel a group is instance norm under another name
    # (Wu & He 2018's 32 groups would make every layer of a width-0.25 net, 8-32 channels, IN).
    cap = max(1, min(num_groups, num_features // 2))
    groups = max(g for g in range(1, cap + 1) if num_features % g == 0)
    return nn.GroupNorm(groups, num_features, eps=eps, affine=affine)


def _layer_norm(num_features: int, eps: float = DEFAULT_EPS, affine: bool = True) -> nn.GroupNorm:
    # Layer norm for conv features: statistics over (C, H, W) per sample == GroupNorm with 1 group.
    return nn.GroupNorm(1, num_features, eps=eps, affine=affine)


def _identity(num_features: int, **_: object) -> nn.Identity:
    return nn.Identity()


_NORM_LAYERS: dict[str, Callable[..., nn.Module]] = {
    "instance": InstanceNorm2d,
    "batch": nn.BatchNorm2d,
    "layer": _layer_norm,
    "group": _group_norm,
    "none": _identity,
    "virtual_batch": VirtualBatchNorm2d,
    "conditional_instance": ConditionalInstanceNorm2d,
}

NORM_LAYER_NAMES = NORM_LAYERS  # the names, from their one home; tests check they match _NORM_LAYERS


def get_norm_layer(name: str, **kwargs: object) -> Callable[..., nn.Module]:
    """Constructor for the norm layer called ``name``: call it with ``num_features``.

    ``name`` is one of ``instance``, ``batch``, ``layer``, ``group``, ``none``, ``virtual_batch`` or
    ``conditional_instance`` (which also needs ``num_styles``). Extra keyword arguments are
    bound to the constructor, e.g. ``get_norm_layer("group", num_groups=8)(64)``.
    """
    key = name.lower().replace("-", "_")
    aliases = {
        "in": "instance",
        "bn": "batch",
        "ln": "layer",
        "gn": "group",
        "vbn": "virtual_batch",
        "cin": "conditional_instance",
        "conditional": "conditional_instance",
        "identity": "none",
    }
    key = aliases.get(key, key)
    if key not in _NORM_LAYERS:
        raise ValueError(f"unknown norm layer {name!r}; choose from {', '.join(NORM_LAYER_NAMES)}")
    ctor = _NORM_LAYERS[key]
    return partial(ctor, **kwargs) if kwargs else ctor


def create_norm_layer(name: str, num_features: int, **kwargs: object) -> nn.Module:
    """``get_norm_layer(name, **kwargs)(num_features)``."""
    return get_norm_layer(name, **kwargs)(num_features)
