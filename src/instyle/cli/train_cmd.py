"""``instyle train``: train networks with the shared training loop (``instyle train adain …``)."""

from __future__ import annotations

import argparse
import os
import sys

from ..choices import (
    ADAIN_ARCHS,
    ADAIN_STYLE_LAYERS,
    DISTILL_LOSSES,
    FAST_MODELS,
    GRAM_STYLE_LAYERS,
    LOSS_BALANCES,
    PADDINGS,
    SCHEDULES,
    SINGLE_STYLE_NORMS,
    TRAIN_PRECISIONS,
    UPSAMPLINGS,
)
from . import common

HELP = "train a network on your own images (AdaIN decoder, fast per-style nets)"

ADAIN_HELP = "train an AdaIN network for arbitrary style transfer (Huang & Belongie 2017): light or VGG-19"
ADAIN_EPILOG = """examples:
  instyle train adain --content photos/ --style paintings/ --out runs/adain
  instyle train adain --content photos/ --style paintings/ --out runs/adain --resume
  torchrun --nproc_per_node 4 -m instyle train adain --content photos/ --style paintings/ --out runs/adain
  instyle train adain ... --image-size 256 --crop 128 --cache-features     # a reduced CPU recipe
  instyle train adain --arch light ... --style-weight 0 --content-weight 0  # light: distil from VGG-19,
  instyle train adain --arch light ... --init-from RUN/model.safetensors    # then the AdaIN losses

--arch vgg (default) trains the paper's decoder behind the frozen VGG-19; --arch light trains a
small encoder and decoder together (collaborative distillation; src/instyle/assets/light_adain.md),
judged by the full VGG-19.

The run folder gets checkpoint.pt (resume with --resume), model.safetensors (use it with
`instyle stylize --decoder`), log.csv, loss.png and samples/.
"""


FAST_HELP = "train a fast feed-forward style network (Johnson / Ulyanov; one style, or several with conditional IN)"
FAST_EPILOG = """examples:
  instyle train fast --style starry.jpg --content photos/ --out runs/starry
  instyle train fast --style starry.jpg --content photos/ --out runs/starry-bn --norm batch   # the IN-vs-BN switch
  instyle train fast --style a.jpg --style b.jpg --style c.jpg --content photos/ --out runs/cin  # multi-style
  instyle train fast --style starry.jpg --content photos/ --out runs/tn --model texture_net
  instyle train fast --add-to builtin --style kahlo.jpg --content photos/ --out runs/kahlo --steps 2000
      # teach the built-in network a new style: only its γ, β are trained; then
      # instyle stylize photo.jpg --model runs/kahlo/model.safetensors --style kahlo
"""


DISTILL_HELP = "distil a trained fast network into a smaller, faster one with the same styles"
DISTILL_EPILOG = """examples:
  instyle train distill --teacher builtin-large --content photos/ --out runs/small --width 0.25
  instyle train distill --teacher runs/cin/model.safetensors --content photos/ --out runs/small3 \\
      --width 0.375 --residual-blocks 3
  instyle stylize photo.jpg --model runs/small/model.safetensors --style starry_night

The student is trained to reproduce the teacher's output (L1 by default); no VGG pass is needed,
so a step costs about a third of a `train fast` step per pixel. Pixel losses leave textures soft:
continue with `train fast --init-from RUN/checkpoint.pt` (the teacher's styles, same --width) to
sharpen them, as the built-in network was made. Compare networks with benchmarks/fast.py.
"""


def _add_residual_blocks(group, what: str) -> None:
    group.add_argument(
        "--residual-blocks",
        type=common.non_negative_int,
        default=5,
        help=f"{what} (default 5, as in Johnson et al. 2016; narrower/fewer: faster)",
    )


def _add_loop_options(
    p: argparse.ArgumentParser,
    *,
    steps: int,
    batch: int = 8,
    lr: float = 1e-4,
    schedule: str = "inverse",
    image_size: int = 512,
    crop: int = 256,
) -> None:
    """Options of the shared loop (TrainConfig), the same for every task."""
    g = p.add_argument_group("run")
    g.add_argument("--out", required=True, help="run folder (checkpoints, logs, samples, model.safetensors)")
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    g.add_argument("--overwrite", action="store_true", help="start over in an --out that already holds a run")
    g.add_argument(
        "--init-from",
        default=None,
        metavar="MODEL",
        help="start a new run from these weights (model.safetensors or checkpoint.pt of the same model)",
    )
    g.add_argument("--steps", type=common.positive_int, default=steps, help=f"total optimizer steps (default {steps})")
    g.add_argument(
        "--max-minutes",
        type=common.positive_float,
        default=None,
        help="stop cleanly (with a checkpoint) after this many minutes",
    )
    g.add_argument(
        "--checkpoint-every", type=common.positive_int, default=1000, help="steps between checkpoints (default 1000)"
    )
    g.add_argument(
        "--keep-checkpoints",
        type=common.non_negative_int,
        default=2,
        help="numbered snapshots kept besides the latest (default 2)",
    )
    g.add_argument(
        "--sample-every",
        type=common.non_negative_int,
        default=1000,
        help="steps between sample grids (0: only at the end; default 1000)",
    )
    g.add_argument("--log-every", type=common.positive_int, default=10, help="steps between log rows (default 10)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    g = p.add_argument_group("optimization")
    g.add_argument(
        "--batch-size", type=common.batch_size, default=batch, help=f"images per step and process (default {batch})"
    )
    g.add_argument("--grad-accum", type=common.positive_int, default=1, help="micro-batches per step (default 1)")
    g.add_argument("--lr", type=common.positive_float, default=lr, help=f"learning rate (default {lr:g})")
    g.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=schedule,
        help=f"inverse = lr/(1 + decay·step) (AdaIN's); cosine with --warmup-steps (default {schedule})",
    )
    g.add_argument(
        "--lr-decay", type=common.non_negative_float, default=5e-5, help="decay of the inverse schedule (default 5e-5)"
    )
    g.add_argument("--warmup-steps", type=common.non_negative_int, default=0)
    g.add_argument(
        "--min-lr-ratio", type=common.non_negative_float, default=0.0, help="cosine floor as a fraction of --lr"
    )
    g.add_argument("--clip-grad", type=common.positive_float, default=None, help="clip the gradient norm")
    g.add_argument("--seed", type=common.seed, default=0)
    g = p.add_argument_group("data and hardware")
    g.add_argument(
        "--image-size",
        type=common.image_size,
        default=image_size,
        help=f"shorter side before cropping (default {image_size})",
    )
    g.add_argument("--crop", type=common.image_size, default=crop, help=f"random square crop size (default {crop})")
    g.add_argument("--workers", type=common.workers, default=None, help="data-loading processes (0 to 64)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    g.add_argument(
        "--precision",
        choices=TRAIN_PRECISIONS,
        default="auto",
        help="mixed precision: auto = bf16 on GPUs and CPUs with native bf16, else fp32",
    )
    g.add_argument("--no-channels-last", action="store_true", help="keep the NCHW memory layout")


def _train_config(args: argparse.Namespace):
    from ..train import TrainConfig

    return TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        schedule=args.schedule,
        lr_decay=args.lr_decay,
        warmup_steps=args.warmup_steps,
        min_lr_ratio=args.min_lr_ratio,
        grad_accum=args.grad_accum,
        precision=args.precision,
        channels_last=not args.no_channels_last,
        image_size=args.image_size,
        crop=args.crop,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints,
        sample_every=args.sample_every,
        log_every=args.log_every,
        max_minutes=args.max_minutes,
        workers=args.workers,
        clip_grad=args.clip_grad,
        device=args.device,
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help=HELP, description=HELP)
    tasks = p.add_subparsers(dest="task", metavar="TASK")
    p.set_defaults(run=lambda args: p.error("choose what to train: adain, fast or distill"))

    a = common.add_command(tasks, "adain", ADAIN_HELP, ADAIN_EPILOG)
    a.add_argument("--content", required=True, help="folder of content photos (searched recursively)")
    a.add_argument("--style", required=True, help="folder of style images (searched recursively)")
    _add_loop_options(a, steps=160_000)
    g = a.add_argument_group("AdaIN losses and model")
    g.add_argument("--style-weight", type=common.non_negative_float, default=10.0, help="λ_s (default 10, the paper's)")
    g.add_argument("--content-weight", type=common.non_negative_float, default=1.0)
    g.add_argument(
        "--tv-weight", type=common.non_negative_float, default=0.0, help="total-variation weight (default 0)"
    )
    g.add_argument(
        "--style-layers",
        default=",".join(ADAIN_STYLE_LAYERS),
        help="mean/std style loss layers (default relu1_1…relu4_1)",
    )
    g.add_argument(
        "--balance",
        choices=LOSS_BALANCES,
        default=LOSS_BALANCES[0],
        help="raw: the paper's sum of per-layer terms (default; on this VGG-19 almost all relu4_1); energy: each "
        "term over its target's energy, style layers averaged, so colour and brushwork count",
    )
    g.add_argument(
        "--color-weight",
        type=common.non_negative_float,
        default=0.0,
        help="weight of the palette term: sliced Wasserstein distance of pixel colours (CIELAB, ΔE) to the "
        "style crop's (default 0: off)",
    )
    g.add_argument(
        "--arch",
        choices=ADAIN_ARCHS,
        default="vgg",
        help="vgg: the paper's decoder (default); light: distilled network",
    )
    g.add_argument(
        "--width",
        type=common.positive_float,
        default=None,
        help="channel multiplier (default 1 for vgg's decoder, 0.25 for light)",
    )
    g.add_argument(
        "--distill-weight",
        type=common.non_negative_float,
        default=None,
        help="light: weight of student features projected onto VGG-19's (default 1)",
    )
    g.add_argument(
        "--recon-weight",
        type=common.non_negative_float,
        default=None,
        help="light: weight of the L1 reconstruction through the student (default 10)",
    )
    g.add_argument(
        "--padding",
        choices=PADDINGS,
        default=None,
        help="light: padding of its 3x3 convs (default reflect: no dark frame; zero: faster on onnxruntime)",
    )
    g.add_argument(
        "--upsample",
        choices=UPSAMPLINGS,
        default=None,
        help="light: the decoder's x2 upsampling (default bilinear: no block lattice; nearest: as before)",
    )
    g.add_argument(
        "--cache-features",
        action="store_true",
        help="cache frozen-encoder outputs of fixed crops (faster on CPUs; see --crops-per-image)",
    )
    g.add_argument(
        "--crops-per-image", type=common.positive_int, default=4, help="fixed crops per image when caching (default 4)"
    )
    g.add_argument("--cache-gb", type=common.positive_float, default=4.0, help="memory for the cache (default 4 GB)")
    a.set_defaults(run=run_adain)

    f = common.add_command(tasks, "fast", FAST_HELP, FAST_EPILOG)
    f.add_argument(
        "--style",
        action="append",
        required=True,
        metavar="IMAGE",
        help="style image; repeat for a multi-style network (conditional instance norm)",
    )
    f.add_argument(
        "--style-name",
        action="append",
        default=None,
        metavar="NAME",
        help="names of the styles, in --style order (default: from the file names)",
    )
    f.add_argument("--content", required=True, help="folder of content photos (searched recursively)")
    _add_loop_options(f, steps=40_000, batch=4, lr=1e-3, schedule="constant", image_size=256, crop=256)
    g = f.add_argument_group("network and losses")
    g.add_argument(
        "--model",
        choices=FAST_MODELS,
        default="johnson",
        help="johnson: residual net (default); texture_net: Ulyanov's multi-scale net with noise input",
    )
    g.add_argument(
        "--norm",
        choices=SINGLE_STYLE_NORMS,
        default="instance",
        help="norm layers of a single-style net (default instance; several styles use conditional IN)",
    )
    g.add_argument("--width", type=common.positive_float, default=1.0, help="channel multiplier (default 1)")
    _add_residual_blocks(g, "residual blocks of the johnson net")
    g.add_argument("--content-layer", default="relu3_1", help="content loss layer (default relu3_1)")
    g.add_argument(
        "--style-layers", default=",".join(GRAM_STYLE_LAYERS), help="Gram style layers (default relu1_1…relu5_1)"
    )
    g.add_argument("--content-weight", type=common.non_negative_float, default=1.0)
    g.add_argument(
        "--style-weight", type=common.non_negative_float, default=5.0, help="style/content ratio (default 5)"
    )
    g.add_argument("--tv-weight", type=common.non_negative_float, default=0.0)
    g.add_argument(
        "--style-size", type=common.image_size, default=512, help="longer side of the style images (default 512)"
    )
    g.add_argument(
        "--add-to",
        default=None,
        metavar="MODEL",
        help="a trained multi-style network (or `builtin` / `builtin-large` for a shipped one) to add the --style "
        "images to: only the new styles' γ, β are trained",
    )
    g.add_argument(
        "--cin-lr-scale",
        type=common.positive_float,
        default=10.0,
        help="learning-rate multiple of the per-style γ, β of a multi-style net (default 10)",
    )
    _add_stability_options(g, "its own output")
    f.set_defaults(run=run_fast)

    d = common.add_command(tasks, "distill", DISTILL_HELP, DISTILL_EPILOG)
    d.add_argument(
        "--teacher",
        required=True,
        metavar="MODEL",
        help="trained Johnson network to distil (model file or checkpoint), or `builtin` / `builtin-large`",
    )
    d.add_argument("--content", required=True, help="folder of content photos (searched recursively)")
    _add_loop_options(d, steps=20_000, batch=8, lr=1e-3, schedule="cosine", image_size=256, crop=256)
    g = d.add_argument_group("student")
    g.add_argument(
        "--width", type=common.positive_float, default=0.25, help="student channel multiplier (default 0.25)"
    )
    _add_residual_blocks(g, "student residual blocks")
    g.add_argument("--loss", choices=DISTILL_LOSSES, default="l1", help="distance to the teacher's output (default l1)")
    g.add_argument(
        "--teacher-scale",
        type=float,
        default=1.0,
        metavar="K",
        help="the teacher paints each photo enlarged K times and its output is shrunk back, so the student "
        "paints at N px what the teacher paints at K*N (finer strokes for K^2 less compute; 1 to 4, default 1)",
    )
    g.add_argument(
        "--perceptual",
        type=common.non_negative_float,
        default=0.0,
        metavar="W",
        help="weight of VGG-19 feature and Gram terms (relu1_1-relu3_1) against the teacher's output, which "
        "keep the student's strokes crisp where the pixel loss alone leaves them soft (default 0: off)",
    )
    _add_stability_options(g, "the teacher's output")
    d.set_defaults(run=run_distill)


def _add_stability_options(g, target: str) -> None:
    """``--stability`` and ``--noise`` (instyle.train.stability) for a fast-network task."""
    g.add_argument(
        "--stability",
        type=common.non_negative_float,
        default=0.0,
        help=f"weight of the video-stability loss: the output of a photo moved a little (shift, zoom, turn, "
        f"noise) must be {target} moved alike (default 0: off)",
    )
    g.add_argument(
        "--noise",
        type=common.non_negative_float,
        default=0.02,
        help="standard deviation of the noise added to the moved photo, 0-1 RGB (default 0.02)",
    )


def run_adain(args: argparse.Namespace) -> int:
    from ..train import AdaINTask, AdaINTrainConfig, LightAdaINTask, LightTrainConfig

    common_cfg = dict(
        style_weight=args.style_weight,
        content_weight=args.content_weight,
        tv_weight=args.tv_weight,
        style_layers=tuple(common.comma_list(args.style_layers)),
        cache_features=args.cache_features,
        crops_per_image=args.crops_per_image,
        cache_gb=args.cache_gb,
        balance=args.balance,
        color_weight=args.color_weight,
    )
    light_only = {
        "--distill-weight": args.distill_weight,
        "--recon-weight": args.recon_weight,
        "--padding": args.padding,
        "--upsample": args.upsample,
    }
    if args.arch == "light":
        defaults = LightTrainConfig()
        cfg = LightTrainConfig(
            **common_cfg,
            width=defaults.width if args.width is None else args.width,
            distill_weight=defaults.distill_weight if args.distill_weight is None else args.distill_weight,
            recon_weight=defaults.recon_weight if args.recon_weight is None else args.recon_weight,
            padding=defaults.padding if args.padding is None else args.padding,
            upsample=defaults.upsample if args.upsample is None else args.upsample,
        )
        return _run(LightAdaINTask(args.content, args.style, cfg), args)
    given = [opt for opt, value in light_only.items() if value is not None]
    if given:
        raise common.UsageError(f"{given[0]} trains the light network: add --arch light")
    adain_cfg = AdaINTrainConfig(**common_cfg, width=1.0 if args.width is None else args.width)
    return _run(AdaINTask(args.content, args.style, adain_cfg), args)


def run_fast(args: argparse.Namespace) -> int:
    from ..train.fast import FastTask, FastTrainConfig

    layers = tuple(common.comma_list(args.style_layers))
    cfg = FastTrainConfig(
        model=args.model,
        norm=args.norm,
        width=args.width,
        residual_blocks=args.residual_blocks,
        content_layer=args.content_layer,
        style_layers=layers,
        content_weight=args.content_weight,
        style_weight=args.style_weight,
        tv_weight=args.tv_weight,
        style_size=args.style_size,
        styles=tuple(args.style_name or ()),
        cin_lr_scale=args.cin_lr_scale,
        stability=args.stability,
        noise=args.noise,
    )
    from ..shipped import resolve_model

    add_to = None if args.add_to is None else resolve_model(args.add_to)
    return _run(FastTask(args.style, args.content, cfg, add_to=add_to), args)


def run_distill(args: argparse.Namespace) -> int:
    from ..shipped import resolve_model
    from ..train import DistillConfig, DistillTask

    cfg = DistillConfig(
        teacher=os.fspath(resolve_model(args.teacher)),  # what DistillConfig's __post_init__ does too
        width=args.width,
        residual_blocks=args.residual_blocks,
        loss=args.loss,
        stability=args.stability,
        noise=args.noise,
        teacher_scale=args.teacher_scale,
        perceptual=args.perceptual,
    )
    return _run(DistillTask(args.content, cfg), args)


def _run(task, args: argparse.Namespace) -> int:
    from ..train import MODEL_FILE, train

    cfg = _train_config(args)
    if args.resume and args.overwrite:
        raise ValueError("--resume and --overwrite cannot be used together")
    result = train(
        task,
        cfg,
        args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=common.show_progress(args.quiet),
        init_from=args.init_from,
    )
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, one summary: the main process's
        return 0
    summary = {
        "run_dir": str(result.run_dir),
        "step": result.step,
        "elapsed_s": round(result.elapsed_s, 1),
        "stopped_early": result.stopped_early,
        "losses": result.losses,
        "model": str(result.run_dir / MODEL_FILE),
    }
    if args.json:
        common.emit_json(summary)
    else:
        losses = ", ".join(f"{k} {v:.4g}" for k, v in result.losses.items())
        sys.stderr.write(
            f"step {result.step}/{cfg.steps} in {result.elapsed_s / 60:.1f} min ({losses}); "
            f"model: {result.run_dir / MODEL_FILE}\n"
        )
    return 0
