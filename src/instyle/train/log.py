"""Training logs: a CSV of losses per logged step and a loss-plot PNG drawn from it."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from ..atomic import write_text, write_with
from ..sheet import font

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


class CsvLog:
    """Append-only CSV with a fixed header; on resume, rows after the resumed step are dropped
    (they belong to steps that will be run again)."""

    def __init__(self, path: Path, columns: Sequence[str], *, resume_step: int | None = None):
        self.path, self.columns = path, list(columns)
        self.rows: list[dict[str, float]] = []
        if resume_step is not None and path.exists():
            self.rows = [r for r in read_log(path) if r.get("step", math.inf) <= resume_step]
        text = io.StringIO()
        w = csv.DictWriter(text, self.columns, extrasaction="ignore")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: _fmt(r.get(k)) for k in self.columns})
        write_text(path, text.getvalue(), overwrite=True, what="training log")

    def append(self, row: dict[str, float]) -> None:
        self.rows.append(dict(row))
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, self.columns, extrasaction="ignore").writerow({k: _fmt(row.get(k)) for k in self.columns})


def _fmt(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def read_log(path: Path) -> list[dict[str, float]]:
    """Rows of a training CSV as floats (empty cells left out); a torn last line is ignored."""
    rows: list[dict[str, float]] = []
    with open(path, newline="", encoding="utf-8") as f:
        text = f.read()
    if not text.endswith("\n"):  # a write cut short: its numbers may parse but are truncated
        text = text[: text.rfind("\n") + 1]
    if text:
        for raw in csv.DictReader(io.StringIO(text, newline="")):
            row: dict[str, float] = {}
            try:
                for k, v in raw.items():
                    if k and v not in (None, ""):
                        row[k] = float(v)
            except ValueError:
                continue
            if "step" in row:
                rows.append(row)
    return rows


def _ema(values: list[float], beta: float) -> list[float]:
    out, m = [], None
    for v in values:
        m = v if m is None else beta * m + (1 - beta) * v
        out.append(m)
    return out


def plot_losses(
    rows: Sequence[dict[str, float]], columns: Sequence[str], *, title: str = "", size=(900, 520)
) -> Image.Image:
    """Loss curves (log scale, light raw values under an EMA-smoothed line) as an RGB image."""
    W, H = size
    left, right, top, bottom = 70, 150, 30, 40
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    label_font = font(12)
    d.text((left, 8), title, fill="black", font=label_font)
    series = {c: [(r["step"], r[c]) for r in rows if c in r and r[c] > 0 and math.isfinite(r[c])] for c in columns}
    series = {c: s for c, s in series.items() if s}
    d.rectangle([left, top, W - right, H - bottom], outline="black")
    if not series:
        d.text((left + 10, top + 10), "no data yet", fill="black", font=label_font)
        return img
    xs = [x for s in series.values() for x, _ in s]
    ys = [math.log10(y) for s in series.values() for _, y in s]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = (
        math.floor(min(ys)),
        math.ceil(max(ys)) if math.ceil(max(ys)) > math.floor(min(ys)) else math.floor(min(ys)) + 1,
    )
    px = lambda x: left + (x - x0) / (x1 - x0) * (W - right - left)  # noqa: E731
    py = lambda y: H - bottom - (y - y0) / (y1 - y0) * (H - bottom - top)  # noqa: E731
    for e in range(int(y0), int(y1) + 1):
        y = py(e)
        d.line([left, y, W - right, y], fill="#dddddd")
        d.text((8, y - 7), f"1e{e}", fill="black", font=label_font)
    for i in range(5):
        x = x0 + (x1 - x0) * i / 4
        d.text((px(x) - 15, H - bottom + 6), f"{int(x)}", fill="black", font=label_font)
    d.text(((W - right) // 2, H - 18), "step", fill="black", font=label_font)
    beta = min(0.98, 1 - 5 / max(10, len(xs) / max(1, len(series))))
    for i, (name, s) in enumerate(series.items()):
        color = _COLORS[i % len(_COLORS)]
        pts = [(px(x), py(math.log10(y))) for x, y in s]
        light = tuple((int(color[k : k + 2], 16) + 2 * 255) // 3 for k in (1, 3, 5))
        if len(pts) > 1:
            d.line(pts, fill=light, width=1)
            smooth = _ema([math.log10(y) for _, y in s], beta)
            d.line([(px(x), py(v)) for (x, _), v in zip(s, smooth)], fill=color, width=2)
        else:
            d.ellipse([pts[0][0] - 2, pts[0][1] - 2, pts[0][0] + 2, pts[0][1] + 2], fill=color)
        d.text((W - right + 10, top + 10 + 18 * i), f"{name} {s[-1][1]:.3g}", fill=color, font=label_font)
    return img


def save_plot(path: Path, rows: Sequence[dict[str, float]], columns: Sequence[str], title: str) -> None:
    img = plot_losses(rows, columns, title=title)
    write_with(path, lambda f: img.save(f, format="PNG"), overwrite=True, what="loss plot")
