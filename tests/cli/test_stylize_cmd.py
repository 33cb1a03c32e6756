"""``instyle stylize``: files, folders, stdin/stdout, JSON, controls, and clean one-line errors.

No decoder ships yet: a seeded random width-0.25 decoder is saved to a model file and passed
with --decoder. Style images are encoded at --style-size 64 and photos are tiny, so each
in-process run is a fraction of a second. INSTYLE_HOME always points at a temporary folder.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import run_instyle, smooth_rgb
from instyle.checkpoint import save_model
from instyle.models.adain import AdaINConfig, AdaINDecoder

from ._helpers import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # slow: VGG-19

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_one_line_error(err: str) -> None:
    assert "Traceback" not in err, err
    assert err.startswith("instyle: error:"), err
    assert err.endswith("\n") and err.count("\n") == 1, err


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("stylize_inputs")
    paths = {}

    def save(name, im, **kw):
        paths[name] = d / name
        im.save(paths[name], **kw)

    save("content.png", Image.fromarray(smooth_rgb(36, 48, 0)))  # 48 x 36
    save("odd.png", Image.fromarray(smooth_rgb(29, 45, 5)))
    save("style.png", Image.fromarray(smooth_rgb(40, 40, 1)[:, ::-1].copy()))
    save("style2.jpg", Image.fromarray(smooth_rgb(30, 44, 2)[::-1].copy()), quality=95)
    rgba = np.dstack([smooth_rgb(36, 48, 0), np.full((36, 48), 255, np.uint8)])
    rgba[:, :24, 3] = 0  # left half transparent
    save("rgba.png", Image.fromarray(rgba, "RGBA"))
    left = np.zeros((36, 48), np.uint8)
    left[:, :20] = 255
    save("mask_left.png", Image.fromarray(left))
    save("mask_right.png", Image.fromarray(left[:, ::-1].copy()))
    # a folder of photos, with files that are not photos
    photos = d / "photos"
    photos.mkdir()
    Image.fromarray(smooth_rgb(30, 40, 10)).save(photos / "a.png")
    Image.fromarray(smooth_rgb(40, 30, 11)).save(photos / "b.jpg", quality=95)
    Image.fromarray(smooth_rgb(24, 32, 12)).convert("P").save(photos / "c.gif")
    Image.fromarray(smooth_rgb(24, 32, 13)).save(photos / ".hidden.png")
    (photos / "notes.txt").write_text("not a photo")
    paths["photos"] = photos
    # the decoder: seeded random init, outputs around mid-grey
    torch.manual_seed(0)
    dec = AdaINDecoder(AdaINConfig(width=0.25))
    with torch.no_grad():
        dec.layers[-1][1].bias.fill_(0.5)
    paths["decoder"] = save_model(d / "dec.safetensors", dec)
    return paths


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTYLE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def fast(files):
    return ["--decoder", files["decoder"], "--style-size", "64", "--precision", "fp32", "-q"]


def stylize(files, capsys, content, out, *extra, style=None):
    style = ["--style", files["style.png"]] if style is None else style
    return run_cli(
        [
            "stylize",
            *([content] if not isinstance(content, list) else content),
            *style,
            "-o",
            out,
            *fast(files),
            *extra,
        ],
        capsys,
    )


def _size(path):
    with Image.open(path) as im:
        return im.size


def _no_tmp(folder: Path) -> bool:
    return not any(p.name.endswith(".tmp") for p in folder.rglob("*"))


# --------------------------------------------------------------------------- successful runs


def test_one_image_to_file_with_json(files, tmp_path, capsys):
    out = tmp_path / "out.png"
    code, stdout, err = stylize(files, capsys, files["content.png"], out, "--json")
    assert code == 0, err
    res = json.loads(stdout)
    [o] = res["outputs"]
    assert o["input"] == str(files["content.png"])
    assert o["output"] == str(out)
    assert o["size"] == [48, 36]
    assert o["seconds"] >= 0
    assert res["styles"] == [{"style": str(files["style.png"]), "weight": 1.0}]
    assert res["alpha"] == 1.0 and res["color"] == "palette" and res["precision"] == "fp32"  # auto: a style image
    assert _size(out) == (48, 36)
    with Image.open(out) as im:
        assert im.format == "PNG" and im.mode == "RGB"
    assert _no_tmp(tmp_path)


def test_plain_run_prints_one_line_and_size_option(files, tmp_path, capsys):
    out = tmp_path / "small.jpg"
    code, stdout, err = run_cli(
        [
            "stylize",
            files["content.png"],
            "-s",
            files["style.png"],
            "-o",
            out,
            "--decoder",
            files["decoder"],
            "--style-size",
            "64",
            "--size",
            "32",
        ],
        capsys,
    )
    assert code == 0, err
    assert stdout.startswith(f"wrote 1 image to {out}") and stdout.count("\n") == 1
    assert _size(out) == (32, 24)  # longer side 32, aspect kept
    with Image.open(out) as im:
        assert im.format == "JPEG"


def test_odd_size_and_keep_size(files, tmp_path, capsys):
    out = tmp_path / "odd.png"
    code, stdout, err = stylize(files, capsys, files["odd.png"], out, "--keep-size", "--json")
    assert code == 0, err
    assert json.loads(stdout)["outputs"][0]["size"] == [45, 29]
    assert _size(out) == (45, 29)


def test_folder_to_folder_keeps_names(files, tmp_path, capsys):
    outdir = tmp_path / "styled"  # created
    code, stdout, err = stylize(files, capsys, files["photos"], outdir, "--json")
    assert code == 0, err
    assert sorted(p.name for p in outdir.iterdir()) == ["a.png", "b.jpg", "c.png"]  # .gif written as PNG
    res = json.loads(stdout)
    assert [Path(o["output"]).name for o in res["outputs"]] == ["a.png", "b.jpg", "c.png"]
    assert [Path(o["input"]).name for o in res["outputs"]] == ["a.png", "b.jpg", "c.gif"]
    assert _size(outdir / "a.png") == (40, 30)
    assert _size(outdir / "b.jpg") == (30, 40)
    assert _size(outdir / "c.png") == (32, 24)
    assert _no_tmp(outdir)


def test_folder_with_an_unreadable_photo_does_the_rest(files, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("a.png", "b.jpg"):
        (folder / name).write_bytes((files["photos"] / name).read_bytes())
    (folder / "broken.png").write_bytes((files["photos"] / "a.png").read_bytes()[:100])
    outdir = tmp_path / "styled"
    code, stdout, err = stylize(files, capsys, folder, outdir, "--json")
    assert code == 1
    lines = err.strip().split("\n")
    assert len(lines) == 2 and "broken.png" in lines[0] and lines[0].startswith("instyle: error: cannot read image")
    assert lines[1] == "instyle: error: 1 of 3 images could not be read (named above); the other 2 were written"
    assert sorted(p.name for p in outdir.iterdir()) == ["a.png", "b.jpg"]
    res = json.loads(stdout)
    assert [Path(f["input"]).name for f in res["failed"]] == ["broken.png"]
    assert len(res["outputs"]) == 2 and _no_tmp(outdir)


def test_skip_existing_resumes_a_folder_run(files, tmp_path, capsys):
    outdir = tmp_path / "styled"
    outdir.mkdir()
    (outdir / "b.jpg").write_bytes(b"done before the run was stopped")
    code, _, err = stylize(files, capsys, files["photos"], outdir)
    assert code == 2 and "--skip-existing" in err  # refused as before, and told how to resume
    code, stdout, err = stylize(files, capsys, files["photos"], outdir, "--skip-existing", "--json")
    assert code == 0, err
    res = json.loads(stdout)
    assert res["skipped"] == 1 and [Path(o["output"]).name for o in res["outputs"]] == ["a.png", "c.png"]
    assert (outdir / "b.jpg").read_bytes() == b"done before the run was stopped"
    code, stdout, err = stylize(files, capsys, files["photos"], outdir, "--skip-existing", "--json")
    assert code == 0 and json.loads(stdout) == {"outputs": [], "failed": [], "skipped": 3}, err
    code, _, err = stylize(files, capsys, files["photos"], outdir, "--skip-existing", "--overwrite")
    assert code == 2 and "pick one" in err


def test_several_files_to_folder(files, tmp_path, capsys):
    outdir = tmp_path / "many"
    code, stdout, err = stylize(files, capsys, [files["content.png"], files["odd.png"]], outdir)
    assert code == 0, err
    assert stdout == ""  # -q: no summary line
    assert sorted(p.name for p in outdir.iterdir()) == ["content.png", "odd.png"]
    assert _size(outdir / "odd.png") == (45, 29)


def test_stdin_to_stdout_png(files, tmp_path):
    r = run_instyle(
        ["stylize", "-", "--style", files["style.png"], "-o", "-", *fast(files)],
        input=files["content.png"].read_bytes(),
        capture_output=True,
        cwd=tmp_path,
        env={"INSTYLE_HOME": tmp_path / "home", "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert b"Traceback" not in r.stderr
    assert r.stdout.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(r.stdout)) as im:
        assert im.size == (48, 36)
    assert list(tmp_path.iterdir()) == []  # nothing written to disk (INSTYLE_HOME not even created)


def test_stdin_to_file_in_process(files, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(files["content.png"].read_bytes())))
    out = tmp_path / "from_stdin.png"
    code, stdout, err = stylize(files, capsys, "-", out, "--json")
    assert code == 0, err
    assert json.loads(stdout)["outputs"][0]["input"] == "<stdin>"
    assert _size(out) == (48, 36)


def test_rgba_content_keeps_alpha(files, tmp_path, capsys):
    out = tmp_path / "out.png"
    code, _, err = stylize(files, capsys, files["rgba.png"], out)
    assert code == 0, err
    with Image.open(out) as im:
        assert im.mode == "RGBA" and im.size == (48, 36)
        alpha = np.asarray(im.getchannel("A"))
    assert alpha[:, :22].max() < 30
    assert alpha[:, 26:].min() > 225


@pytest.mark.parametrize(
    "extra",
    [
        ["--color", "match"],
        ["--color", "luminance"],
        ["--color", "palette"],
        ["--color", "none"],
        ["--alpha", "0"],
        ["--alpha", "0.5", "--color", "luminance"],
        ["--no-channels-last"],
        ["--tile", "64"],
    ],
)
def test_control_variants_run(files, tmp_path, capsys, extra):
    out = tmp_path / "out.png"
    code, stdout, err = stylize(files, capsys, files["content.png"], out, "--json", *extra)
    assert code == 0, err
    res = json.loads(stdout)
    assert res["outputs"][0]["size"] == [48, 36]
    if "--color" in extra:
        assert res["color"] == extra[extra.index("--color") + 1]
    assert _size(out) == (48, 36)


def test_blend_weights_in_json(files, tmp_path, capsys):
    out = tmp_path / "blend.png"
    code, stdout, err = stylize(
        files,
        capsys,
        files["content.png"],
        out,
        "--json",
        style=["--style", f"{files['style.png']}:3", "--style", f"{files['style2.jpg']}:1"],
    )
    assert code == 0, err
    styles = json.loads(stdout)["styles"]
    assert [s["style"] for s in styles] == [str(files["style.png"]), str(files["style2.jpg"])]
    assert [s["weight"] for s in styles] == pytest.approx([0.75, 0.25])


def test_masks_run(files, tmp_path, capsys):
    out = tmp_path / "masked.png"
    code, _, err = stylize(
        files,
        capsys,
        files["content.png"],
        out,
        "--mask",
        files["mask_left.png"],
        "--mask",
        files["mask_right.png"],
        style=["--style", files["style.png"], "--style", files["style2.jpg"]],
    )
    assert code == 0, err
    assert _size(out) == (48, 36)


def test_saved_preset_used_by_name(files, tmp_path, capsys, home):
    code, stdout, err = run_cli(["styles", "save", "my_style", files["style.png"], "--style-size", "64"], capsys)
    assert code == 0, err
    assert (home / "styles" / "my_style.safetensors").is_file()
    by_name, by_image = tmp_path / "by_name.png", tmp_path / "by_image.png"
    code, stdout, err = stylize(files, capsys, files["content.png"], by_name, "--json", style=["--style", "my_style"])
    assert code == 0, err
    assert json.loads(stdout)["styles"] == [{"style": "my_style", "weight": 1.0}]
    code, _, err = stylize(files, capsys, files["content.png"], by_image, "--color", "none")
    assert code == 0, err
    # the preset holds the statistics of the image at that size: the same result (without the
    # image's palette, which a preset does not keep)
    a = np.asarray(Image.open(by_name), np.int16)
    b = np.asarray(Image.open(by_image), np.int16)
    assert np.abs(a - b).max() <= 2


def test_preset_with_color_match_is_a_clean_error(files, tmp_path, capsys):
    assert run_cli(["styles", "save", "p", files["style.png"], "--style-size", "64"], capsys)[0] == 0
    out = tmp_path / "out.png"
    code, _stdout, err = stylize(files, capsys, files["content.png"], out, "--color", "match", style=["--style", "p"])
    assert code == 2
    assert_one_line_error(err)
    assert "luminance" in err
    assert not out.exists()


# --------------------------------------------------------------------------- overwrite rules


def _forbid_work(monkeypatch):
    import instyle.stylize

    def boom(*a, **k):
        raise AssertionError("did work although the output could never be written")

    monkeypatch.setattr(instyle.stylize.AdaINStylizer, "__init__", boom)


def test_existing_output_fails_before_any_work(files, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    with monkeypatch.context() as m:
        _forbid_work(m)
        code, _stdout, err = stylize(files, capsys, files["content.png"], out)
    assert code == 2
    assert_one_line_error(err)
    assert "--overwrite" in err
    assert out.read_bytes() == b"precious"
    code, _, err = stylize(files, capsys, files["content.png"], out, "--overwrite")
    assert code == 0, err
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_existing_output_in_folder_fails_before_any_work(files, tmp_path, capsys, monkeypatch):
    outdir = tmp_path / "styled"
    outdir.mkdir()
    (outdir / "b.jpg").write_bytes(b"precious")
    _forbid_work(monkeypatch)
    code, _, err = stylize(files, capsys, files["photos"], outdir)
    assert code == 2
    assert_one_line_error(err)
    assert "b.jpg" in err
    assert sorted(p.name for p in outdir.iterdir()) == ["b.jpg"]  # nothing else written either
    assert (outdir / "b.jpg").read_bytes() == b"precious"


# --------------------------------------------------------------------------- bad input


def _bad_args(files, tmp_path):
    c, s, out = str(files["content.png"]), str(files["style.png"]), str(tmp_path / "out" / "o.png")
    return {
        "alpha-above-1": (["stylize", c, "-s", s, "-o", out, "--alpha", "1.5"], 2),
        "alpha-negative": (["stylize", c, "-s", s, "-o", out, "--alpha", "-0.1"], 2),
        "alpha-nan": (["stylize", c, "-s", s, "-o", out, "--alpha", "nan"], 2),
        "mask-count": (
            [
                "stylize",
                c,
                "-s",
                s,
                "-o",
                out,
                "--mask",
                str(files["mask_left.png"]),
                "--mask",
                str(files["mask_right.png"]),
            ],
            2,
        ),
        "size-and-keep-size": (["stylize", c, "-s", s, "-o", out, "--size", "32", "--keep-size"], 2),
        "missing-content": (["stylize", str(tmp_path / "nope.png"), "-s", s, "-o", out], 1),
        "missing-style": (["stylize", c, "-s", str(tmp_path / "nope.png"), "-o", out], 1),
        "unknown-preset": (["stylize", c, "-s", "no_such_preset", "-o", out], 1),
        "bad-extension": (["stylize", c, "-s", s, "-o", str(tmp_path / "out" / "o.xyz")], 2),
        "bad-tile": (["stylize", c, "-s", s, "-o", out, "--tile", "60"], 2),
        "unknown-color": (["stylize", c, "-s", s, "-o", out, "--color", "sepia"], 2),
        "zero-weights": (["stylize", c, "-s", f"{s}:0", "-o", out], 2),
        "json-to-stdout": (["stylize", c, "-s", s, "-o", "-", "--json"], 2),
        "several-to-stdout": (["stylize", c, c.replace("content", "odd"), "-s", s, "-o", "-"], 2),
        "same-output-name": (
            [
                "stylize",
                c,
                str(files["photos"] / "a.png"),
                str(files["photos"] / "a.png"),
                "-s",
                s,
                "-o",
                str(tmp_path / "out"),
            ],
            2,
        ),
        "missing-decoder": (["stylize", c, "-s", s, "-o", out, "--decoder", str(tmp_path / "nope.safetensors")], 1),
        "no-style": (["stylize", c, "-o", out], 2),
    }


BAD_IDS = [
    "alpha-above-1",
    "alpha-negative",
    "alpha-nan",
    "mask-count",
    "size-and-keep-size",
    "missing-content",
    "missing-style",
    "unknown-preset",
    "bad-extension",
    "bad-tile",
    "unknown-color",
    "zero-weights",
    "json-to-stdout",
    "several-to-stdout",
    "same-output-name",
    "missing-decoder",
    "no-style",
]


@pytest.mark.parametrize("case", BAD_IDS)
def test_bad_input_one_line_error_no_output(files, tmp_path, capsys, case):
    argv, expected = _bad_args(files, tmp_path)[case]
    if "--decoder" not in argv:
        argv = [*argv, "--decoder", str(files["decoder"])]
    argv += ["--style-size", "64", "--precision", "fp32", "-q"]
    code, stdout, err = run_cli(argv, capsys)
    assert code == expected, err
    assert_one_line_error(err)
    assert stdout == ""
    assert not (tmp_path / "out").exists()


def test_missing_content_names_the_file(files, tmp_path, capsys):
    code, _, err = stylize(files, capsys, tmp_path / "nope.png", tmp_path / "o.png")
    assert code == 1
    assert "nope.png" in err


def test_mask_count_error_says_what_to_do(files, tmp_path, capsys):
    code, _, err = stylize(
        files,
        capsys,
        files["content.png"],
        tmp_path / "o.png",
        "--mask",
        files["mask_left.png"],
        style=["--style", files["style.png"], "--style", files["style2.jpg"]],
    )
    assert code == 2
    assert "--mask" in err and "2 styles" in err


# --------------------------------------------------------------------------- built-in styles (--method)


def _plain(files):
    return ["--precision", "fp32", "-q", "--json"]


def test_builtin_style_names_use_the_network(files, tmp_path, capsys, builtin_net):
    out = tmp_path / "o.png"
    code, stdout, err = run_cli(
        ["stylize", files["content.png"], "--style", "alpha:0.25", "--style", "gamma", "-o", out, *_plain(files)],
        capsys,
    )
    assert code == 0, err
    res = json.loads(stdout)
    assert res["method"] == "fast" and [s["weight"] for s in res["styles"]] == pytest.approx([0.25, 0.75])
    assert _size(out) == (48, 36)
    # the same blend through the library, computed at stroke_side(48) = 192 px and shrunk as the
    # CLI writes it (8 bits, Lanczos): identical pixels
    from instyle.feedforward import FastStylizer
    from instyle.imageio import load_image

    big = FastStylizer(precision="fp32")(
        load_image(files["content.png"], size=192), ["alpha", "gamma"], weights=[0.25, 0.75]
    )
    big8 = Image.fromarray(np.round(big[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    ref = np.asarray(big8.resize((48, 36), Image.Resampling.LANCZOS), np.float32) / 255
    got = np.asarray(Image.open(out), np.float32) / 255
    assert np.abs(got - ref).max() <= 1 / 255 + 1e-6


@pytest.mark.parametrize("extra", [["--alpha", "0.5"], ["--color", "match"], ["--method", "adain"]])
def test_adain_only_options_and_method_adain_route_names_to_presets(files, tmp_path, capsys, builtin_net, extra):
    # "alpha" is a style of the network but no AdaIN preset: AdaIN is chosen, and says so
    code, _, err = run_cli(
        [
            "stylize",
            files["content.png"],
            "--style",
            "alpha",
            "-o",
            tmp_path / "o.png",
            "--decoder",
            files["decoder"],
            *_plain(files),
            *extra,
        ],
        capsys,
    )
    assert code in (1, 2)
    assert_one_line_error(err)
    assert "preset" in err or "luminance" in err


def test_style_images_and_saved_presets_are_adain_even_with_a_builtin_name(files, tmp_path, capsys, builtin_net):
    code, stdout, err = run_cli(
        [
            "stylize",
            files["content.png"],
            "--style",
            files["style.png"],
            "-o",
            tmp_path / "a.png",
            *fast(files),
            "--json",
        ],
        capsys,
    )
    assert code == 0 and json.loads(stdout)["method"] == "adain", err
    assert run_cli(["styles", "save", "beta", files["style.png"], "--style-size", "64"], capsys)[0] == 0
    code, stdout, err = run_cli(
        ["stylize", files["content.png"], "--style", "beta", "-o", tmp_path / "b.png", *fast(files), "--json"], capsys
    )
    assert code == 0 and json.loads(stdout)["method"] == "adain", err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--style", "nope"], "not a built-in style"),
        (["--style", "alpha", "--mask", "{mask}"], "--mask"),
        (["--style", "alpha", "--alpha", "0.3"], "--alpha"),
        (["--style", "{style}"], "not a built-in style"),
    ],
)
def test_method_fast_errors(files, tmp_path, capsys, builtin_net, extra, message):
    extra = [e.format(mask=files["mask_left.png"], style=files["style.png"]) for e in extra]
    out = tmp_path / "o.png"
    code, _, err = run_cli(["stylize", files["content.png"], "--method", "fast", "-o", out, *extra, "-q"], capsys)
    assert code == 2
    assert_one_line_error(err)
    assert message in err
    assert not out.exists()


def test_method_fast_without_a_shipped_network(files, tmp_path, capsys):
    from instyle import shipped

    with shipped.use_assets({shipped.BUILTIN_MODEL: None}):
        code, _, err = run_cli(
            ["stylize", files["content.png"], "--method", "fast", "--style", "alpha", "-o", tmp_path / "o.png", "-q"],
            capsys,
        )
    assert code == 1
    assert_one_line_error(err)
    assert "no built-in style network" in err


# --------------------------------------------------------------------------- the light network (--arch)


def _light(files, capsys, out, *extra, style=None):
    style = ["--style", files["style.png"]] if style is None else style
    return run_cli(
        ["stylize", files["content.png"], *style, "-o", out, "--style-size", "64", "-q", "--json", *extra], capsys
    )


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_arch_light_on_both_backends(files, tmp_path, capsys, light_net, backend):
    pytest.importorskip("onnxruntime")
    out = tmp_path / f"{backend}.png"
    code, stdout, err = _light(
        files,
        capsys,
        out,
        "--arch",
        "light",
        "--backend",
        backend,
        "--alpha",
        "0.7",
        style=["--style", f"{files['style.png']}:0.6", "--style", f"{files['style2.jpg']}:0.4"],
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["backend"] == backend and summary["method"] == "adain"
    assert _size(out) == (48, 36)


def test_both_backends_give_the_same_image(files, tmp_path, capsys, light_net):
    pytest.importorskip("onnxruntime")
    arrays = []
    for backend in ("torch", "onnxruntime"):
        out = tmp_path / f"{backend}.png"
        # the stand-in network paints one flat colour, where the palette step magnifies a level's
        # difference (the painting's whole range sits on one colour): compared before it
        code, _, err = _light(files, capsys, out, "--arch", "light", "--backend", backend, "--color", "none")
        assert code == 0, err
        arrays.append(np.asarray(Image.open(out), dtype=np.int16))
    assert np.abs(arrays[0] - arrays[1]).max() <= 1  # within one level of 255


@pytest.mark.parametrize(
    "extra, blocker",
    [
        (["--color", "luminance"], "--color luminance"),
        (["--arch", "vgg"], "--arch vgg"),
        (["--keep-size"], "--keep-size"),
        (["--size", "2100"], "--size over 2048"),
    ],
)
def test_onnxruntime_adain_names_what_blocks_it(files, tmp_path, capsys, light_net, extra, blocker):
    pytest.importorskip("onnxruntime")
    code, _, err = _light(files, capsys, tmp_path / "x.png", "--backend", "onnxruntime", "--arch", "light", *extra)
    assert code == 2  # a usage error
    assert_one_line_error(err)
    assert blocker in err and "--backend torch" in err
    assert not (tmp_path / "x.png").exists()


def test_auto_backend_picks_onnxruntime_for_the_light_network_and_torch_otherwise(files, tmp_path, capsys, light_net):
    pytest.importorskip("onnxruntime")
    for extra, want in ((["--arch", "light"], "onnxruntime"), (["--arch", "light", "--color", "luminance"], "torch")):
        code, stdout, err = _light(files, capsys, tmp_path / f"{want}.png", *extra)
        assert code == 0, err
        assert json.loads(stdout)["backend"] == want


def test_a_preset_saved_before_the_light_network_goes_to_vgg(files, tmp_path, capsys, light_net, monkeypatch):
    from instyle import choices, method, presets

    monkeypatch.setattr(choices, "DEFAULT_ADAIN_ARCH", "light")
    presets.save_preset("old_style", presets.load_preset(presets.list_presets()[0].name))  # VGG-19's only
    assert method.choose_arch(None, ["old_style"]) == "vgg"
    assert method.choose_arch(None, [str(files["style.png"])]) == "light"
    code, _, err = _light(files, capsys, tmp_path / "x.png", "--arch", "light", style=["--style", "old_style"])
    assert code == 1 and "saved before the light network" in err
    assert_one_line_error(err)


# --------------------------------------------------------------------------- brush size (--stroke)


def test_stroke_changes_the_brush_not_the_output_size(files, tmp_path, capsys, builtin_net):
    from instyle.feedforward import FastStylizer
    from instyle.imageio import load_image

    outs = {}
    for stroke in ("1", "8"):
        out = tmp_path / f"s{stroke}.png"
        code, stdout, err = run_cli(
            ["stylize", files["content.png"], "--style", "alpha", "--stroke", stroke, "-o", out, *_plain(files)],
            capsys,
        )
        assert code == 0, err
        res = json.loads(stdout)
        assert res["stroke"] == float(stroke) and res["outputs"][0]["size"] == [48, 36]
        assert _size(out) == (48, 36)
        outs[stroke] = np.asarray(Image.open(out), np.float32) / 255
    # stroke 8: the network ran on the photo at 1024 / 8 = 128 px, the result resampled down (stroke
    # 1 ran at 4 x 48 = 192, the most the rule computes for a 48-px output)
    net = FastStylizer(precision="fp32")
    big = net(load_image(files["content.png"], size=128), "alpha")[0].permute(1, 2, 0).numpy()  # (96, 128, 3)
    down = np.asarray(Image.fromarray(np.round(big * 255).astype(np.uint8)).resize((48, 36), Image.Resampling.LANCZOS))
    assert np.abs(outs["8"] - down / 255).max() <= 1 / 255 + 1e-6
    assert np.abs(outs["8"] - outs["1"]).mean() > 0.01


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_a_network_with_its_own_reference_side_paints_there(files, tmp_path, capsys, backend):
    """A network distilled with ``--teacher-scale`` carries its reference side in its file (and its
    ONNX copy): the brush rule computes there, not at the default 1024."""
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
    from instyle.feedforward import FastStylizer
    from instyle.imageio import load_image
    from instyle.models import JohnsonConfig, JohnsonNet
    from instyle.sizes import STROKE_REFERENCE_KEY

    torch.manual_seed(1)
    net = JohnsonNet(JohnsonConfig(norm="instance", width=0.125, residual_blocks=1))
    model = save_model(tmp_path / "half.safetensors", net, extra={STROKE_REFERENCE_KEY: "256"})
    if backend == "onnxruntime":
        from instyle.export import export_fast

        model = export_fast(model, tmp_path / "half.onnx")
    out = tmp_path / "o.png"
    cli = ["stylize", files["content.png"], "--model", model, "--stroke", "4", "-o", out, "--backend", backend]
    code, _, err = run_cli([*cli, *_plain(files)], capsys)
    assert code == 0, err
    # 256 / 4 = 64 px (the default reference would give 1024 / 4 = 256, capped at 4 x 48 = 192)
    torch_net = FastStylizer(tmp_path / "half.safetensors", precision="fp32")
    assert torch_net.stroke_reference == 256
    big = torch_net(load_image(files["content.png"], size=64))[0].permute(1, 2, 0).numpy()  # (48, 64, 3)
    down = np.asarray(Image.fromarray(np.round(big * 255).astype(np.uint8)).resize((48, 36), Image.Resampling.LANCZOS))
    assert np.abs(np.asarray(Image.open(out), np.float32) / 255 - down / 255).max() <= 2 / 255


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_the_built_in_styles_paint_small_outputs_with_the_companion(files, tmp_path, capsys, backend):
    """The shipped pair: an output the companion covers (48 px wide: 192 px for both, the companion's
    brush nearer; --size 512: 512 against 1024) is its output; a larger one (--size 600, stroke 1)
    the built-in network's. `--model builtin` is the pair, as the default."""
    from instyle.shipped import BUILTIN_512_MODEL, asset_path

    if not asset_path(BUILTIN_512_MODEL).is_file():
        pytest.skip("this instyle ships no companion network")
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")

    def run(*extra):
        out = tmp_path / f"o{len(list(tmp_path.iterdir()))}.png"
        cli = ["stylize", files["content.png"], "--style", "candy", "--method", "fast", "-o", out, "--backend", backend]
        code, _, err = run_cli([*cli, *extra, *_plain(files)], capsys)
        assert code == 0, err
        return np.asarray(Image.open(out), np.float32) / 255

    for size in ([], ["--size", "512"]):
        assert np.abs(run(*size) - run(*size, "--model", "builtin-512")).max() == 0
    default, named = run("--size", "600"), run("--size", "600", "--model", "builtin")
    assert np.abs(default - run("--size", "600", "--model", "builtin-512")).mean() > 0.01
    assert np.abs(default - named).max() == 0 and np.abs(run() - run("--model", "builtin")).max() == 0


@pytest.mark.parametrize("bad", ["0", "9", "x", "nan"])
def test_bad_stroke_is_a_usage_error(files, tmp_path, capsys, bad):
    code, _, err = run_cli(
        ["stylize", files["content.png"], "--style", files["style.png"], "--stroke", bad, "-o", tmp_path / "o.png"],
        capsys,
    )
    assert code == 2 and "stroke must be a number from 0.125 to 8" in err
    assert not (tmp_path / "o.png").exists()


def test_auto_colours_are_the_style_images_palette(files, tmp_path, capsys):
    import numpy as np
    from PIL import Image

    outs = {}
    for color in ("auto", "palette", "none"):
        outs[color] = tmp_path / f"{color}.png"
        code, _, err = stylize(files, capsys, files["content.png"], outs[color], "--color", color)
        assert code == 0, err
    read = lambda p: np.asarray(Image.open(p).convert("RGB"), np.float32) / 255  # noqa: E731
    auto, palette, none = (read(outs[c]) for c in ("auto", "palette", "none"))
    np.testing.assert_array_equal(auto, palette)
    style = read(files["style.png"])
    # the painting's colours, closer: the gap between the brightness quantiles of result and painting
    q = np.linspace(0, 1, 21)
    gap = lambda img: np.abs(np.quantile(img.mean(-1), q) - np.quantile(style.mean(-1), q)).mean()  # noqa: E731
    assert gap(auto) < 0.5 * gap(none), (gap(auto), gap(none))


def test_palette_needs_style_images(files, tmp_path, capsys):
    assert run_cli(["styles", "save", "p", files["style.png"], "--style-size", "64"], capsys)[0] == 0
    code, _, err = stylize(
        files, capsys, files["content.png"], tmp_path / "o.png", "--color", "palette", style=["--style", "p"]
    )
    assert code == 2 and "--color palette recolours the result to the style images' colours" in err
    code, stdout, err = stylize(
        files, capsys, files["content.png"], tmp_path / "o.png", "--json", style=["--style", "p"]
    )
    assert code == 0 and json.loads(stdout)["color"] == "none"  # auto: a preset has no picture to take colours from
