"""``instyle demo``: the zero-argument job on scikit-image's sample photos (tiny size here)."""

from __future__ import annotations

import importlib.util
import json

import pytest
from PIL import Image

from ._helpers import run_cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("skimage") is None, reason="the demo needs scikit-image's sample images"
    ),
]  # slow: the shipped networks at 512 px

# chelsea.png (451x300) becomes 32x21: its relu5_1 map is 1 px high (reflect padding must cope).
ARGS = ["--method", "optimize", "--size", "32", "--steps", "2", "-q"]


def test_demo_default_is_a_sheet_of_built_in_styles(tmp_path, capsys):
    dst = tmp_path / "out" / "demo.png"
    code, out, err = run_cli(
        ["demo", "--size", "64", "--style", "starry_night", "--style", "wave", "-q", "-o", dst, "--json"], capsys
    )
    assert code == 0, err
    res = json.loads(out)
    from instyle.method import choose_method

    assert res["method"] == "auto" and res["styles"] == ["starry_night", "wave"]
    # each style drawn by what `instyle stylize --style NAME` runs
    assert res["methods"] == [choose_method("auto", [s]) for s in res["styles"]]
    with Image.open(dst) as im:
        assert im.format == "PNG"
        # photo + two styles at 64 px wide, one row as tall as the pictures (43 px) under legible labels
        assert im.width > 3 * 64 and 43 + 14 < im.height < 64 + 30
    assert [p.name for p in dst.parent.iterdir()] == ["demo.png"]


def test_demo_method_adain_uses_the_presets(tmp_path, capsys):
    dst = tmp_path / "demo.png"
    code, out, err = run_cli(
        ["demo", "--size", "48", "--style", "mosaic", "--method", "adain", "-q", "-o", dst, "--json"], capsys
    )
    assert code == 0, err
    assert json.loads(out)["method"] == "adain" and dst.is_file()


def test_demo_unknown_style_fails_before_writing(tmp_path, capsys):
    code, _out, err = run_cli(["demo", "--style", "no_such_style", "-q", "-o", tmp_path / "d.png"], capsys)
    assert code == 1
    assert err.startswith("instyle: error:") and "instyle styles" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_demo_writes_and_refreshes_its_output(tmp_path, capsys):
    dst = tmp_path / "out" / "d.png"
    code, out, err = run_cli(["demo", *ARGS, "-o", dst], capsys)
    assert code == 0, err
    assert out.startswith(f"wrote {dst}") and "chelsea.png" in out and "ihc.png" in out
    with Image.open(dst) as im:
        assert im.format == "PNG" and im.size == (32, 21)

    dst.write_bytes(b"stale")  # the demo owns this file: a second run replaces it without --overwrite
    code, out, err = run_cli(["demo", *ARGS, "-o", dst, "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["output"] == str(dst)
    assert res["steps"] == 2
    assert res["content"].endswith("chelsea.png") and res["styles"][0].endswith("ihc.png")
    assert res["seconds"] >= 0
    with Image.open(dst) as im:
        assert im.size == (32, 21)
    assert [p.name for p in dst.parent.iterdir()] == ["d.png"]  # no temp file left


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--size", "0"], 2),
        (["--steps", "0"], 2),
        (["--steps", "x"], 2),
        (["-o", "{tmp}/demo.xyz"], 2),
    ],
)
def test_demo_bad_options(tmp_path, capsys, argv, expected):
    argv = [a.format(tmp=tmp_path) for a in argv]
    code, _out, err = run_cli(["demo", "-q", "-o", tmp_path / "d.png", *argv], capsys)
    assert code == expected
    assert err.startswith("instyle: error:") and err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
