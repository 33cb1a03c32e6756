"""``instyle sheet``: a photo in every preset (or the listed styles) on one labelled sheet."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from helpers import write_photo
from instyle import presets, shipped
from instyle.checkpoint import save_model
from instyle.models import AdaINConfig, AdaINDecoder

from ._helpers import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # slow: VGG-19


@pytest.fixture(scope="module")
def decoder(tmp_path_factory):
    torch.manual_seed(0)
    return save_model(tmp_path_factory.mktemp("sheet_dec") / "dec.safetensors", AdaINDecoder(AdaINConfig(width=0.25)))


@pytest.fixture
def photo(tmp_path):
    return write_photo(tmp_path / "photo.png", (64, 48), grid=(8, 6))


@pytest.fixture(autouse=True)
def three_presets(tmp_path_factory):
    """Built-in presets alpha, beta and gamma, in a preset file standing in for the shipped one."""
    g = torch.Generator().manual_seed(0)
    table = {
        n: ((torch.randn(1, 512, 1, 1, generator=g), torch.rand(1, 512, 1, 1, generator=g) + 0.1), f"{n}.jpg", 512)
        for n in ("alpha", "beta", "gamma")
    }
    folder = tmp_path_factory.mktemp("builtin_presets")
    path = presets.save_builtin_file(folder / presets.BUILTIN_FILE, table)
    with shipped.use_assets({presets.BUILTIN_FILE: path}):
        yield path


def test_sheet_of_every_preset(tmp_path, capsys, photo, decoder):
    out = tmp_path / "sheet.png"
    code, stdout, err = run_cli(
        ["sheet", photo, "-o", out, "--decoder", decoder, "--size", "48", "--columns", "2", "--json", "-q"], capsys
    )
    assert code == 0, err
    res = json.loads(stdout)
    assert res["styles"] == ["alpha", "beta", "gamma"] and res["cells"] == 4
    with Image.open(out) as im:
        assert im.width >= 2 * 48 and im.height >= 2 * 48  # 2 columns x 2 rows of 48 px cells + captions


def test_sheet_of_listed_styles_and_existing_output(tmp_path, capsys, photo, decoder):
    out = tmp_path / "s.jpg"
    code, _, err = run_cli(
        ["sheet", photo, "-o", out, "--decoder", decoder, "--size", "32", "--styles", "beta", "-q"], capsys
    )
    assert code == 0, err
    before = out.read_bytes()
    code, _, err = run_cli(["sheet", photo, "-o", out, "--decoder", decoder, "--styles", "beta", "-q"], capsys)
    assert code == 2 and err.startswith("instyle: error:") and "--overwrite" in err
    assert out.read_bytes() == before


def test_sheet_unknown_style_fails_before_writing(tmp_path, capsys, photo, decoder):
    code, _, err = run_cli(
        ["sheet", photo, "-o", tmp_path / "s.png", "--decoder", decoder, "--styles", "nope", "-q"], capsys
    )
    assert code == 1 and "instyle styles" in err and err.count("\n") == 1
    assert not (tmp_path / "s.png").exists()


def test_sheet_defaults_to_every_style_of_the_builtin_network(tmp_path, capsys, photo, builtin_net):
    out = tmp_path / "sheet.png"
    code, stdout, err = run_cli(
        ["sheet", photo, "-o", out, "--size", "40", "--json", "-q", "--precision", "fp32"], capsys
    )
    assert code == 0, err
    res = json.loads(stdout)
    assert res["method"] == "fast" and res["styles"] == ["alpha", "beta", "gamma"] and res["cells"] == 4
    # --method adain: every AdaIN preset instead
    code, stdout, err = run_cli(
        [
            "sheet",
            photo,
            "-o",
            tmp_path / "p.png",
            "--size",
            "40",
            "--json",
            "-q",
            "--method",
            "adain",
            "--decoder",
            decoder_path(tmp_path),
        ],
        capsys,
    )
    assert code == 0, err
    assert json.loads(stdout)["styles"] == ["alpha", "beta", "gamma"] and json.loads(stdout)["method"] == "adain"


def test_sheet_method_fast_refuses_a_style_image(tmp_path, capsys, photo, builtin_net):
    code, _, err = run_cli(
        ["sheet", photo, "-o", tmp_path / "s.png", "--method", "fast", "--styles", f"alpha,{photo}", "-q"], capsys
    )
    assert code == 2 and "not a built-in style" in err and err.count("\n") == 1
    assert not (tmp_path / "s.png").exists()


def decoder_path(folder):
    torch.manual_seed(0)
    return save_model(folder / "d.safetensors", AdaINDecoder(AdaINConfig(width=0.25)))
