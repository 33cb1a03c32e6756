#!/usr/bin/env python
"""What instance norm removes from the photo, and what it does not (Ulyanov et al. 2016's argument).

Each photo is changed as a camera or an editor would change it, and the fast network's output
change is compared with the photo's: a ratio near 0 means the network ignores that change, near 1
that it passes it through. IN's first layer normalizes each channel of the first conv's features:
a change that maps those features by a per-channel affine map (the same gain on every RGB channel,
with or without an offset: global contrast, brightness) is removed exactly; one that mixes the
channels differently (a white-balance gain per RGB channel) or is not affine (gamma, clipping) is
not. The built-in network (conditional IN, one style at a time) is measured by default.

    python benchmarks/invariance.py                 # the built-in network, 8 held-back photos, 512 px
    python benchmarks/invariance.py --model runs/starry-bn/model.safetensors --style ""   # any fast net
    python benchmarks/invariance.py --smoke
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, runner

NAME = "invariance"
SMOKE = {"photos": 2, "size": 96}

#: name -> what it does to an (H, W, 3) photo in [0, 1], as numpy
CHANGES = {
    "contrast x0.5": "each pixel halfway to the photo's mean (every channel alike)",
    "brightness +0.1": "0.1 added to every channel (clipped at 1)",
    "white balance": "red x1.15, blue x0.85 (a warmer camera setting)",
    "gamma 0.7": "each channel raised to the power 0.7 (shadows lifted)",
    "contrast x2": "each pixel twice as far from the mean (clipped at 0 and 1)",
}


def change(rgb, name: str):
    import numpy as np

    mean = np.float32(rgb.mean())  # one value for every channel: a global contrast change
    if name == "contrast x0.5":
        return mean + 0.5 * (rgb - mean)
    if name == "brightness +0.1":
        return np.clip(rgb + 0.1, 0, 1)
    if name == "white balance":
        return np.clip(rgb * np.array([1.15, 1.0, 0.85], np.float32), 0, 1)
    if name == "gamma 0.7":
        return rgb**0.7
    if name == "contrast x2":
        return np.clip(mean + 2.0 * (rgb - mean), 0, 1)
    raise ValueError(name)


def measure(args) -> list[dict[str, Any]]:
    import numpy as np
    import torch

    from instyle.feedforward import FastStylizer
    from instyle.imageio import load_image

    torch.set_num_threads(args.threads or torch.get_num_threads())
    net = FastStylizer(args.model, precision="fp32")
    style = args.style or None
    photos = _photos(args)
    rows = []
    for name in CHANGES:
        din, dout = [], []
        for p in photos:
            x = load_image(p, size=args.size)[0].permute(1, 2, 0).numpy()  # (H, W, 3)
            y = change(x, name).astype(np.float32)
            t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None]  # noqa: E731
            ox, oy = net(t(x), style), net(t(y), style)
            din.append(float(np.abs(y - x).mean()))
            dout.append(float((oy - ox).abs().mean()))
        rows.append(
            {
                "change": name,
                "what": CHANGES[name],
                "input_change": sum(din) / len(din),
                "output_change": sum(dout) / len(dout),
                "ratio": sum(dout) / max(1e-12, sum(din)),
            }
        )
    return rows


def _photos(args) -> list[Path]:
    folder = inputs.SHARED_IMAGES / "content"
    names = ["adain_golden_gate", "adain_chicago", "adaattn_tubingen", "adain_sailboat", "adain_blonde_girl",
             "artflow_kitten", "adain_cornell", "artflow_half_dome_yosemite_national_park"]  # fmt: skip
    found = [inputs.find_image(folder, n) for n in names] if folder.is_dir() else []
    found = [p for p in found if p is not None][: args.photos]
    return found or inputs.sample_photos(args.photos, Path(args.json).parent)


def main(argv=None) -> int:
    p = runner.parser(NAME, __doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="a fast network (default: the built-in one)")
    p.add_argument("--style", default="starry_night", help="its style ('' for a single-style network)")
    p.add_argument("--photos", type=int, default=8, help="held-back photos from ../shared/images/content")
    p.add_argument("--size", type=int, default=512, help="longer side the photos are read at")
    runner.add_run_args(p, smoke=SMOKE)
    args = runner.parse_args(p, argv, NAME, SMOKE, positive=("photos", "size"))
    report = runner.new_report(
        NAME,
        "How much of a change to the photo reaches the output of an instance-norm network?",
        settings={
            "model": args.model or "builtin",
            "style": args.style,
            "photos": args.photos,
            "size": args.size,
            "smoke": args.smoke,
        },
    )
    report["rows"] = measure(args)
    print(runner.format_table(report["rows"], ["change", "input_change", "output_change", "ratio"], float_fmt=".4f"))
    runner.finish_report(report, args.json)
    runner.print_notes(report["notes"], args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
