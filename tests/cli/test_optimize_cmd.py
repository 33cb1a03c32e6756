"""``instyle optimize``: results on disk, JSON, overwrite rules, and bad input handled cleanly.

Bad input must give one ``instyle: error:`` line on stderr, exit 1 (bad file/data) or 2 (bad
usage/option value), no traceback, and no output file. Most runs are in-process and use the
shallowest layer set (``relu1_1`` only) at 32 px so the whole module stays a few seconds.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import run_instyle, smooth_rgb
from instyle.cli.main import main

from ._helpers import run_cli

pytestmark = pytest.mark.slow  # VGG-19

# One VGG conv for content and style: the CLI path is the same, the network work is tiny.
FAST = ["--content-layers", "relu1_1", "--style-layers", "relu1_1", "--steps", "2", "-q"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_one_line_error(err: str) -> None:
    assert "Traceback" not in err, err
    assert err.startswith("instyle: error:"), err
    assert err.endswith("\n") and err.count("\n") == 1, err


def no_temp_files(folder: Path) -> bool:
    return not any(p.name.endswith(".tmp") for p in folder.iterdir()) if folder.exists() else True


@pytest.fixture(scope="module")
def imgs(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("inputs")
    paths = {}

    def save(name, im, **kw):
        paths[name] = d / name
        im.save(paths[name], **kw)

    rgb = Image.fromarray(smooth_rgb(36, 48, 0))  # landscape 48x36 -> 32x24 at --size 32
    save("content.png", rgb)
    save("square.png", Image.fromarray(smooth_rgb(40, 40, 3)))
    save("style.png", Image.fromarray(smooth_rgb(40, 40, 1)[:, ::-1].copy()))
    save("style2.png", Image.fromarray(smooth_rgb(30, 44, 2)[::-1].copy()))
    save("gray.png", rgb.convert("L"))
    rgba = np.dstack([smooth_rgb(36, 48, 0), np.full((36, 48), 255, np.uint8)])
    rgba[:, :24, 3] = 0  # left half fully transparent
    save("rgba.png", Image.fromarray(rgba, "RGBA"))
    save("cmyk.jpg", rgb.convert("CMYK"), quality=95)
    save("gray16.png", Image.fromarray((np.asarray(rgb.convert("L"), np.uint16) * 257).astype(np.uint16)))
    save("palette.png", rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=32))
    # Stored 48 wide x 32 high, EXIF orientation 6 (rotate 90° clockwise): upright it is 32x48.
    exif = Image.Exif()
    exif[0x0112] = 6
    save("rotated.jpg", Image.fromarray(smooth_rgb(32, 48, 4)), exif=exif.tobytes(), quality=95)
    # Bad files.
    (d / "empty.png").write_bytes(b"")
    (d / "text.jpg").write_text("this is not a JPEG\n")
    good = (d / "content.png").read_bytes()
    (d / "truncated.png").write_bytes(good[: len(good) // 2])
    (d / "folder.png").mkdir()
    paths.update({n: d / n for n in ("empty.png", "text.jpg", "truncated.png", "folder.png")})
    return paths


def _json(out: str) -> dict:
    return json.loads(out)


# --------------------------------------------------------------------------- successful runs


def test_tiny_run_default_layers_writes_png(imgs, tmp_path, capsys):
    """The real default loss (relu1_1…relu5_1) on a square 32 px image."""
    out = tmp_path / "out.png"
    code, _stdout, err = run_cli(
        ["optimize", imgs["square.png"], imgs["style.png"], "-o", out, "--size", "32", "--steps", "2", "-q"], capsys
    )
    assert code == 0, err
    assert err == ""
    with Image.open(out) as im:
        assert im.format == "PNG"
        assert im.size == (32, 32)
    assert no_temp_files(tmp_path)


def test_run_keeps_aspect_and_json(imgs, tmp_path, capsys):
    out = tmp_path / "sub" / "out.png"  # missing folder is created
    code, stdout, err = run_cli(
        ["optimize", imgs["content.png"], imgs["style.png"], "-o", out, "--size", "32", "--json", *FAST], capsys
    )
    assert code == 0, err
    res = _json(stdout)
    assert res["output"] == str(out)
    assert res["size"] == [32, 24]
    assert res["steps"] == 2
    assert set(res["losses"]) >= {"content", "style", "total"}
    assert all(np.isfinite(v) for v in res["losses"].values())
    assert res["styles"] == [{"path": str(imgs["style.png"]), "weight": 1.0}]
    with Image.open(out) as im:
        assert im.size == (32, 24)  # longer side 32, 48x36 aspect kept


def test_plain_run_prints_wrote_line(imgs, tmp_path, capsys):
    out = tmp_path / "o.jpg"
    code, stdout, err = run_cli(
        [
            "optimize",
            imgs["content.png"],
            imgs["style.png"],
            "-o",
            out,
            "--size",
            "32",
            "--steps",
            "2",
            "--content-layers",
            "relu1_1",
            "--style-layers",
            "relu1_1",
        ],
        capsys,
    )
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}") and "32x24" in stdout
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.size == (32, 24)


@pytest.mark.parametrize("w1, w2", [("0.7", "0.3"), ("1.4", "0.6")])
def test_two_styles_weights_normalized(imgs, tmp_path, capsys, w1, w2):
    out = tmp_path / "blend.png"
    code, stdout, err = run_cli(
        [
            "optimize",
            imgs["content.png"],
            f"{imgs['style.png']}:{w1}",
            f"{imgs['style2.png']}:{w2}",
            "-o",
            out,
            "--size",
            "32",
            "--json",
            *FAST,
        ],
        capsys,
    )
    assert code == 0, err
    styles = _json(stdout)["styles"]
    assert [s["path"] for s in styles] == [str(imgs["style.png"]), str(imgs["style2.png"])]
    assert [s["weight"] for s in styles] == pytest.approx([0.7, 0.3])
    assert out.is_file()


def test_existing_output_refused_then_overwritten(imgs, tmp_path, capsys):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious bytes")
    code, _stdout, err = run_cli(
        ["optimize", imgs["content.png"], imgs["style.png"], "-o", out, "--size", "32", *FAST], capsys
    )
    assert code in (1, 2)
    assert_one_line_error(err)
    assert "--overwrite" in err
    assert out.read_bytes() == b"precious bytes"

    code, _stdout, err = run_cli(
        ["optimize", imgs["content.png"], imgs["style.png"], "-o", out, "--size", "32", "--overwrite", *FAST], capsys
    )
    assert code == 0, err
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    assert no_temp_files(tmp_path)


def test_output_to_stdout_is_png(imgs, tmp_path):
    r = run_instyle(
        ["optimize", imgs["content.png"], imgs["style.png"], "-o", "-", "--size", "32", *FAST],
        capture_output=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert r.stdout.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(r.stdout)) as im:
        assert im.size == (32, 24)
    assert b"Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written to disk


def test_save_every_writes_step_images(imgs, tmp_path, capsys):
    inter = tmp_path / "steps"
    out = tmp_path / "out.png"
    code, _, err = run_cli(
        [
            "optimize",
            imgs["content.png"],
            imgs["style.png"],
            "-o",
            out,
            "--size",
            "32",
            "--save-every",
            "1",
            "--intermediate-dir",
            inter,
            *FAST,
        ],
        capsys,
    )
    assert code == 0, err
    names = sorted(p.name for p in inter.iterdir())
    assert "step_00001.png" in names
    assert set(names) <= {"step_00001.png", "step_00002.png"}
    for n in names:
        with Image.open(inter / n) as im:
            assert im.size == (32, 24)
    assert out.is_file()


def test_save_every_without_dir_is_usage_error(imgs, tmp_path, capsys):
    out = tmp_path / "out.png"
    code, _, err = run_cli(
        ["optimize", imgs["content.png"], imgs["style.png"], "-o", out, "--size", "32", "--save-every", "1", *FAST],
        capsys,
    )
    assert code == 2
    assert_one_line_error(err)
    assert "--intermediate-dir" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "extra",
    [["--color", "luminance"], ["--color", "match"], ["--init", "noise"], ["--optimizer", "adam"], ["--steps", "0"]],
)
def test_option_variants_run(imgs, tmp_path, capsys, extra):
    out = tmp_path / "out.png"
    code, stdout, err = run_cli(
        ["optimize", imgs["content.png"], imgs["style.png"], "-o", out, "--size", "32", "--json", *FAST, *extra], capsys
    )
    assert code == 0, err
    assert _json(stdout)["size"] == [32, 24]
    with Image.open(out) as im:
        assert im.size == (32, 24)


def test_init_from_image_file(imgs, tmp_path, capsys):
    out = tmp_path / "out.png"
    code, stdout, err = run_cli(
        [
            "optimize",
            imgs["content.png"],
            imgs["style.png"],
            "-o",
            out,
            "--size",
            "32",
            "--init",
            imgs["square.png"],
            "--json",
            *FAST,
        ],
        capsys,
    )
    assert code == 0, err
    assert _json(stdout)["size"] == [32, 24]  # the init image is resized to the content's size


@pytest.mark.parametrize(
    "name, size",
    [
        ("gray.png", (32, 24)),
        ("cmyk.jpg", (32, 24)),
        ("gray16.png", (32, 24)),
        ("palette.png", (32, 24)),
        ("rotated.jpg", (21, 32)),
        ("rgba.png", (32, 24)),
    ],
)
def test_unusual_image_modes_as_content_and_style(imgs, tmp_path, capsys, name, size):
    out = tmp_path / "out.png"
    code, stdout, err = run_cli(
        ["optimize", imgs[name], imgs[name], "-o", out, "--size", "32", "--json", *FAST], capsys
    )
    assert code == 0, err
    assert _json(stdout)["size"] == list(size)  # rotated.jpg: EXIF orientation applied (portrait)
    with Image.open(out) as im:
        assert im.size == size


def test_rgba_content_keeps_alpha(imgs, tmp_path, capsys):
    out = tmp_path / "out.png"
    code, _, err = run_cli(["optimize", imgs["rgba.png"], imgs["style.png"], "-o", out, "--size", "32", *FAST], capsys)
    assert code == 0, err
    with Image.open(out) as im:
        assert im.mode == "RGBA"
        alpha = np.asarray(im.getchannel("A"))
    assert alpha.shape == (24, 32)
    assert alpha[:, :14].max() < 30  # transparent half stays transparent
    assert alpha[:, 18:].min() > 225  # opaque half stays opaque


def test_rgba_content_to_jpeg_is_flattened(imgs, tmp_path, capsys):
    out = tmp_path / "out.jpg"
    code, _, err = run_cli(["optimize", imgs["rgba.png"], imgs["style.png"], "-o", out, "--size", "32", *FAST], capsys)
    assert code == 0, err
    with Image.open(out) as im:
        assert im.mode == "RGB"


# --------------------------------------------------------------------------- bad input

# (id, argv after "optimize" with {c}=content {s}=style {o}=output and file keys, expected exit code)
BAD = [
    ("missing-content", ["{missing}", "{style}"], [], 1),
    ("missing-style", ["{content}", "{missing}"], [], 1),
    ("missing-weighted-style", ["{content}", "{missing}:0.5"], [], 1),
    ("empty-file", ["{empty}", "{style}"], [], 1),
    ("text-as-jpg", ["{content}", "{text}"], [], 1),
    ("truncated-png", ["{truncated}", "{style}"], [], 1),
    ("directory-content", ["{folder}", "{style}"], [], 1),
    ("missing-init", ["{content}", "{style}"], ["--init", "{missing}"], 1),
    ("bad-extension", ["{content}", "{style}"], ["-o", "{outdir}/out.xyz"], 2),
    ("no-extension", ["{content}", "{style}"], ["-o", "{outdir}/out"], 2),
    ("size-0", ["{content}", "{style}"], ["--size", "0"], 2),
    ("size-negative", ["{content}", "{style}"], ["--size", "-5"], 2),
    ("size-text", ["{content}", "{style}"], ["--size", "abc"], 2),
    ("size-huge", ["{content}", "{style}"], ["--size", "100000"], 2),
    ("steps-negative", ["{content}", "{style}"], ["--steps", "-1"], 2),
    ("style-weight-negative", ["{content}", "{style}"], ["--style-weight", "-1"], 2),
    ("lr-zero", ["{content}", "{style}"], ["--lr", "0"], 2),
    ("unknown-style-layer", ["{content}", "{style}"], ["--style-layers", "relu9_9"], 2),
    ("unknown-content-layer", ["{content}", "{style}"], ["--content-layers", "conv1_1"], 2),
    ("negative-style-spec-weight", ["{content}", "{style}:-1"], [], 2),
    ("all-style-weights-zero", ["{content}", "{style}:0", "{style2}:0"], [], 2),
    ("unknown-optimizer", ["{content}", "{style}"], ["--optimizer", "sgd"], 2),
    ("unknown-color", ["{content}", "{style}"], ["--color", "sepia"], 2),
]


def _fill(items, imgs, outdir):
    keys = {
        "content": imgs["content.png"],
        "style": imgs["style.png"],
        "style2": imgs["style2.png"],
        "missing": outdir.parent / "does-not-exist.png",
        "empty": imgs["empty.png"],
        "text": imgs["text.jpg"],
        "truncated": imgs["truncated.png"],
        "folder": imgs["folder.png"],
        "outdir": outdir,
    }
    return [s.format(**keys) for s in items]


@pytest.mark.parametrize("positional, options, expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_one_line_error_no_output(imgs, tmp_path, capsys, positional, options, expected):
    outdir = tmp_path / "out"
    opts = _fill(options, imgs, outdir)
    if "-o" not in opts:
        opts += ["-o", str(outdir / "out.png")]
    argv = ["optimize", *_fill(positional, imgs, outdir), "--size", "32", *FAST, *opts]
    code, stdout, err = run_cli(argv, capsys)
    assert code == expected, err
    assert_one_line_error(err)
    assert stdout == ""
    assert not outdir.exists() or list(outdir.iterdir()) == []


def test_error_names_the_file(imgs, tmp_path, capsys):
    code, _, err = run_cli(
        ["optimize", imgs["truncated.png"], imgs["style.png"], "-o", tmp_path / "o.png", *FAST], capsys
    )
    assert code == 1
    assert "truncated.png" in err


def test_pixel_limit_from_environment(imgs, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INSTYLE_MAX_PIXELS", "100")
    out = tmp_path / "out.png"
    code, _, err = run_cli(
        ["optimize", imgs["content.png"], imgs["style.png"], "-o", out, "--size", "32", *FAST], capsys
    )
    assert code == 1
    assert_one_line_error(err)
    assert "too large" in err and "INSTYLE_MAX_PIXELS" in err
    assert not out.exists()


def test_output_is_a_directory(imgs, tmp_path, capsys):
    code, _, err = run_cli(
        ["optimize", imgs["content.png"], imgs["style.png"], "-o", tmp_path, "--overwrite", "--size", "32", *FAST],
        capsys,
    )
    assert code in (1, 2)
    assert_one_line_error(err)
    assert tmp_path.is_dir()


@pytest.mark.parametrize("case", ["truncated", "bad-extension"])  # in-process covers the rest; these are slow
def test_bad_input_subprocess_no_traceback(imgs, tmp_path, case):
    out = tmp_path / "out.png"
    argv = ["optimize", imgs["content.png"], imgs["style.png"], "-o", out, "--size", "32", *FAST]
    expected = 1
    if case == "truncated":
        argv[1] = imgs["truncated.png"]
    else:
        out = tmp_path / "out.xyz"
        argv[4], expected = out, 2
    r = run_instyle(argv, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == expected, r.stderr
    assert_one_line_error(r.stderr)
    assert r.stdout == ""
    assert not out.exists()


# --------------------------------------------------------------------------- small images


@pytest.mark.parametrize("name, size, expected", [("square.png", "16", (16, 16)), ("content.png", "32", (32, 24))])
def test_small_images_with_default_layers(imgs, tmp_path, capsys, name, size, expected):
    """--size 16 is accepted; the default loss reaches relu5_1 (1/16 scale, a 1 px map): no crash."""
    out = tmp_path / "out.png"
    code, _, err = run_cli(
        ["optimize", imgs[name], imgs["square.png"], "-o", out, "--size", size, "--steps", "1", "-q"], capsys
    )
    assert code == 0, err
    with Image.open(out) as im:
        assert im.size == expected


def test_bad_output_extension_fails_before_any_work(imgs, tmp_path, capsys, monkeypatch):
    import instyle.optimize

    def boom(*a, **k):
        raise AssertionError("optimized although the output can never be written")

    monkeypatch.setattr(instyle.optimize.GatysOptimizer, "__call__", boom)
    code, _, err = run_cli(
        ["optimize", imgs["content.png"], imgs["style.png"], "-o", tmp_path / "out.xyz", "--size", "32", *FAST], capsys
    )
    assert code == 2
    assert_one_line_error(err)
    assert ".xyz" in err


def test_json_with_stdout_image_is_a_usage_error(tmp_path, capsys):
    from PIL import Image

    src = tmp_path / "c.png"
    Image.new("RGB", (24, 24), (200, 10, 10)).save(src)
    code = main(["optimize", str(src), str(src), "-o", "-", "--json", "--steps", "1", "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("instyle: error:") and "stdout" in err
