#!/usr/bin/env python
"""Is int8 worth shipping? Static QDQ quantization (per-channel weights, uint8 activations,
calibrated on real photos) of the built-in network and of the AdaIN decoder, against their fp32
ONNX versions on onnxruntime: warm time per image, the largest pixel difference, and the
``instyle evaluate`` scores of both outputs.

How it measures: the fp32 graphs are ``instyle export`` (built-in, pre-optimized for onnxruntime;
AdaIN encoder + decoder). Each is quantized with onnxruntime's ``quantize_static`` (QDQ format,
per-channel int8 weights, uint8 activations, MinMax calibration) on ``--calibration`` photos from
``../shared/images/train/content`` (AdaIN: their encoder features with the statistics of as many
paintings from ``train/style``). Then, on ``--pairs`` held-out photos from
``../shared/images/content`` (at ``--size`` px) with the built-in styles or paintings from
``shared/images/style``: the median of ``--repeats`` warm calls, the max and mean absolute pixel
difference (0-255 scale), and the mean Evaluator scores (content, mean/std style, Gram style) of
each output. The decision rule (docs/benchmarks.md): int8 ships only if it is faster and every mean
score stays within 5 % of fp32's.

Usage (from the repository root; ``python -m benchmarks.int8`` works too)::

    python benchmarks/int8.py
    python benchmarks/int8.py --smoke
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, runner

SMOKE = {"calibration": 2, "pairs": 1, "size": 64, "repeats": 1}
STYLES = ("candy", "starry_night", "wave", "mosaic")
METRICS = ("content", "style_mean_std", "style_gram")  # as instyle.evaluate.METRICS


def parse_args(argv: Sequence[str] | None = None):
    p = runner.parser(
        "int8",
        "int8 (static QDQ) vs fp32 on onnxruntime: speed, pixel difference and scores of the "
        "built-in network and the AdaIN decoder.",
    )
    p.add_argument("--calibration", type=int, default=32, help="calibration photos (and paintings for AdaIN)")
    p.add_argument("--pairs", type=int, default=8, help="held-out photos scored (each with one style)")
    p.add_argument("--size", type=int, default=512, help="longer side of the photos")
    p.add_argument("--repeats", type=int, default=5, help="warm calls timed per network (median)")
    runner.add_run_args(p, smoke=SMOKE, threads="onnxruntime intra-op threads (default: one per core)")
    return runner.parse_args(p, argv, "int8", SMOKE, positive=("calibration", "pairs", "size", "repeats"))


def _images(folder: Path, n: int, stand_in, tmp: Path) -> list[Path]:
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in inputs.IMAGE_SUFFIXES) if folder.is_dir() else []
    return found[:n] if len(found) >= n else stand_in(n, tmp)


def _quantize(src: Path, dst: Path, feeds: list[dict[str, Any]]) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    quantize_static(
        str(src),
        str(dst),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )


def _timed(call, repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return runner.median(times)


def _compare(name: str, runs: dict[str, Any], refs: Sequence[Any], evaluator, repeats: int) -> list[dict[str, Any]]:
    """Rows for ``runs`` (variant -> (call(i) -> (H, W, 3) array, time call))."""
    import numpy as np
    import torch

    outs = {v: [call(i) for i in range(len(refs))] for v, (call, _) in runs.items()}
    rows = []
    for variant, (_call, timed) in runs.items():
        scores = []
        for i, (content, style) in enumerate(refs):
            out = torch.from_numpy(outs[variant][i]).permute(2, 0, 1)[None]
            scores.append(evaluator(out, content, style))
        diff = [np.abs(outs[variant][i] - outs["fp32"][i]) * 255 for i in range(len(refs))]
        rows.append(
            {
                "network": name,
                "variant": variant,
                "s per image": _timed(timed, repeats),
                "max px diff": float(max(d.max() for d in diff)),
                "mean px diff": float(np.mean([d.mean() for d in diff])),
                **{m: float(np.mean([s[m] for s in scores])) for m in METRICS},
            }
        )
    fp32 = rows[0]
    for row in rows:
        row["speed vs fp32"] = row["s per image"] / fp32["s per image"]
        row["worst score vs fp32"] = max(row[m] / fp32[m] for m in METRICS)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy as np

    from instyle.evaluate import Evaluator
    from instyle.export import export_adain, export_fast
    from instyle.imageio import read_array
    from instyle.onnx_runtime import OnnxAdaIN, OnnxFastStylizer, pad_to
    from instyle.sizes import padded_side

    report = runner.new_report(
        "int8",
        "Static int8 (QDQ) vs fp32 on onnxruntime: time, pixel difference, scores",
        settings={
            "calibration": args.calibration,
            "pairs": args.pairs,
            "size": args.size,
            "repeats": args.repeats,
            "threads": args.threads,
            "smoke": args.smoke,
        },
    )
    notes = report["notes"]
    shared = inputs.SHARED_IMAGES
    with tempfile.TemporaryDirectory(prefix="instyle-bench-int8-") as tmpdir:
        tmp = Path(tmpdir)
        calib_photos = _images(shared / "train" / "content", args.calibration, inputs.sample_photos, tmp / "cp")
        calib_styles = _images(shared / "train" / "style", args.calibration, inputs.sample_paintings, tmp / "cs")
        test_photos = _images(shared / "content", args.pairs, inputs.sample_photos, tmp / "tp")
        test_styles = _images(shared / "style", args.pairs, inputs.sample_paintings, tmp / "ts")
        if not shared.is_dir():
            notes.append(f"{shared} not found: stand-in images")
        read = lambda p: read_array(p, size=args.size).rgb  # noqa: E731
        nchw = lambda a: np.ascontiguousarray(  # noqa: E731
            pad_to(a, (padded_side(a.shape[0]), padded_side(a.shape[1]))).transpose(2, 0, 1)[None], dtype=np.float32
        )

        # the built-in network
        fast_fp32 = export_fast("builtin", tmp / "fast.onnx", onnxruntime=True)
        fp32_net = OnnxFastStylizer(fast_fp32, threads=args.threads)
        n_styles = len(fp32_net.styles)
        feeds = []
        for i, p in enumerate(calib_photos):
            w = np.zeros(n_styles, np.float32)
            w[i % n_styles] = 1
            feeds.append({"image": nchw(read(p)), "style_weights": w})
        _quantize(fast_fp32, tmp / "fast_int8.onnx", feeds)
        int8_net = OnnxFastStylizer(tmp / "fast_int8.onnx", threads=args.threads)
        photos = [read(p) for p in test_photos]
        styles = [STYLES[i % len(STYLES)] for i in range(len(photos))]
        evaluator = Evaluator(size=min(512, args.size))
        paintings = {s: _painting(shared, s, tmp) for s in set(styles)}
        refs = [(_tensor(ph), _tensor(read(paintings[s]))) for ph, s in zip(photos, styles)]
        rows = _compare(
            "built-in",
            {
                "fp32": (lambda i: fp32_net(photos[i], styles[i]), lambda: fp32_net(photos[0], styles[0])),
                "int8": (lambda i: int8_net(photos[i], styles[i]), lambda: int8_net(photos[0], styles[0])),
            },
            refs,
            evaluator,
            args.repeats,
        )

        # the AdaIN decoder (the encoder stays fp32: it is the frozen VGG-19)
        enc_path, dec_path = export_adain(tmp / "adain")
        adain = OnnxAdaIN(tmp / "adain", threads=args.threads)
        dec_feeds = []
        for p, s in zip(calib_photos, calib_styles):
            mean, std = adain.style_stats(read_array(s, size=512).rgb)
            dec_feeds.append(
                {
                    "features": adain.encode(read(p)),
                    "style_mean": mean,
                    "style_std": std,
                    "alpha": np.array(1.0, np.float32),
                }
            )
        int8_dir = tmp / "adain_int8"
        int8_dir.mkdir()
        (int8_dir / "encoder.onnx").write_bytes(enc_path.read_bytes())
        _quantize(dec_path, int8_dir / "decoder.onnx", dec_feeds)
        adain8 = OnnxAdaIN(int8_dir, threads=args.threads)
        stats = [adain.style_stats(read_array(s, size=512).rgb) for s in test_styles[: len(photos)]]
        refs = [(_tensor(ph), _tensor(read(s))) for ph, s in zip(photos, test_styles)]
        rows += _compare(
            "AdaIN decoder",
            {
                "fp32": (lambda i: adain(photos[i], stats[i]), lambda: adain(photos[0], stats[0])),
                "int8": (lambda i: adain8(photos[i], stats[i]), lambda: adain8(photos[0], stats[0])),
            },
            refs,
            evaluator,
            args.repeats,
        )
        sizes = {
            "built-in fp32": fast_fp32.stat().st_size,
            "built-in int8": (tmp / "fast_int8.onnx").stat().st_size,
            "decoder fp32": dec_path.stat().st_size,
            "decoder int8": (int8_dir / "decoder.onnx").stat().st_size,
        }
    for row in rows:
        if row["variant"] == "int8":
            row["ships"] = row["speed vs fp32"] < 1.0 and row["worst score vs fp32"] <= 1.05
    report["rows"], report["file_bytes"] = rows, sizes
    runner.finish_report(report, args.json)
    print(
        runner.format_table(
            rows,
            [
                "network",
                "variant",
                "s per image",
                "speed vs fp32",
                "max px diff",
                "mean px diff",
                *METRICS,
                "worst score vs fp32",
                "ships",
            ],
            float_fmt=".4g",
        )
    )
    runner.print_notes(notes, args.json)
    return 0


def _tensor(arr):
    import torch

    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()


def _painting(shared: Path, style: str, tmp: Path) -> Path:
    """The painting a built-in style was trained on (its preset's source), else a stand-in."""
    from instyle.presets import list_presets

    source = next((p.source for p in list_presets() if p.name == style), None)
    found = inputs.find_image(shared / "style", source) if source else None
    return found or inputs.sample_paintings(1, tmp / f"painting_{style}")[0]


if __name__ == "__main__":
    sys.exit(main())
