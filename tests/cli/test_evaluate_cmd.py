"""``instyle evaluate``: scores, table, JSON file (atomic, no silent overwrite), --pairs CSV."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from ._helpers import run_cli

pytestmark = pytest.mark.slow  # VGG-19

HEADER = "method  style  color  content  gram  content_raw  style_mean_std  style_gram"
METRICS = HEADER.split()[1:]
CONTENT = HEADER.split().index("content")  # the balanced content score's column


def assert_one_line_error(err: str) -> None:
    assert "Traceback" not in err, err
    assert err.startswith("instyle: error:"), err
    assert err.endswith("\n") and err.count("\n") == 1, err


@pytest.fixture(scope="module")
def imgs(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("eval")
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:36, 0:48]
    content = np.stack([x * 5, y * 7, (x + y) * 3], axis=2).clip(0, 255).astype(np.uint8)
    Image.fromarray(content).save(d / "content.png")
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(d / "style.png")
    shutil.copy(d / "content.png", d / "out.png")  # an "output" identical to the content
    Image.fromarray(255 - content).save(d / "other.png")
    return {n: d / n for n in ("content.png", "style.png", "out.png", "other.png")}


def test_content_against_itself_scores_zero(imgs, capsys):
    code, out, err = run_cli(
        [
            "evaluate",
            imgs["content.png"],
            "--content",
            imgs["content.png"],
            "--style",
            imgs["style.png"],
            "--size",
            "32",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    assert err == ""
    rep = json.loads(out)
    assert rep["size"] == 32
    assert rep["metrics"] == METRICS
    (row,) = rep["rows"]
    assert row["method"] == "content"
    # Both the content path and the content score survive in the row (neither overwrites the other).
    assert row["output"] == row["content_image"] == str(imgs["content.png"])
    assert row["style_image"] == str(imgs["style.png"])
    assert row["content"] == row["content_raw"] == 0.0
    assert all(row[m] > 0 for m in ("style", "color", "gram", "style_mean_std", "style_gram"))
    assert rep["mean"]["content"] == 0.0


def test_table_and_json_file_not_overwritten(imgs, tmp_path, capsys):
    dst = tmp_path / "res" / "scores.json"
    argv = [
        "evaluate",
        imgs["out.png"],
        imgs["other.png"],
        "--content",
        imgs["content.png"],
        "--style",
        imgs["style.png"],
        "--size",
        "32",
        "-o",
        dst,
    ]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == HEADER.split()  # column widths follow the values
    assert set(lines[1]) <= {"-", " "}
    assert [ln.split()[0] for ln in lines[2:5]] == ["out", "other", "mean"]
    assert float(lines[2].split()[CONTENT]) == 0.0
    assert float(lines[3].split()[CONTENT]) > 0.0  # the inverted image is far from the content
    assert all(len(ln.split()) == 1 + len(METRICS) for ln in lines[2:5])  # every score in the table
    assert lines[-1] == f"wrote {dst}"
    rep = json.loads(dst.read_text())
    assert [r["method"] for r in rep["rows"]] == ["out", "other"]
    assert rep["rows"][0]["content"] == 0.0
    assert rep["mean"]["content"] == pytest.approx(rep["rows"][1]["content"] / 2)
    assert [p.name for p in dst.parent.iterdir()] == ["scores.json"]  # no temp file left

    dst.write_text("keep me")
    code, out, err = run_cli(argv, capsys)
    assert code in (1, 2)
    assert_one_line_error(err)
    assert "--overwrite" in err
    assert dst.read_text() == "keep me"
    assert out == ""

    code, out, err = run_cli([*argv, "--overwrite", "--json"], capsys)
    assert code == 0, err
    assert json.loads(dst.read_text()) == json.loads(out)
    assert [p.name for p in dst.parent.iterdir()] == ["scores.json"]


def test_pairs_csv_method_column_stem_fallback_and_excel_bom(imgs, tmp_path, capsys):
    csv = tmp_path / "runs.csv"
    csv.write_bytes(
        (
            "\ufeffmethod,output,content,style\n"
            f"identity,{imgs['out.png']},{imgs['content.png']},{imgs['style.png']}\n"
            f",{imgs['other.png']},{imgs['content.png']},{imgs['style.png']}\n"
        ).encode()
    )
    code, out, err = run_cli(["evaluate", "--pairs", csv, "--size", "32", "--json"], capsys)
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert [r["method"] for r in rows] == ["identity", "other"]  # empty method -> the output's stem
    assert rows[0]["content"] == 0.0 and rows[1]["content"] > 0


@pytest.mark.parametrize(
    "text",
    [
        "output,content\na.png,b.png\n",  # missing the style column
        "",  # empty file
        "output,content,style\n",  # header only
        "output,content,style\n{out},{content}\n",  # short row
        "output,content,style\n{out},,{style}\n",  # empty cell
    ],
    ids=["missing-column", "empty", "header-only", "short-row", "empty-cell"],
)
def test_bad_pairs_csv(imgs, tmp_path, capsys, text):
    csv = tmp_path / "runs.csv"
    csv.write_text(text.format(out=imgs["out.png"], content=imgs["content.png"], style=imgs["style.png"]))
    code, out, err = run_cli(["evaluate", "--pairs", csv, "--size", "32"], capsys)
    assert code == 1
    assert_one_line_error(err)
    assert "runs.csv" in err
    assert out == ""


def test_missing_pairs_file(tmp_path, capsys):
    code, _, err = run_cli(["evaluate", "--pairs", tmp_path / "nope.csv", "--size", "32"], capsys)
    assert code == 1
    assert_one_line_error(err)


def test_pairs_csv_naming_missing_image(imgs, tmp_path, capsys):
    csv = tmp_path / "runs.csv"
    csv.write_text(f"output,content,style\n{tmp_path / 'gone.png'},{imgs['content.png']},{imgs['style.png']}\n")
    dst = tmp_path / "scores.json"
    code, _, err = run_cli(["evaluate", "--pairs", csv, "--size", "32", "-o", dst], capsys)
    assert code == 1
    assert_one_line_error(err)
    assert "gone.png" in err
    assert not dst.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["{out}", "--style", "{style}"],  # missing --content
        ["{out}", "--content", "{content}"],  # missing --style
        ["--content", "{content}", "--style", "{style}"],  # no outputs
        ["{out}", "--content", "{content}", "--style", "{style}", "--pairs", "x.csv"],  # both forms
        ["{out}", "--content", "{content}", "--style", "{style}", "--size", "8"],
    ],
    ids=["no-content", "no-style", "no-outputs", "pairs-and-args", "size-too-small"],
)
def test_usage_errors(imgs, capsys, argv):
    keys = {"out": imgs["out.png"], "content": imgs["content.png"], "style": imgs["style.png"]}
    size = [] if "--size" in argv else ["--size", "32"]
    code, out, err = run_cli(["evaluate", *[a.format(**keys) for a in argv], *size], capsys)
    assert code == 2
    assert_one_line_error(err)
    assert out == ""


def test_bad_image_is_input_error(imgs, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    code, _out, err = run_cli(
        ["evaluate", bad, "--content", imgs["content.png"], "--style", imgs["style.png"], "--size", "32"], capsys
    )
    assert code == 1
    assert_one_line_error(err)
    assert "bad.png" in err


def test_small_evaluation_size(imgs, capsys):
    """--size 16 on a 48x36 image: 16x12, whose relu5_1 level would be 0 px without care."""
    code, out, err = run_cli(
        [
            "evaluate",
            imgs["other.png"],
            "--content",
            imgs["content.png"],
            "--style",
            imgs["style.png"],
            "--size",
            "16",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    row = json.loads(out)["rows"][0]
    assert all(row[m] > 0 and row[m] < float("inf") for m in METRICS)
