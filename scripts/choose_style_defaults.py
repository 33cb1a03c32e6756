"""Choose, per built-in style, what ``--method auto`` runs: the fast network or the style's AdaIN
preset, whichever people preferred overall in a blind comparison of the two.

    python benchmarks/blind.py score --key KEY --answers A.csv ... --json REPORT   # fast vs preset
    python scripts/choose_style_defaults.py REPORT [REPORT ...] [--fast NAME] [--preset NAME]

Reads the reports' ``overall_by_style`` (judgments per painting, summed over the reports: e.g. one
at 512 px, one at 1024; the paintings are the presets' files, ``scripts/build_presets.py``) and
writes ``src/instyle/assets/style_defaults.json``: a
style goes to AdaIN only where its preset won more overall judgments than the network (a tie
keeps the network: it is several times faster). Prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from instyle.atomic import write_text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from build_presets import PRESETS  # noqa: E402 - the painting file of each built-in style

OUT = ROOT / "src" / "instyle" / "assets" / "style_defaults.json"


def choose(by_style: dict[str, dict[str, int]], fast: str, preset: str) -> dict[str, dict]:
    """style name -> {"method", fast votes, preset votes}, for every built-in style judged."""
    stem_to_name = {Path(file).stem: name for name, file in PRESETS.items()}
    out = {}
    for stem, votes in by_style.items():
        name = stem_to_name.get(stem)
        if name is None:
            raise SystemExit(f"error: {stem!r} is not the painting of a built-in style (scripts/build_presets.py)")
        f, p = votes.get(fast, 0), votes.get(preset, 0)
        out[name] = {"method": "adain" if p > f else "fast", fast: f, preset: p}
    return dict(sorted(out.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "reports", type=Path, nargs="+", help="blind.py score --json reports of the network against the presets"
    )
    ap.add_argument("--fast", default="fast", help="the network's method name in the report (default fast)")
    ap.add_argument("--preset", default="preset", help="the presets' method name in the report (default preset)")
    ap.add_argument("-o", "--output", type=Path, default=OUT)
    args = ap.parse_args(argv)
    by_style: dict[str, dict[str, int]] = {}
    for path in args.reports:
        report = json.loads(path.read_text())
        if set(report["methods"]) != {args.fast, args.preset}:
            raise SystemExit(f"error: {path} compares {report['methods']}, not {args.fast} and {args.preset}")
        for stem, votes in report["overall_by_style"].items():
            total = by_style.setdefault(stem, {})
            for method, n in votes.items():
                total[method] = total.get(method, 0) + n
    chosen = choose(by_style, args.fast, args.preset)
    doc = {
        "methods": {name: c["method"] for name, c in chosen.items()},
        "votes": {name: {k: v for k, v in c.items() if k != "method"} for name, c in chosen.items()},
        "sources": [str(p) for p in args.reports],
    }
    write_text(args.output, json.dumps(doc, indent=2) + "\n", overwrite=True)
    for name, c in chosen.items():
        print(f"{name:16} {c['method']:6} {args.fast} {c[args.fast]:2}  {args.preset} {c[args.preset]:2}")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
