"""Training fast feed-forward style networks with perceptual losses (Johnson et al. 2016;
Ulyanov et al. 2016, 2017), one style or several at once (conditional IN, Dumoulin et al. 2017).

    y = g(x[, z])                                      g: JohnsonNet or TextureNet
    L = λ_c·‖φ_c(y) − φ_c(x)‖² / E_c  +  λ_s·Σ_l ‖G_l(y) − G_l(s)‖² / E_l  +  λ_tv·TV(y)

G_l: H·W-normalized Gram matrices at relu1_1…relu5_1 of the style image s (fixed, computed once
at ``style_size``); E: each term's target energy (mean square of the content features, of the
style's Gram), so every layer counts the same whatever its scale on Caffe-scale VGG features and
the weights are plain ratios. With several styles, sample k of the run is trained on style
k mod S (every batch holds all styles in turn) through per-sample CIN parameters.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor, nn

from ..checkpoint import load_model
from ..choices import FAST_MODELS, GRAM_STYLE_LAYERS, SINGLE_STYLE_NORMS, check
from ..errors import OptionError, UsageError
from ..imageio import read_image
from ..losses import content_loss, target_energy, tv_loss
from ..models import JohnsonConfig, JohnsonNet, TextureNet, TextureNetConfig
from ..nn.functional import gram_matrix
from ..nn.norm import ConditionalInstanceNorm2d, VirtualBatchNorm2d, record_reference
from ..resize import resize_longer
from ..sheet import contact_sheet
from ..vgg import RELU_LAYERS, VGG19Encoder, deepest
from .content import ContentFolderTask
from .stability import check_stability, motion_consistency


def style_name(path: str | os.PathLike) -> str:
    """A style's name from its file name: the stem, lower-cased, other characters than letters and
    digits as ``_`` (``Starry Night.jpg`` -> ``starry_night``)."""
    stem = Path(path).stem.lower()
    return "".join(ch if ch.isalnum() else "_" for ch in stem).strip("_") or "style"


@dataclass
class FastTrainConfig:
    """Model and loss settings of fast-network training.

    Attributes:
        model: ``johnson`` (residual net) or ``texture_net`` (Ulyanov's multi-scale net with noise).
        norm: norm layer of a single-style net (``instance``, ``batch``, ``group``, ``layer``,
            ``none``); several styles always use conditional instance norm.
        width: channel multiplier.
        residual_blocks: residual blocks of a Johnson net (5 in the paper).
        content_layer: ``relu3_1`` by default (see docs/fast.md for why), or e.g. ``relu2_2``.
        style_layers: Gram layers.
        content_weight, style_weight, tv_weight: weights of the normalized terms.
        style_size: longer side of the style images when their Grams are taken.
        styles: the style names (one per style image, in order).
        base_styles: styles of the trained multi-style network this run adds ``styles`` to
            (set by :class:`FastTask` from ``add_to``; empty for a new network).
        cin_lr_scale: learning-rate multiple of the conditional-IN γ, β of a multi-style net.
            Each style's γ, β see only the samples of that style, and with Adam a parameter
            moves about lr per step, so at lr 1e-3 they need tens of thousands of steps to move
            from identity; 10× lets short runs tell the styles apart (docs/fast.md).
        stability: weight of the motion-stability loss (:mod:`instyle.train.stability`; 0: off),
            against the network's own output (detached) moved alike.
        noise: standard deviation of the Gaussian noise added to the moved photo (0–1 RGB).
    """

    model: str = "johnson"
    norm: str = "instance"
    width: float = 1.0
    residual_blocks: int = 5
    content_layer: str = "relu3_1"
    style_layers: tuple[str, ...] = GRAM_STYLE_LAYERS
    content_weight: float = 1.0
    style_weight: float = 5.0
    tv_weight: float = 0.0
    style_size: int = 512
    styles: tuple[str, ...] = ()
    base_styles: tuple[str, ...] = ()
    cin_lr_scale: float = 10.0
    stability: float = 0.0
    noise: float = 0.02

    def __post_init__(self) -> None:
        self.style_layers, self.styles = tuple(self.style_layers), tuple(self.styles)
        self.base_styles = tuple(self.base_styles)
        check(self.model, FAST_MODELS, "model")
        check(self.norm, SINGLE_STYLE_NORMS, "norm")
        for n in (self.content_layer, *self.style_layers):
            if n not in RELU_LAYERS:
                raise ValueError(f"unknown VGG-19 layer {n!r}; choose from {', '.join(RELU_LAYERS)}")
        if not self.cin_lr_scale > 0:
            raise ValueError(f"cin lr scale must be > 0, got {self.cin_lr_scale}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name.replace('_', ' ')} must be >= 0, got {getattr(self, name)}")
        check_stability(self.stability, self.noise)
        if self.residual_blocks != 5 and self.model != "johnson":
            raise ValueError("residual blocks are a Johnson network's; a texture net has none")
        if self.style_size < 16:
            raise ValueError(f"style size must be >= 16, got {self.style_size}")
        if len(set(self.base_styles + self.styles)) != len(self.base_styles + self.styles):
            raise ValueError("style names must be unique")
        self.model_config()  # the network's own rules (width, residual blocks)

    def model_config(self):
        """The network's config: conditional IN over all its styles when there are several."""
        every = self.base_styles + self.styles
        norm = "conditional_instance" if len(every) > 1 else self.norm
        styles = every if len(every) > 1 else ()
        if self.model == "johnson":
            return JohnsonConfig(norm=norm, width=self.width, residual_blocks=self.residual_blocks, styles=styles)
        return TextureNetConfig(norm=norm, width=self.width, styles=styles)


class FastTask(ContentFolderTask):
    """A fast style network as a :class:`instyle.train.loop.Task`.

    ``add_to``: a trained multi-style network to teach the new style(s): its weights are kept
    frozen and only the new styles' CIN γ, β are trained (Dumoulin et al. 2017, sec. 4.3); the
    result holds the old styles and the new ones.

    Example:
        >>> task = FastTask(["starry.jpg"], "photos/", FastTrainConfig())          # doctest: +SKIP
        >>> train(task, TrainConfig(steps=40_000, batch_size=4, crop=256), "runs/starry")  # doctest: +SKIP
        >>> more = FastTask(["kahlo.jpg"], "photos/", FastTrainConfig(),  # doctest: +SKIP
        ...                 add_to="builtin_styles.safetensors")
    """

    name = "fast"
    loss_names = ("content", "style", "tv", "stability")
    crops_per_image = None

    def __init__(
        self,
        style_images: Sequence[str | os.PathLike],
        content_dir: str,
        config: FastTrainConfig,
        *,
        n_samples: int = 3,
        add_to: str | os.PathLike | None = None,
    ):
        if not style_images:
            raise UsageError("give at least one style image")
        self.base: nn.Module | None = None
        if add_to is not None:
            self.base = self._load_base(add_to, config)
        self.style_paths = [str(p) for p in style_images]
        names = config.styles or tuple(style_name(p) for p in self.style_paths)
        if len(names) != len(self.style_paths):
            raise UsageError(f"{len(names)} style names for {len(self.style_paths)} style images")
        if len(set(names)) != len(names):
            raise UsageError(f"two style images have the same name ({', '.join(names)}); rename them")
        taken = sorted(set(names) & set(config.base_styles))
        if taken:
            raise OptionError(
                f"the network already has a style named {taken[0]!r}; choose another with {{name}}",
                name=("styles", "--style-name"),
            )
        config.styles = tuple(names)
        self.offset = len(config.base_styles)  # index of the first trained style in the network
        self.multi = len(config.base_styles) + len(names) > 1  # a CIN net: samples pick their style
        self.config, self.content_dir, self.n_samples = config, content_dir, n_samples
        self._reference: Tensor | None = None  # virtual batch norm's reference photos (B, 3, c, c)
        self.layers = tuple(dict.fromkeys([config.content_layer, *config.style_layers]))
        # the style images themselves are read now: a bad file fails before any work
        self.style_images = [resize_longer(read_image(p).rgb, config.style_size) for p in self.style_paths]

    @staticmethod
    def _load_base(path: str | os.PathLike, config: FastTrainConfig) -> nn.Module:
        """The multi-style network to extend; its model, width and styles become the run's."""
        base, _ = load_model(path)
        if not isinstance(base, (JohnsonNet, TextureNet)) or len(base.config.styles) < 2:
            raise OptionError(
                f"{os.fspath(path)} is not a multi-style fast network; {{add_to}} needs one "
                "(trained with several {style} images)",
                add_to=("add_to", "--add-to"),
                style=("style", "--style"),
            )
        config.model = "johnson" if isinstance(base, JohnsonNet) else "texture_net"
        config.width, config.base_styles = base.config.width, tuple(base.config.styles)
        return base

    def task_config(self) -> dict[str, Any]:
        d = asdict(self.config)
        for k in ("style_layers", "styles", "base_styles"):
            d[k] = list(d[k])
        return d

    def build_model(self) -> nn.Module:
        cfg = self.config.model_config()
        net = JohnsonNet(cfg) if isinstance(cfg, JohnsonConfig) else TextureNet(cfg)
        if self.base is not None:
            # the base's weights; each CIN table (S, C) grows to (S + N, C), the new styles
            # starting from the base's average style. Only the CIN tables stay trainable.
            state = net.state_dict()
            for k, v in self.base.state_dict().items():
                if state[k].shape == v.shape:
                    state[k] = v.clone()
                else:
                    state[k] = torch.cat([v, v.mean(dim=0, keepdim=True).expand(len(self.config.styles), -1)])
            net.load_state_dict(state)
            cin = {id(p) for p in self._cin_params(net)}
            for p in net.parameters():
                p.requires_grad_(id(p) in cin)
        return net

    @staticmethod
    def _cin_params(model: nn.Module) -> list[nn.Parameter]:
        return [p for m in model.modules() if isinstance(m, ConditionalInstanceNorm2d) for p in m.parameters()]

    @torch.no_grad()
    def prepare(self, device: torch.device, channels_last: bool) -> None:
        self.device, self.channels_last = device, channels_last
        self.encoder = VGG19Encoder(last_layer=deepest(self.layers)).to(device)
        if channels_last:
            # (Module.to takes memory_format, which torch's type overloads of it leave out)
            self.encoder = self.encoder.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        # Gram targets (S, C, C) per layer and their energies (S,), in float32.
        grams: dict[str, list[Tensor]] = {n: [] for n in self.config.style_layers}
        for img in self.style_images:
            feats = self.encoder(img.to(device), self.config.style_layers)
            for n in self.config.style_layers:
                grams[n].append(gram_matrix(feats[n].float())[0])
        self.grams = {n: torch.stack(g) for n, g in grams.items()}
        self.energy = {n: target_energy(g, dim=(1, 2)) for n, g in self.grams.items()}  # (S,)

    def style_index(self, batch: Mapping[str, Any]) -> Tensor:
        """Network style of each sample: offset + k mod S (S trained styles; all zeros for a
        single-style net). (B,) LongTensor."""
        return self.offset + batch["sample"].to(self.device) % len(self.style_images)

    def _selector(self, idx: Tensor):
        return idx if self.multi else None

    def loss(self, model: nn.Module, batch: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.config
        x = batch["content"]
        idx = self.style_index(batch)
        with torch.no_grad():
            target = self.encoder(x, (cfg.content_layer,))[cfg.content_layer]
        self._record_reference(model, x)
        y = model(x, self._selector(idx))  # (B, 3, H, W), unclamped
        feats = self.encoder(y, self.layers)
        lc = content_loss(feats[cfg.content_layer], target) / target_energy(target)
        ls = y.new_zeros((), dtype=torch.float32)
        k = idx - self.offset  # row of each sample's style in the Gram targets
        for n in cfg.style_layers:
            g = gram_matrix(feats[n])  # (B, C, C) float32
            per_sample = (g - self.grams[n][k]).pow(2).mean(dim=(1, 2)) / self.energy[n][k]
            ls = ls + per_sample.mean()
        ltv = tv_loss(y) if cfg.tv_weight > 0 else ls.new_zeros(())
        total = cfg.content_weight * lc + cfg.style_weight * ls + cfg.tv_weight * ltv
        lstab = ls.new_zeros(())
        if cfg.stability > 0:  # the photo moved a little (+ noise) -> its output moved alike
            lstab = motion_consistency(model, x, self._selector(idx), y, cfg.noise)
            total = total + cfg.stability * lstab
        return total, {"content": lc, "style": ls, "tv": ltv, "stability": lstab}

    def _record_reference(self, model: nn.Module, x: Tensor) -> None:
        """Virtual batch norm (``--norm virtual_batch``): the fixed reference batch (as many photos
        as a batch, spread over the folder, one fixed crop each) through the network at this step's
        weights, so every sample is normalized with its statistics (Salimans et al. 2016)."""
        layers = [m for m in model.modules() if isinstance(m, VirtualBatchNorm2d)]
        if not layers:
            return
        if self._reference is None or self._reference.shape[0] != x.shape[0]:
            folder = self._folder
            assert folder is not None  # streams() has run
            count = len(folder)
            picks = [round(i * (count - 1) / max(1, x.shape[0] - 1)) for i in range(x.shape[0])]
            self._reference = torch.stack([folder.crop(i, seed=i)[0] for i in picks])  # (B, 3, c, c)
        ref = self._reference.to(x.device, x.dtype)
        if x.is_contiguous(memory_format=torch.channels_last):
            ref = ref.contiguous(memory_format=torch.channels_last)
        with record_reference(model):
            model(ref)  # a single-style network (several styles use conditional IN)

    def samples(self, model: nn.Module) -> Image.Image | None:
        previews = self.preview_images()
        if not previews:
            return None
        dev = next(model.parameters()).device
        rows = []
        for c in previews:
            outs = [
                model(c.to(dev), self._selector(torch.tensor([self.offset + s], device=dev))).clamp(0, 1).cpu()
                for s in range(len(self.style_images))
            ]
            rows.append([c] + outs)
        styles = [resize_longer(s, 256) for s in self.style_images]
        return contact_sheet(rows, header=[None, *styles], col_labels=["", *self.config.styles], cell=160)

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        """The CIN γ, β of a multi-style net at ``cin_lr_scale`` × lr; everything else at lr
        (nothing else when adding styles to a trained net: the rest is frozen)."""
        cin = self._cin_params(model)
        ids = {id(p) for p in cin}
        rest = [p for p in model.parameters() if id(p) not in ids and p.requires_grad]
        return ([{"params": rest}] if rest else []) + (
            [{"params": cin, "lr_scale": self.config.cin_lr_scale}] if cin else []
        )

    def model_extra(self) -> dict[str, str]:
        return {}
