"""Optimization-based style transfer (Gatys, Ecker & Bethge 2016).

An image is optimized so that its VGG-19 features match the content image's at the content
layers and the style images' statistics (Gram matrices, or mean/std, or an MMD) at the style
layers. Colour control follows Gatys et al. 2017.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import cast

import torch
from torch import Tensor

from . import color
from .choices import COLOR_MODES, GRAM_STYLE_LAYERS, OPTIMIZERS, PRECISIONS, check
from .device import precision_dtype, resolve_device, resolve_precision
from .losses import LossWeights, StyleTarget, blend_targets, perceptual_terms, style_target, target_energy
from .nn.functional import gram_matrix
from .resize import resize_to
from .vgg import VGG19Encoder, deepest, layer_index

INITS = ("content", "noise")


@dataclass
class OptimizeConfig:
    """Settings of :class:`GatysOptimizer`. The defaults are tuned for a good 512 px result.

    Attributes:
        steps: number of forward/backward evaluations (one L-BFGS function evaluation or one
            Adam step each), the unit in which peers count "iterations".
        optimizer: ``"lbfgs"`` (fewest steps) or ``"adam"`` (lowest memory, steady progress).
        lr: step size (Adam) or initial step length (L-BFGS).
        init: ``"content"``, ``"noise"`` or an image tensor given to ``__call__``.
        loss: layers and weights; style weight is relative to content weight 1.
        color: ``"none"``, ``"match"`` (style recoloured to the content first) or
            ``"luminance"`` (luminance-only transfer, content chroma kept).
        pooling / padding: VGG-19 options; average pooling gives smoother results (Gatys 2016).
        precision: ``"auto"`` (bf16 where the hardware has native bf16, else fp32), ``"fp32"`` or
            ``"bf16"`` (bfloat16 autocast for the VGG passes and Gram products; targets and loss
            reductions in fp32). On a CPU with AVX512-BF16, bf16 is faster per step and reaches
            the same losses (benchmarks/optimize.py, docs/optimization.md).
        channels_last: NHWC memory layout for the convolutions (faster on most CPUs).
        balance_layers: divide each layer's weight by the mean square of its target (the content
            features, or the style's Gram / mean-std / features), so every layer starts on the same
            scale whatever its depth or the images; the layer weights then express relative
            importance and ``style_weight`` is a plain style/content ratio.
        multiscale: coarse-to-fine schedule, e.g. ``(0.5, 1.0)``: optimize at half size first,
            upsample, then finish at full size. The ``steps`` evaluations are split so that each
            scale takes about the same time (steps ∝ 1/scale²: 300 steps at (0.5, 1.0) are 240 at
            half size and 60 at full size), so a run costs less than ``steps`` full-size steps.
    """

    steps: int = 300
    optimizer: str = "lbfgs"
    lr: float = 1.0
    init: str = "content"
    loss: LossWeights = field(
        default_factory=lambda: LossWeights(
            content_layers={"relu4_2": 1.0},
            style_layers={n: 1.0 for n in GRAM_STYLE_LAYERS},
            content_weight=1.0,
            style_weight=5.0,
            tv_weight=0.0,
            style_loss="gram",
        )
    )
    color: str = "none"
    pooling: str = "avg"
    padding: str = "reflect"
    precision: str = "auto"
    channels_last: bool = True
    balance_layers: bool = True
    multiscale: tuple = ()
    seed: int | None = 0

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        check(self.optimizer, OPTIMIZERS, "optimizer")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)} (or pass an init image), got {self.init!r}")
        check(self.color, COLOR_MODES, "color")
        check(self.precision, PRECISIONS, "precision")
        for name in self.loss.layers:
            layer_index(name)
        if any(not 0 < s <= 1 for s in self.multiscale):
            raise ValueError(f"multiscale factors must be in (0, 1], got {self.multiscale}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class StepInfo:
    """What a progress callback receives after every step."""

    step: int
    total_steps: int
    losses: dict[str, float]
    image: Tensor  # (1, 3, H, W) copy of the current image, detached (not clamped)
    elapsed: float


class GatysOptimizer:
    """Neural style by optimization: one callable object.

    Example:
        >>> from instyle import GatysOptimizer, OptimizeConfig, load_image   # doctest: +SKIP
        >>> opt = GatysOptimizer(OptimizeConfig(steps=300))                  # doctest: +SKIP
        >>> out = opt(load_image("photo.jpg", size=512),
        ...           [load_image("starry_night.jpg", size=512)])           # doctest: +SKIP
        >>> out.shape                                                         # (1, 3, H, W) in [0, 1]

    Several styles are blended with ``style_weights`` (normalized to sum to 1).
    """

    def __init__(
        self,
        config: OptimizeConfig | None = None,
        *,
        encoder: VGG19Encoder | None = None,
        device: str | torch.device = "cpu",
    ):
        self.config = config or OptimizeConfig()
        self.device = resolve_device(device)
        self.precision = resolve_precision(self.config.precision, self.device)
        last = deepest(self.config.loss.layers)
        if (
            encoder is None
            or layer_index(encoder.last_layer) < layer_index(last)
            or encoder.pooling != self.config.pooling
            or encoder.padding != self.config.padding
        ):
            encoder = VGG19Encoder(last_layer=last, pooling=self.config.pooling, padding=self.config.padding)
        self.encoder = encoder.to(self.device)
        if self.config.channels_last:
            # (Module.to takes memory_format, which torch's type overloads of it leave out)
            self.encoder = self.encoder.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    # -- feature extraction -------------------------------------------------------------------
    def _features(self, img: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        # img (N, 3, H, W) -> {layer: (N, C, H', W')}, bf16 autocast if asked
        if self.config.channels_last:
            img = img.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            return self.encoder(img, layers)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=precision_dtype(self.precision), enabled=self.precision == "bf16")

    def style_targets(
        self,
        styles: Sequence[Tensor],
        style_weights: Sequence[float] | None = None,
    ) -> dict[str, StyleTarget]:
        """Blended per-layer style statistics of one or more style images (1, 3, H, W)."""
        if not styles:
            return {}
        cfg = self.config.loss
        weights = list(style_weights) if style_weights is not None else [1.0] * len(styles)
        if len(weights) != len(styles):
            raise ValueError(f"got {len(weights)} style weights for {len(styles)} styles")
        per_style = []
        with torch.no_grad():
            for s in styles:
                feats = self._features(s.to(self.device), list(cfg.style_layers))
                per_style.append({n: style_target(f.float(), cfg.style_loss) for n, f in feats.items()})
        return {n: blend_targets([ps[n] for ps in per_style], weights) for n in cfg.style_layers}

    def losses(
        self,
        img: Tensor,
        content_targets: dict[str, Tensor],
        style_targets: dict[str, StyleTarget],
        weights: LossWeights | None = None,
    ) -> dict[str, Tensor]:
        """Weighted loss terms (``content``, ``style``, ``tv``, ``total``) of an image."""
        weights = weights or self.config.loss
        feats = self._features(img, weights.layers)
        # Under bf16 the Gram products run in bf16 too (fp32 accumulation); targets stay fp32.
        with self._autocast():
            return perceptual_terms(feats, img, weights, content_targets=content_targets, style_targets=style_targets)

    # -- the optimization ---------------------------------------------------------------------
    def __call__(
        self,
        content: Tensor,
        styles: Sequence[Tensor],
        *,
        style_weights: Sequence[float] | None = None,
        init: Tensor | None = None,
        callback: Callable[[StepInfo], None] | None = None,
    ) -> Tensor:
        """Stylize ``content`` (1, 3, H, W) in [0, 1] with ``styles``; returns (1, 3, H, W) in [0, 1]."""
        cfg = self.config
        if content.dim() != 4 or content.shape[0] != 1 or content.shape[1] != 3:
            raise ValueError(f"content must be a (1, 3, H, W) image, got {tuple(content.shape)}")
        if not styles:
            raise ValueError("give at least one style image")
        if cfg.seed is not None:
            torch.manual_seed(cfg.seed)
        content = content.to(self.device).float()
        styles = [s.to(self.device).float() for s in styles]
        original_content = content
        if cfg.color == "match":
            styles = [color.match_colors(s, content) for s in styles]
        elif cfg.color == "luminance":
            styles = [color.luminance_only(s, reference=content) for s in styles]
            content = color.luminance_only(content)
        s_targets = self.style_targets(styles, style_weights)
        loss_weights = cfg.loss

        scales = tuple(cfg.multiscale) or (1.0,)
        if scales[-1] != 1.0:
            scales = scales + (1.0,)
        budget = _split_steps(cfg.steps, scales)
        if init is not None:
            img = init.to(self.device).float()
        elif cfg.init == "noise":
            img = torch.rand_like(content) * 0.5 + 0.25
        else:
            img = content.clone()

        start, done = time.perf_counter(), 0
        for scale, steps in zip(scales, budget):
            size = _scaled_size(content.shape[-2:], scale)
            c = resize_to(content, size)
            with torch.no_grad():
                c_targets = {n: f.detach().float() for n, f in self._features(c, list(cfg.loss.content_layers)).items()}
            if cfg.balance_layers:
                loss_weights = balanced_weights(cfg.loss, c_targets, s_targets)
            img = resize_to(img.detach(), size).clone().requires_grad_(True)
            img, done = self._run(img, steps, loss_weights, c_targets, s_targets, callback, done, cfg.steps, start)
        out = img.detach().clamp(0, 1)
        if cfg.color == "luminance":
            out = color.combine_luminance(out, original_content)
        return out

    def _run(
        self,
        img: Tensor,
        steps: int,
        weights: LossWeights,
        c_targets,
        s_targets,
        callback,
        done: int,
        total: int,
        start: float,
    ) -> tuple[Tensor, int]:
        cfg = self.config
        if steps == 0:
            return img, done
        opt: torch.optim.Optimizer
        if cfg.optimizer == "lbfgs":
            opt = torch.optim.LBFGS(
                [img],
                lr=cfg.lr,
                max_iter=steps,
                max_eval=steps,
                history_size=50,
                tolerance_grad=0.0,
                tolerance_change=0.0,
            )
        else:
            opt = torch.optim.Adam([img], lr=cfg.lr)
        last: dict[str, float] = {}

        def closure() -> Tensor:
            nonlocal done, last
            opt.zero_grad(set_to_none=True)
            terms = self.losses(img, c_targets, s_targets, weights)
            terms["total"].backward()
            assert img.grad is not None  # set by backward(): img is a leaf that requires grad
            if not img.grad.is_contiguous():  # channels_last features give an NHWC gradient
                img.grad = img.grad.contiguous()
            done += 1
            last = {k: float(v.detach()) for k, v in terms.items()}
            if not math.isfinite(last["total"]):
                raise FloatingPointError("the loss became NaN/inf; lower the learning rate or the style weight")
            if callback is not None:
                callback(StepInfo(done, total, last, img.detach().clone(), time.perf_counter() - start))
            return terms["total"]

        if cfg.optimizer == "lbfgs":
            # One .step() runs up to `steps` function evaluations with the shared history.
            target = done + steps
            while done < target:
                before = done
                opt.step(closure)
                if done == before:
                    break
        else:
            for _ in range(steps):
                opt.step(closure)
                with torch.no_grad():
                    img.clamp_(0, 1)
        return img, done


def balanced_weights(
    weights: LossWeights, content_targets: dict[str, Tensor], style_targets: dict[str, StyleTarget]
) -> LossWeights:
    """``weights`` with each layer weight divided by the mean square of that layer's target.

    Raw per-layer losses on Caffe-scale VGG features span five orders of magnitude (relu4_1's
    Gram loss dwarfs relu5_1's); dividing by the target's energy puts every layer on the same
    footing, so equal layer weights mean equal influence.
    """

    def energy(t: StyleTarget) -> float:
        if t.gram is not None:
            return float(target_energy(t.gram))
        if t.mean_std is not None:
            return float(target_energy(t.mean_std[0]) + target_energy(t.mean_std[1]))
        if weights.style_loss == "mmd_gaussian":
            return 1.0  # already bounded in [0, 2]
        # the MMD losses sum over the C (or C²) entries of their kernel statistics: so does their scale
        features = cast(Tensor, t.features)  # an MMD target (neither statistic above): its features are set
        if weights.style_loss == "mmd_linear":
            return float(features.float().mean((2, 3)).pow(2).sum())
        return float(gram_matrix(features.float()).pow(2).sum())

    return replace(
        weights,
        content_layers={n: w / float(target_energy(content_targets[n])) for n, w in weights.content_layers.items()}
        if content_targets
        else weights.content_layers,
        style_layers={n: w / max(energy(style_targets[n]), 1e-12) for n, w in weights.style_layers.items()}
        if style_targets
        else weights.style_layers,
    )


def _split_steps(steps: int, scales: Sequence[float]) -> list[int]:
    """Steps per scale so that each stage costs about the same (cost ∝ area = scale²)."""
    if len(scales) == 1:
        return [steps]
    inv = [1.0 / (s * s) for s in scales]
    raw = [steps * x / sum(inv) for x in inv]
    out = [int(r) for r in raw]
    out[-1] += steps - sum(out)
    return out


def _scaled_size(hw, scale: float) -> tuple[int, int]:
    return max(1, round(hw[0] * scale)), max(1, round(hw[1] * scale))
