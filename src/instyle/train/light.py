"""Training the light AdaIN network (:mod:`instyle.models.light`): collaborative distillation from
VGG-19 (Wang et al. CVPR 2020), then the usual AdaIN losses, always judged by the full VGG-19.

With f the frozen VGG-19 (teacher), e, d the student encoder and decoder and P_l the 1×1
projections of student features into VGG's (l = relu1_1 … relu4_1):

    L_distil = Σ_l ‖P_l(e_l(x)) − f_l(x)/rms(f_l(x))‖²          student features carry the teacher's (eq. 3)
    L_recon  = ‖d(e(x)) − x‖₁                                  the decoder inverts the student encoder
    g        = d(AdaIN(e(c), e(s)))                            the student stylizes
    L_content = ‖f(g) − AdaIN(f(c), f(s))‖²  (relu4_1)          the teacher's AdaIN target
    L_style  = Σ_l ‖μ(f_l(g)) − μ(f_l(s))‖² + ‖σ(f_l(g)) − σ(f_l(s))‖²

    L = λ_d·L_distil + λ_r·L_recon + λ_c·L_content + λ_s·L_style (+ λ_tv·TV(g))

The student is never its own judge: content and style losses come from VGG-19, so the numbers
stay comparable with the VGG decoder's and the peer's (``instyle evaluate``). The shipped recipe
runs in two segments (model card ``light_adain.md``): distillation and reconstruction alone
(cheap steps: VGG-19 only encodes), then ``--init-from`` with the AdaIN losses added. x in the
distillation terms is the batch's photos and paintings together, so the encoder learns both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import torch
from PIL import Image
from torch import Tensor, nn

from ..losses import content_loss, target_energy
from ..models.adain import ENCODER_LAYER
from ..models.light import LightAdaIN, LightAdaINConfig
from ..nn.functional import adain, calc_mean_std
from ..sheet import contact_sheet
from .adain import AdaINTask, AdaINTrainConfig


@dataclass
class LightTrainConfig(AdaINTrainConfig):
    """Loss settings of light AdaIN training: AdaIN's (λ_s, λ_c, λ_tv, style layers, feature
    cache, ``width``: the student's channel multiplier) plus the distillation terms.

    Attributes:
        distill_weight: λ_d, student features projected onto VGG-19's (all four layers).
        recon_weight: λ_r, the decoder reconstructing the input from the student's relu4_1.
        padding: the network's conv padding (:class:`~instyle.models.light.LightAdaINConfig`);
            new runs use reflection: zero padding darkens a frame around every output (named by
            the blind judges on 57 of 64 results, docs/quality.md).
        upsample: the decoder's ×2 upsampling; new runs use bilinear, the shipped network's.
    """

    width: float = 0.25
    distill_weight: float = 1.0
    recon_weight: float = 10.0
    padding: str = "reflect"
    upsample: str = "bilinear"

    def __post_init__(self) -> None:
        for name in ("distill_weight", "recon_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', ' ')} must be >= 0, got {getattr(self, name)}")
        if self.distill_weight + self.recon_weight + self.content_weight + self.style_weight + self.color_weight <= 0:
            raise ValueError("every loss weight is 0: nothing to train")
        super().__post_init__()
        LightAdaINConfig(width=self.width, padding=self.padding, upsample=self.upsample)  # validates them


class LightAdaINTask(AdaINTask):
    """The light network as a :class:`instyle.train.loop.Task`.

    Example:
        >>> cfg = LightTrainConfig(style_weight=0, content_weight=0)              # distillation only
        >>> task = LightAdaINTask("photos/", "paintings/", cfg)                   # doctest: +SKIP
        >>> train(task, TrainConfig(steps=2000, crop=128), "runs/light-distil")   # doctest: +SKIP
    """

    name = "adain_light"
    loss_names = ("distill", "recon", "content", "style", "tv", "color")
    # the feature projections sit out when --distill-weight is 0, the decoder in distillation alone
    may_leave_parameters_unused = True
    config: LightTrainConfig

    def __init__(self, content_dir: str, style_dir: str, config: LightTrainConfig | None = None, **kw):
        super().__init__(content_dir, style_dir, config if config is not None else LightTrainConfig(), **kw)

    def build_model(self) -> nn.Module:
        cfg = self.config
        return LightAdaIN(LightAdaINConfig(width=cfg.width, padding=cfg.padding, upsample=cfg.upsample))

    def _distill_terms(self, model: LightAdaIN, x: Tensor) -> tuple[Tensor, Tensor]:
        """L_distil and L_recon on images x (B, 3, c, c)."""
        cfg = self.config
        layers = model.encoder.layer_names
        assert self.encoder is not None  # prepare() has run
        with torch.no_grad():
            teacher = self.encoder(x, layers)  # {relu_l: (B, C_l, c/2^(l-1), …)}
        student = model.encoder(x, layers)
        # targets at unit RMS (VGG's Caffe-scale features reach the hundreds): the same relative
        # error as ‖P·e − f‖²/‖f‖², without asking the 1×1 projections for large weights
        # the encoder has layers: the sum is a Tensor, never sum()'s start 0
        ld = cast(
            Tensor,
            sum(
                content_loss(model.project[n](student[n]), teacher[n] / target_energy(teacher[n]).sqrt())
                for n in layers
            ),
        ) / len(layers)
        if cfg.recon_weight > 0:
            r = model.decoder(student[ENCODER_LAYER])[..., : x.shape[-2], : x.shape[-1]]
            lr = (r.float() - x.float()).abs().mean()
        else:
            lr = ld.new_zeros(())
        return ld, lr

    def loss(self, model: nn.Module, batch: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
        # build_model's LightAdaIN itself (under DDP too: train() wraps this whole call, not the model)
        net = cast(LightAdaIN, model)
        cfg = self.config
        c, s = batch["content"], batch["style"]  # (B, 3, crop, crop) each
        zero = c.new_zeros((), dtype=torch.float32)
        ld = lr = zero
        terms = {"content": zero, "style": zero, "tv": zero, "color": zero}
        if cfg.distill_weight > 0 or cfg.recon_weight > 0:
            ld, lr = self._distill_terms(net, torch.cat([c, s]))
        if cfg.content_weight > 0 or cfg.style_weight > 0 or cfg.color_weight > 0:
            with torch.no_grad():
                fc = self._content_features(c, batch.get("content_key"))  # VGG relu4_1 (B, 512, h, w)
                stats = self._style_stats(s, batch.get("style_key"))  # VGG {layer: (mean, std)}
                t = adain(fc, stats[ENCODER_LAYER])  # the teacher's AdaIN target
            g = net.decoder(adain(net.encoder.encode(c), net.encoder.encode(s)))  # (B, 3, crop, crop)
            terms = self.stylization_terms(g, t, stats, s)
        total = cfg.distill_weight * ld + cfg.recon_weight * lr + self.weighted(terms)
        return total, {"distill": ld, "recon": lr, **terms}

    def samples(self, model: nn.Module) -> Image.Image | None:
        contents, styles = self._load_samples()
        if not contents or not styles:
            return None
        assert isinstance(model, LightAdaIN)  # train() passes the model build_model made, unwrapped
        dev = next(model.parameters()).device
        stats = [calc_mean_std(model.encoder.encode(s.to(dev)).float()) for s in styles]
        rows = []
        for c in contents:
            fc = model.encoder.encode(c.to(dev)).float()
            recon = model.decoder(fc)
            outs = [model.decoder(adain(fc, st)) for st in stats]
            rows.append([c] + [o[..., : c.shape[-2], : c.shape[-1]].clamp(0, 1).cpu() for o in [recon] + outs])
        return contact_sheet(rows, header=[None, None, *styles], cell=192)
