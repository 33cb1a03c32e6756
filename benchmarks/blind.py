#!/usr/bin/env python
"""Blind side-by-side judging: do people prefer one method's pictures to another's?

Published style-transfer work is judged by blind, randomized two-alternative choices (AdaIN,
SANet, AdaAttN, StyTr² all report preference rates); automatic scores are trusted only as far as
they agree with such judgments. This script makes the sheets, keeps the key apart, and scores the
answers:

``make``: for every pair present in both output folders (files ``<content>__<style>.png``, as
``benchmarks/adain_quality.py`` and ``fast.py`` write them), one sheet: the photo and the painting
on top, the two results below as **A** and **B**, left/right drawn at random (``--seed``). Writes
the sheets and ``questions.md`` (what to answer, an answers template) into ``--out``, and the key
(which method is A on which sheet) to ``--key``, a separate file the judges are not given.

``score``: reads one or more answers files (CSV: ``sheet, overall, style, content, artefacts``
with A or B in each, optional ``defects_A``, ``defects_B`` free text, ``judge``), un-blinds them
with the key, and reports per criterion how often each method was preferred, per pair the
majority, and how often a defect was named for each method. With ``--scores`` (a benchmark report
whose ``rows`` have ``method``, ``content_name``, ``style_name`` and scores, lower is better) it
also reports how often each score picks the side the judges preferred overall: a score is a
target only if it agrees with the eye.

Usage::

    python benchmarks/blind.py make --a light=out/q/light --b peer=out/q/peer --out out/sheets \\
        --key out/keys/light_vs_peer.json --seed 1
    python benchmarks/blind.py score --key out/keys/light_vs_peer.json --answers out/answers/*.csv \\
        --scores benchmarks/results/adain_quality.json --json benchmarks/results/blind_light_vs_peer.json
    python benchmarks/blind.py --smoke    # makes and scores generated sheets with synthetic answers
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, runner

#: What the judges answer for each sheet, in this order (each A or B).
CRITERIA = ("overall", "style", "content", "artefacts")
QUESTIONS = {
    "overall": "Which result would you rather keep?",
    "style": "Which carries the painting's look better (palette, brushwork, texture)?",
    "content": "Which keeps the photo's subject better (shapes, faces, objects recognisable)?",
    "artefacts": "Which has fewer defects (grids, checkerboards, halos, smears, colour casts, noise)?",
}
SIDES = ("A", "B")
#: Kinds of defect, told by words in the judges' free text (a phrase may name several kinds).
DEFECT_KINDS = {
    "grid": ("grid", "checker", "lattice", "tile", "tiling", "banding", "blocky"),
    "noise": ("noise", "speckle", "stipple", "grain", "hatch", "crosshatch"),
    "colour": ("cast", "muted", "washed", "palette", "dull", "desaturat", "sepia", "grey", "gray", "pale"),
    "halo": ("halo", "ringing", "double edge", "doubled", "fringe", "glow"),
    "smear": ("smear", "blur", "melt", "blob", "mush", "muddy", "smudge"),
    "border": ("border", "frame", "edge band", "vignette"),
    "subject lost": ("lost", "erase", "unrecognis", "unrecogniz", "buried", "gone", "disappear", "illegible"),
    "face": ("face", "eye", "mouth", "nose"),
}
SEP = "__"  # output file names: <content stem>__<style stem>.png
RESULT_SIDE = 512  # results are shown with this longer side: what a user looks at
SOURCE_SIDE = 256  # photo and painting on top


def pair_files(folder: Path) -> dict[tuple[str, str], Path]:
    """{(content stem, style stem): file} of the outputs in ``folder``."""
    out = {}
    for f in sorted(folder.iterdir()):
        if f.suffix.lower() in inputs.IMAGE_SUFFIXES and SEP in f.stem:
            content, style = f.stem.split(SEP, 1)
            out[(content, style)] = f
    return out


def _fit(im, side: int):
    from PIL import Image

    im = im.convert("RGB")
    scale = side / max(im.size)
    return im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)


def draw_sheet(photo: Path, painting: Path, left: Path, right: Path, title: str, result_side: int = RESULT_SIDE):
    """One sheet (PIL image): photo and painting on top, the two results below labelled A and B,
    with their longer side ``result_side`` (1024: judged at the size they were made)."""
    from PIL import Image, ImageDraw

    from instyle.sheet import font

    top = [_fit(Image.open(p), SOURCE_SIDE) for p in (photo, painting)]
    results = [_fit(Image.open(p), result_side) for p in (left, right)]
    pad, label_h = 12, 34
    width = max(sum(r.width for r in results) + 3 * pad, sum(t.width for t in top) + 3 * pad)
    top_h = max(t.height for t in top)
    res_h = max(r.height for r in results)
    sheet = Image.new("RGB", (width, label_h + top_h + pad + label_h + res_h + pad), "white")
    draw = ImageDraw.Draw(sheet)
    f_small, f_big = font(18), font(28)
    x = pad
    for im, text in zip(top, ("photo", "painting")):
        draw.text((x, 6), text, fill="black", font=f_small)
        sheet.paste(im, (x, label_h))
        x += im.width + pad
    draw.text((x + pad, 6), title, fill="gray", font=f_small)
    y = label_h + top_h + pad
    x = pad
    for im, side in zip(results, SIDES):
        draw.text((x, y + 2), side, fill="black", font=f_big)
        sheet.paste(im, (x, y + label_h))
        x += im.width + pad
    return sheet


def make(
    a: tuple[str, Path],
    b: tuple[str, Path],
    out: Path,
    key_path: Path,
    seed: int,
    contents_dir: Path,
    styles_dir: Path,
    limit: int | None = None,
    judges: int = 1,
    result_side: int = RESULT_SIDE,
) -> dict[str, Any]:
    """Write the sheets, ``questions.md`` and the key; return the key. With ``judges`` > 1 the
    sheets are dealt into folders ``judge_1`` … (consecutive shares of the shuffled order), each
    with its own ``questions.md``."""
    (name_a, dir_a), (name_b, dir_b) = a, b
    fa, fb = pair_files(dir_a), pair_files(dir_b)
    pairs = sorted(set(fa) & set(fb))
    if not pairs:
        raise SystemExit(f"error: no output present in both {dir_a} and {dir_b} (files CONTENT{SEP}STYLE.png)")
    rng = random.Random(seed)
    rng.shuffle(pairs)  # sheet order tells nothing either
    pairs = pairs[:limit] if limit else pairs
    out.mkdir(parents=True, exist_ok=True)
    key: dict[str, Any] = {"methods": [name_a, name_b], "seed": seed, "sheets": {}}
    for k, (content, style) in enumerate(pairs, start=1):
        photo, painting = inputs.find_image(contents_dir, content), inputs.find_image(styles_dir, style)
        if photo is None or painting is None:
            raise SystemExit(f"error: {content!r} or {style!r} not found in {contents_dir} / {styles_dir}")
        swap = rng.random() < 0.5
        left, right = (
            (fb[(content, style)], fa[(content, style)]) if swap else (fa[(content, style)], fb[(content, style)])
        )
        sheet_id = f"sheet_{k:03d}"
        # PNG: lossless, so no JPEG artefacts of the sheet's own are judged
        draw_sheet(photo, painting, left, right, sheet_id, result_side).save(out / f"{sheet_id}.png")
        key["sheets"][sheet_id] = {
            "content": content,
            "style": style,
            "A": name_b if swap else name_a,
            "B": name_a if swap else name_b,
        }
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_text(json.dumps(key, indent=2) + "\n")
    sheet_ids = list(key["sheets"])
    share = -(-len(sheet_ids) // max(1, judges))
    for j in range(max(1, judges)):
        mine = sheet_ids[j * share : (j + 1) * share]
        folder = out if judges <= 1 else out / f"judge_{j + 1}"
        folder.mkdir(parents=True, exist_ok=True)
        if judges > 1:
            for sid in mine:
                (out / f"{sid}.png").rename(folder / f"{sid}.png")
        (folder / "questions.md").write_text(questions(mine))
    return key


def questions(sheet_ids: Sequence[str]) -> str:
    """The judges' instructions with an answers template for ``sheet_ids``."""
    header = ",".join(["sheet", *CRITERIA, "defects_A", "defects_B"])
    lines = [
        "# Which picture is better?",
        "",
        "Each sheet shows a photo and a painting on top, and below them two attempts (A and B) to paint "
        "the photo in the painting's style. For each sheet answer A or B to each question (no ties):",
        "",
        *[f"* **{c}**: {q}" for c, q in QUESTIONS.items()],
        "",
        "Then name the defects you see in each result (`defects_A`, `defects_B`; empty or `none` if none).",
        "",
        "Answers as CSV, one row per sheet:",
        "",
        "```",
        header,
        *[f"{sid},,,,,," for sid in sheet_ids],
        "```",
    ]
    return "\n".join(lines) + "\n"


def read_answers(paths: Iterable[Path]) -> list[dict[str, str]]:
    """Rows of every answers file (``judge`` defaults to the file's stem); cells A/B checked."""
    rows = []
    for path in paths:
        with open(path, newline="", encoding="utf-8-sig") as f:
            for i, r in enumerate(csv.DictReader(f), start=2):
                r = {k.strip(): (v or "").strip() for k, v in r.items() if k}
                if not r.get("sheet"):
                    continue
                for c in CRITERIA:
                    r[c] = r.get(c, "").upper()
                    if r[c] not in SIDES:
                        raise SystemExit(f"error: {path} line {i}: {c} must be A or B, got {r[c]!r}")
                r.setdefault("judge", path.stem)
                r["judge"] = r["judge"] or path.stem
                rows.append(r)
    return rows


def _named(text: str) -> bool:
    return bool(text) and text.strip().lower() not in ("none", "no", "-", "n/a", "")


def defect_kinds(text: str) -> list[str]:
    """The :data:`DEFECT_KINDS` a judge's defect text names."""
    low = text.lower()
    return [kind for kind, words in DEFECT_KINDS.items() if any(w in low for w in words)] if _named(text) else []


def score(
    key: Mapping[str, Any], answers: Sequence[Mapping[str, str]], scores: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Preference rates per criterion and method, per-pair majorities, defect rates and, with
    ``scores``, each score's agreement with the pairs' overall majority."""
    methods = key["methods"]
    sheets = key["sheets"]
    unknown = sorted({a["sheet"] for a in answers} - set(sheets))
    if unknown:
        raise SystemExit(f"error: answers for sheets not in the key: {', '.join(unknown[:5])}")
    votes: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))  # sheet -> crit -> method
    defects: dict[str, Counter] = {m: Counter() for m in methods}
    kinds: dict[str, Counter] = {m: Counter() for m in methods}
    defect_texts: dict[str, list[str]] = {m: [] for m in methods}
    for a in answers:
        s = sheets[a["sheet"]]
        for c in CRITERIA:
            votes[a["sheet"]][c][s[a[c]]] += 1
        for side in SIDES:
            text = a.get(f"defects_{side}", "")
            defects[s[side]]["judged"] += 1
            kinds[s[side]].update(defect_kinds(text))
            if _named(text):
                defects[s[side]]["named"] += 1
                defect_texts[s[side]].append(f"{a['sheet']}: {text}")
    judgments = {c: Counter() for c in CRITERIA}
    majority = {c: Counter() for c in CRITERIA}
    pairs = []
    for sid in sorted(votes):
        # the criteria "content" and "style" are columns too: the pair's images go under *_name
        row: dict[str, Any] = {"sheet": sid, "content_name": sheets[sid]["content"], "style_name": sheets[sid]["style"]}
        for c in CRITERIA:
            judgments[c].update(votes[sid][c])
            (top, n_top), *rest = votes[sid][c].most_common() + [(None, 0)]
            winner = top if not rest or rest[0][1] < n_top else "tie"
            majority[c][winner] += 1
            row[c] = winner
            row[f"{c}_votes"] = dict(votes[sid][c])
        pairs.append(row)
    n_pairs = len(pairs)
    rates = {
        c: {
            m: {
                "judgments": judgments[c][m],
                "of_judgments": sum(judgments[c].values()),
                "pairs_won": majority[c][m],
                "pairs": n_pairs,
                "rate": judgments[c][m] / max(1, sum(judgments[c].values())),
            }
            for m in methods
        }
        for c in CRITERIA
    }
    report: dict[str, Any] = {
        "methods": methods,
        "judges": sorted({a["judge"] for a in answers}),
        "pairs": n_pairs,
        "judgments": len(answers),
        "preference": rates,
        "ties": {c: majority[c]["tie"] for c in CRITERIA},
        "defects_named": {
            m: {
                "named": defects[m]["named"],
                "judged": defects[m]["judged"],
                "rate": defects[m]["named"] / max(1, defects[m]["judged"]),
                "by_kind": {k: kinds[m][k] for k in DEFECT_KINDS},
                "by_kind_rate": {k: kinds[m][k] / max(1, defects[m]["judged"]) for k in DEFECT_KINDS},
                "texts": defect_texts[m],
            }
            for m in methods
        },
        "per_pair": pairs,
        # overall judgments per painting and per photo (a default chosen per style reads the first)
        **{
            f"overall_by_{field}": {
                name: {m: n[m] for m in methods} for name, n in sorted(_tally(votes, sheets, field).items())
            }
            for field in ("style", "content")
        },
    }
    if scores is not None:
        report["score_agreement"] = agreement(pairs, methods, scores)
    return report


def _tally(votes: Mapping[str, Mapping[str, Counter]], sheets: Mapping[str, Any], field: str) -> dict[str, Counter]:
    """Overall judgments per method, summed over the sheets that share ``field`` (style or content)."""
    out: dict[str, Counter] = defaultdict(Counter)
    for sid, v in votes.items():
        out[sheets[sid][field]].update(v["overall"])
    return out


def agreement(
    pairs: Sequence[Mapping[str, Any]], methods: Sequence[str], scores: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """For each score column: on how many pairs with a clear overall majority the method with the
    lower score is the one preferred."""

    def names(r: Mapping[str, Any]) -> tuple[Any, Any]:
        # benchmark rows name the pair; `instyle evaluate` rows give the image paths
        if "content_name" in r:
            return r.get("content_name"), r.get("style_name")
        return Path(str(r.get("content_image"))).stem, Path(str(r.get("style_image"))).stem

    by = {(r.get("method"), *names(r)): r for r in scores}
    metric_names = sorted(
        {k for r in scores for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        - {"ci", "si", "seconds"}
    )
    out = {}
    for metric in metric_names:
        agree = total = 0
        for p in pairs:
            if p["overall"] not in methods:
                continue
            rs = [by.get((m, p["content_name"], p["style_name"])) for m in methods]
            if any(r is None or r.get(metric) is None for r in rs):
                continue
            v0, v1 = rs[0][metric], rs[1][metric]
            if v0 == v1:
                continue
            predicted = methods[0] if v0 < v1 else methods[1]
            agree += predicted == p["overall"]
            total += 1
        if total:
            out[metric] = {"agree": agree, "pairs": total, "rate": agree / total}
    return out


def print_report(report: Mapping[str, Any]) -> None:
    methods = report["methods"]
    table = []
    for c in CRITERIA:
        row = {"criterion": c}
        for m in methods:
            r = report["preference"][c][m]
            row[m] = f"{r['pairs_won']}/{r['pairs']} pairs, {r['judgments']}/{r['of_judgments']} votes"
        row["ties"] = report["ties"][c]
        table.append(row)
    print(runner.format_table(table, ["criterion", *methods, "ties"]))
    print(
        "defects named: "
        + ", ".join(f"{m} {d['named']}/{d['judged']}" for m, d in report["defects_named"].items())
        + f" (judges: {', '.join(report['judges'])})"
    )
    rows = [
        {"defect": k, **{m: f"{d['by_kind'][k]}/{d['judged']}" for m, d in report["defects_named"].items()}}
        for k in DEFECT_KINDS
    ]
    print("\ndefects named, by kind (results whose defect text names it):")
    print(runner.format_table(rows, ["defect", *methods]))
    if report.get("score_agreement"):
        rows = [
            {"score": k, "agrees": f"{v['agree']}/{v['pairs']}", "rate": v["rate"]}
            for k, v in report["score_agreement"].items()
        ]
        print("\nagreement of each score (lower = better) with the judges' overall choice:")
        print(runner.format_table(sorted(rows, key=lambda r: -r["rate"]), ["score", "agrees", "rate"], float_fmt=".2f"))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = runner.parser("blind", "Blind side-by-side sheets (make) and preference rates from the answers (score).")
    runner.add_run_args(p, smoke={}, threads="unused (no tensor work); accepted like every benchmark's")
    sub = p.add_subparsers(dest="cmd")
    m = sub.add_parser("make", help="write randomized A/B sheets and a separate key")
    m.add_argument("--a", required=True, metavar="NAME=DIR", help="first method: name and its output folder")
    m.add_argument("--b", required=True, metavar="NAME=DIR", help="second method: name and its output folder")
    m.add_argument("--out", type=Path, required=True, help="folder for the sheets and questions.md (give it to judges)")
    m.add_argument("--key", type=Path, required=True, help="the key (JSON): keep it away from the judges")
    m.add_argument("--seed", type=int, default=0, help="seed of the left/right draw and the sheet order")
    m.add_argument("--limit", type=int, default=None, help="at most this many sheets")
    m.add_argument("--judges", type=int, default=1, help="deal the sheets into this many judge_K folders")
    m.add_argument(
        "--result-side",
        type=int,
        default=RESULT_SIDE,
        help=f"longer side of the results on a sheet (default {RESULT_SIDE}; 1024 shows 1024-px results at full size)",
    )
    m.add_argument("--contents", type=Path, default=inputs.SHARED_IMAGES / "content", help="folder of the photos")
    m.add_argument("--styles", type=Path, default=inputs.SHARED_IMAGES / "style", help="folder of the paintings")
    s = sub.add_parser("score", help="un-blind answers with the key and report preference rates")
    s.add_argument("--key", type=Path, required=True)
    s.add_argument("--answers", type=Path, nargs="+", required=True, help="answers CSV files (one per judge)")
    s.add_argument(
        "--scores",
        type=Path,
        nargs="+",
        default=None,
        help="reports with per-pair score rows (benchmarks' JSON, or `instyle evaluate -o` JSON)",
    )
    s.add_argument("--json", type=Path, default=None, help="where to write the report (default: print only)")
    args = p.parse_args(argv)
    if not args.smoke and args.cmd is None:
        p.error("choose make or score (or --smoke)")
    if args.smoke and args.json is None:
        args.json = Path(tempfile.mkdtemp(prefix="instyle-bench-blind-")) / "blind.json"
    return args


def _named_dir(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name or not Path(folder).is_dir():
        raise SystemExit(f"error: expected NAME=FOLDER with an existing folder, got {text!r}")
    return name, Path(folder)


def smoke(json_path: Path) -> int:
    """Generated photos, paintings and two 'methods' (the painting blended into the photo at two
    strengths); answers that always prefer the stronger one; checks that the score un-blinds them."""
    import numpy as np
    from PIL import Image

    tmp = Path(tempfile.mkdtemp(prefix="instyle-bench-blind-"))
    photos = inputs.sample_photos(3, tmp / "c")
    paintings = inputs.sample_paintings(2, tmp / "s")
    rows = []
    for ph in photos:
        for pa in paintings:
            x = np.asarray(Image.open(ph).convert("RGB").resize((64, 48)), dtype=np.float32)
            y = np.asarray(Image.open(pa).convert("RGB").resize((64, 48)), dtype=np.float32)
            for name, w in (("strong", 0.8), ("weak", 0.2)):
                d = tmp / name
                d.mkdir(exist_ok=True)
                Image.fromarray((w * y + (1 - w) * x).astype(np.uint8)).save(d / f"{ph.stem}{SEP}{pa.stem}.png")
                rows.append({"method": name, "content_name": ph.stem, "style_name": pa.stem, "closeness": 1 - w})
    key = make(
        ("strong", tmp / "strong"),
        ("weak", tmp / "weak"),
        tmp / "sheets",
        tmp / "key.json",
        0,
        photos[0].parent,
        tmp / "s",
    )
    answers = tmp / "judge.csv"
    with open(answers, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sheet", *CRITERIA, "defects_A", "defects_B"])
        for sid, s in key["sheets"].items():
            side = "A" if s["A"] == "strong" else "B"
            w.writerow([sid, side, side, side, side, *(("", "blur") if side == "A" else ("blur", ""))])
    report = score(key, read_answers([answers]), rows)
    print_report(report)
    ok = (
        report["preference"]["overall"]["strong"]["pairs_won"] == len(key["sheets"])
        and report["score_agreement"]["closeness"]["rate"] == 1.0
        and report["defects_named"]["weak"]["named"] == len(key["sheets"])
    )
    print(f"smoke: {len(key['sheets'])} sheets in {tmp / 'sheets'}; un-blinded {'correctly' if ok else 'WRONGLY'}")
    full = runner.new_report("blind", "do judges prefer one method's pictures? (smoke: synthetic answers)")
    full.update(report, settings={"smoke": True, "sheets": str(tmp / "sheets")})
    runner.finish_report(full, json_path, complete=ok)
    runner.print_notes(full["notes"], json_path)
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.smoke:
        return smoke(args.json)
    if args.cmd == "make":
        key = make(
            _named_dir(args.a),
            _named_dir(args.b),
            args.out,
            args.key,
            args.seed,
            args.contents,
            args.styles,
            args.limit,
            args.judges,
            args.result_side,
        )
        print(f"wrote {len(key['sheets'])} sheets and questions.md to {args.out}; key: {args.key}")
        return 0
    key = json.loads(args.key.read_text())
    scores = [r for f in args.scores for r in json.loads(f.read_text())["rows"]] if args.scores else None
    report = score(key, read_answers(args.answers), scores)
    print_report(report)
    if args.json:
        full = runner.new_report("blind", "do judges prefer one method's pictures? (blind A/B sheets)")
        full.update(report, settings={"key": str(args.key), "answers": [str(a) for a in args.answers]})
        runner.finish_report(full, args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
