"""Tests for instyle.train.log: the CSV training log (resume, torn lines) and the loss plot."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from instyle.train.log import CsvLog, plot_losses, read_log, save_plot

COLUMNS = ["step", "lr", "loss", "content", "style"]


def _row(step):
    return {"step": step, "lr": 1e-4, "loss": 10.0 / step, "content": 1.0 / step, "style": 0.5 / step}


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_new_log_writes_header_and_rows(tmp_path):
    path = tmp_path / "log.csv"
    log = CsvLog(path, COLUMNS)
    for s in (1, 2, 3):
        log.append({**_row(s), "extra": 5})  # unknown keys are ignored
    assert _lines(path)[0] == ",".join(COLUMNS)
    rows = read_log(path)
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert rows[1] == {"step": 2.0, "lr": 1e-4, "loss": 5.0, "content": 0.5, "style": 0.25}
    assert log.rows[-1]["step"] == 3


def test_resume_drops_rows_after_the_checkpoint(tmp_path):
    path = tmp_path / "log.csv"
    log = CsvLog(path, COLUMNS)
    for s in range(1, 6):
        log.append(_row(s))
    resumed = CsvLog(path, COLUMNS, resume_step=3)
    assert [r["step"] for r in resumed.rows] == [1, 2, 3]
    assert [r["step"] for r in read_log(path)] == [1, 2, 3]
    resumed.append(_row(4))
    assert [r["step"] for r in read_log(path)] == [1, 2, 3, 4]
    assert len(_lines(path)) == 5 and _lines(path)[0] == ",".join(COLUMNS)
    # a fresh run (no resume step) starts the log over
    assert CsvLog(path, COLUMNS).rows == [] and _lines(path) == [",".join(COLUMNS)]


def test_resume_without_a_log_starts_one(tmp_path):
    log = CsvLog(tmp_path / "log.csv", COLUMNS, resume_step=10)
    assert log.rows == [] and _lines(tmp_path / "log.csv") == [",".join(COLUMNS)]


def test_missing_values_are_left_out(tmp_path):
    path = tmp_path / "log.csv"
    CsvLog(path, COLUMNS).append({"step": 1, "loss": 2.0})
    assert read_log(path) == [{"step": 1.0, "loss": 2.0}]


def test_read_log_ignores_a_torn_last_line(tmp_path):
    path = tmp_path / "log.csv"
    log = CsvLog(path, COLUMNS)
    for s in (1, 2, 3):
        log.append(_row(s))
    want = read_log(path)
    full = path.read_bytes()
    row3 = full.rstrip(b"\r\n").rindex(b"\n") + 1  # where row 3 begins
    # the write of row 3 cut short at every byte: rows 1 and 2 survive, row 3 is never half-read
    for cut in range(row3, len(full)):
        path.write_bytes(full[:cut])
        assert read_log(path) == want[:2], full[row3:cut]
    # garbage at the end is ignored as well
    path.write_bytes(full + b"4,1e-4,oops")
    assert read_log(path) == want


def test_resume_after_a_torn_line_rewrites_a_clean_log(tmp_path):
    path = tmp_path / "log.csv"
    log = CsvLog(path, COLUMNS)
    for s in range(1, 12):
        log.append(_row(s))
    path.write_bytes(path.read_bytes() + b"1")  # killed while appending row 12: "1" of "12,..."
    resumed = CsvLog(path, COLUMNS, resume_step=11)  # the checkpoint was at step 11
    resumed.append(_row(12))
    assert [r["step"] for r in read_log(path)] == list(range(1, 13))
    assert read_log(path)[-1]["loss"] == pytest.approx(_row(12)["loss"], rel=1e-5)
    assert len(_lines(path)) == 13


def test_plot_losses_returns_an_image(tmp_path):
    rows = [_row(s) for s in range(1, 200)]
    img = plot_losses(rows, ["loss", "content", "style"], title="adain training", size=(640, 400))
    assert isinstance(img, Image.Image) and img.size == (640, 400) and img.mode == "RGB"
    assert len(img.getcolors(1 << 16)) > 3  # axes, curves, labels
    save_plot(tmp_path / "loss.png", rows, ["loss", "content"], "t")
    with Image.open(tmp_path / "loss.png") as im:
        assert im.format == "PNG" and im.size == (900, 520)


def test_plot_losses_handles_little_or_odd_data():
    cols = ["loss", "content"]
    for rows in (
        [],
        [_row(1)],
        [{"step": 1.0}],
        [_row(5), _row(5)],
        [
            {"step": 1.0, "loss": 0.0},
            {"step": 2.0, "loss": -1.0},
            {"step": 3.0, "loss": math.nan},
            {"step": 4.0, "loss": math.inf},
        ],
        [{"step": s, "loss": 3.0} for s in range(1, 4)],
    ):
        img = plot_losses(rows, cols)
        assert img.size == (900, 520)
