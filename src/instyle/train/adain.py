"""Training the AdaIN decoder (Huang & Belongie 2017, section 6).

    t = AdaIN(f(c), f(s)),  g = decoder(t)
    L = λ_c·‖f(g) − t‖²  (relu4_1)  +  λ_s·Σ_l ‖μ(φ_l(g)) − μ(φ_l(s))‖² + ‖σ(φ_l(g)) − σ(φ_l(s))‖²
        (l = relu1_1…relu4_1)  +  λ_tv·TV(g)  +  λ_col·SW(Lab(g), Lab(s))

With ``balance="energy"`` each term is divided by its target's energy and the style layers are
averaged instead of summed (:func:`instyle.losses.balanced_mean_std_loss`): on the unnormalised
VGG-19 the raw sum is nearly all relu4_1 (docs/quality.md), so colour and brushwork hardly count (the
authors' VGG was normalised per filter, so their weight 10 meant something else). The colour term
is the sliced Wasserstein distance between the output's and the style crop's pixel colours in
CIELAB (:func:`instyle.losses.color_distance`), in ΔE units.

The encoder is frozen, so f(c) and the style statistics of a given crop never change: with
``cache_features`` (and a fixed number of crops per image) they are computed once per crop and
reused in later epochs, which removes one of the three VGG passes of each step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, cast

import torch
from PIL import Image
from torch import Tensor, nn

from ..choices import ADAIN_STYLE_LAYERS, LOSS_BALANCES, check
from ..data import CropSpec, ImageFolder
from ..losses import (
    balanced_content_loss,
    balanced_mean_std_loss,
    color_distance,
    content_loss,
    mean_std_loss,
    tv_loss,
)
from ..models.adain import ENCODER_LAYER, AdaINConfig, AdaINDecoder, make_encoder
from ..nn.functional import Stats, adain, calc_mean_std
from ..sheet import contact_sheet
from ..vgg import RELU_LAYERS, VGG19Encoder, deepest

COLOR_LOSS_PIXELS = 4096  # pixels per image the training palette term compares


@dataclass
class AdaINTrainConfig:
    """Loss settings of AdaIN decoder training (defaults: the paper's).

    Attributes:
        style_weight, content_weight, tv_weight: λ_s, λ_c, λ_tv.
        style_layers: layers of the mean/std style loss.
        cache_features: keep frozen-encoder outputs of each crop in memory (needs a fixed
            number of ``crops_per_image``); worth it when the VGG pass costs more than the memory,
            e.g. on CPUs.
        crops_per_image: fixed crops per image when caching.
        cache_gb: memory the cache may use; beyond it, features are recomputed.
        width: decoder channel multiplier (1.0 = the paper's decoder).
        balance: ``raw`` (the paper's sum) or ``energy`` (each term over its target's energy,
            style layers averaged): see the module docstring.
        color_weight: λ_col, the palette term (ΔE units; 0: off).
    """

    style_weight: float = 10.0
    content_weight: float = 1.0
    tv_weight: float = 0.0
    style_layers: tuple[str, ...] = ADAIN_STYLE_LAYERS
    cache_features: bool = False
    crops_per_image: int = 4
    cache_gb: float = 4.0
    width: float = 1.0
    balance: str = "raw"
    color_weight: float = 0.0

    def __post_init__(self) -> None:
        self.style_layers = tuple(self.style_layers)
        check(self.balance, LOSS_BALANCES, "loss balance")
        for name in ("style_weight", "content_weight", "tv_weight", "cache_gb", "color_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', ' ')} must be >= 0, got {getattr(self, name)}")
        if not self.style_layers:
            raise ValueError("give at least one style layer")
        bad = [n for n in self.style_layers if n not in RELU_LAYERS]
        if bad or deepest(self.style_layers) not in RELU_LAYERS[: RELU_LAYERS.index(ENCODER_LAYER) + 1]:
            raise ValueError(
                f"style layers must be relu layers up to {ENCODER_LAYER}, got {', '.join(self.style_layers)}"
            )
        if self.crops_per_image < 1:
            raise ValueError(f"crops per image must be >= 1, got {self.crops_per_image}")
        AdaINConfig(width=self.width)  # validates the width


class FeatureCache:
    """Frozen-encoder outputs per (image, crop id), up to a memory budget."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.bytes = max_bytes, 0
        self.store: dict[tuple[int, int], Tensor] = {}
        self.hits = self.misses = 0

    def lookup(self, keys: Tensor, compute) -> Tensor:
        """Rows for ``keys`` (B, 2); misses are computed together by ``compute(indices)`` -> (b, …)."""
        ks = [tuple(k) for k in keys.tolist()]
        missing = [i for i, k in enumerate(ks) if k not in self.store]
        self.hits += len(ks) - len(missing)
        self.misses += len(missing)
        fresh = {}
        if missing:
            out = compute(missing)
            for j, i in enumerate(missing):
                row = out[j].clone()  # own storage, so the batch can be freed
                fresh[i] = row
                if self.bytes + row.numel() * row.element_size() <= self.max_bytes:
                    self.store[ks[i]] = row
                    self.bytes += row.numel() * row.element_size()
        return torch.stack([fresh[i] if i in fresh else self.store[k] for i, k in enumerate(ks)])


class AdaINTask:
    """The AdaIN decoder as a :class:`instyle.train.loop.Task`.

    Example:
        >>> task = AdaINTask("photos/", "paintings/", AdaINTrainConfig())     # doctest: +SKIP
        >>> train(task, TrainConfig(steps=10_000), "runs/adain")               # doctest: +SKIP
    """

    name = "adain"
    loss_names: tuple[str, ...] = ("content", "style", "tv", "color")
    resumable_fields = ("cache_gb",)  # may change on --resume without changing the run

    def __init__(self, content_dir: str, style_dir: str, config: AdaINTrainConfig | None = None, *, n_samples: int = 3):
        config = config if config is not None else AdaINTrainConfig()  # a new one each: the config is mutable
        self.content_dir, self.style_dir, self.config = content_dir, style_dir, config
        self.crops_per_image = config.crops_per_image if config.cache_features else None
        self.stat_layers = tuple(sorted(set(config.style_layers) | {ENCODER_LAYER}, key=RELU_LAYERS.index))
        self.n_samples = n_samples
        self.encoder: VGG19Encoder | None = None  # the frozen VGG-19, from prepare()
        self.channels_last = False
        self._folders: dict[str, ImageFolder] = {}
        self._caches: dict[str, FeatureCache] = {}
        self._sample_images: tuple[list[Tensor], list[Tensor]] | None = None

    def task_config(self) -> dict[str, Any]:
        d = asdict(self.config)
        d["style_layers"] = list(d["style_layers"])
        return d

    def streams(self, spec: CropSpec) -> Mapping[str, ImageFolder]:
        self._folders = {
            "content": ImageFolder(self.content_dir, spec, name="content"),
            "style": ImageFolder(self.style_dir, spec, name="style"),
        }
        return self._folders

    def build_model(self) -> nn.Module:
        return AdaINDecoder(AdaINConfig(width=self.config.width))

    def prepare(self, device: torch.device, channels_last: bool) -> None:
        self.encoder = make_encoder().to(device)
        if channels_last:
            # (Module.to takes memory_format, which torch's type overloads of it leave out)
            self.encoder = self.encoder.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.channels_last = channels_last
        if self.config.cache_features:
            budget = int(self.config.cache_gb * 2**30)
            self._caches = {"content": FeatureCache(budget * 9 // 10), "style": FeatureCache(budget // 10)}

    # -- frozen features (optionally cached)

    def _content_features(self, images: Tensor, keys: Tensor | None) -> Tensor:
        """(B, 3, c, c) -> relu4_1 (B, 512, c/8, c/8), in the autocast dtype."""
        assert self.encoder is not None  # prepare() has run
        encode = lambda idx: self.encoder.encode(images[idx], ENCODER_LAYER)  # noqa: E731
        if keys is None or "content" not in self._caches:
            return encode(slice(None))
        feats = self._caches["content"].lookup(keys, encode)
        return feats.contiguous(memory_format=torch.channels_last) if self.channels_last else feats

    def _style_stats(self, images: Tensor, keys: Tensor | None) -> dict[str, Stats]:
        """(B, 3, c, c) -> {layer: (mean, std) each (B, C, 1, 1) float32}, packed as one row when cached."""
        encoder = self.encoder
        assert encoder is not None  # prepare() has run
        # VGG19Encoder's conv layers are convs (its _Conv3x3)
        sizes = [cast(nn.Conv2d, encoder.layers[n.replace("relu", "conv")]).out_channels for n in self.stat_layers]

        def encode(idx) -> Tensor:
            feats = encoder(images[idx], self.stat_layers)
            rows = []
            for n in self.stat_layers:
                m, s = calc_mean_std(feats[n])
                rows += [m.flatten(1), s.flatten(1)]
            return torch.cat(rows, dim=1)  # (b, 2·ΣC) float32

        packed = (
            encode(slice(None))
            if keys is None or "style" not in self._caches
            else self._caches["style"].lookup(keys, encode)
        )
        out, i = {}, 0
        for n, c in zip(self.stat_layers, sizes):
            out[n] = (packed[:, i : i + c, None, None], packed[:, i + c : i + 2 * c, None, None])
            i += 2 * c
        return out

    # -- the loss

    def loss(self, model: nn.Module, batch: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
        with torch.no_grad():
            fc = self._content_features(batch["content"], batch.get("content_key"))  # (B, 512, h, w)
            stats = self._style_stats(batch["style"], batch.get("style_key"))
            t = adain(fc, stats[ENCODER_LAYER])  # the AdaIN target, (B, 512, h, w)
        g = model(t)  # (B, 3, H, W), unclamped
        terms = self.stylization_terms(g, t, stats, batch["style"])
        return self.weighted(terms), terms

    def stylization_terms(self, g: Tensor, t: Tensor, stats: Mapping[str, Stats], style: Tensor) -> dict[str, Tensor]:
        """The terms that judge a stylized batch ``g`` (B, 3, H, W) with the frozen VGG-19: content
        against the AdaIN target ``t`` (relu4_1), style against the style crops' statistics, TV,
        and the palette against the style crops ``style`` (B, 3, h, w); weighed as ``balance`` says."""
        cfg = self.config
        assert self.encoder is not None  # prepare() has run
        fg = self.encoder(g, self.stat_layers)
        zero = g.new_zeros((), dtype=torch.float32)
        # cfg.style_layers is not empty (the config checks): the sums are Tensors, never sum()'s 0
        if cfg.balance == "energy":
            lc = balanced_content_loss(fg[ENCODER_LAYER], t)
            ls = cast(Tensor, sum(balanced_mean_std_loss(fg[n], stats[n]) for n in cfg.style_layers)) / len(
                cfg.style_layers
            )
        else:
            lc = content_loss(fg[ENCODER_LAYER], t)
            ls = cast(Tensor, sum(mean_std_loss(fg[n], stats[n]) for n in cfg.style_layers))
        ltv = tv_loss(g) if cfg.tv_weight > 0 else zero
        # a quarter of a 128-px crop's pixels suffices for a palette, at a quarter of the sorting
        lcol = color_distance(g, style, max_pixels=COLOR_LOSS_PIXELS).mean() if cfg.color_weight > 0 else zero
        return {"content": lc, "style": ls, "tv": ltv, "color": lcol}

    def weighted(self, terms: Mapping[str, Tensor]) -> Tensor:
        """Σ λ·term over the stylization terms."""
        cfg = self.config
        return (
            cfg.content_weight * terms["content"]
            + cfg.style_weight * terms["style"]
            + cfg.tv_weight * terms["tv"]
            + cfg.color_weight * terms["color"]
        )

    # -- sample grids

    def _load_samples(self) -> tuple[list[Tensor], list[Tensor]]:
        if self._sample_images is None:
            self._sample_images = (
                self._folders["content"].preview(self.n_samples),
                self._folders["style"].preview(self.n_samples),
            )
        return self._sample_images

    def samples(self, model: nn.Module) -> Image.Image | None:
        contents, styles = self._load_samples()
        if not contents or not styles:
            return None
        dev = next(model.parameters()).device
        assert self.encoder is not None  # prepare() has run
        stats = [calc_mean_std(self.encoder.encode(s.to(dev), ENCODER_LAYER).float()) for s in styles]
        rows = []
        for c in contents:
            fc = self.encoder.encode(c.to(dev), ENCODER_LAYER).float()
            outs = [
                model(adain(fc, st).contiguous())[..., : c.shape[-2], : c.shape[-1]].clamp(0, 1).cpu() for st in stats
            ]
            rows.append([c] + outs)
        return contact_sheet(rows, header=[None, *styles], cell=192)

    def model_extra(self) -> dict[str, str]:
        return {}
