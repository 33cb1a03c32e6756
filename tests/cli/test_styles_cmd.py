"""``instyle styles``: list, save and remove style presets (INSTYLE_HOME in a temporary folder;
built-in presets replaced by a known set, or none)."""

from __future__ import annotations

import json

import pytest
import torch

from helpers import tiny_fast_net, write_photo
from instyle import presets, shipped

from ._helpers import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # slow: VGG-19


def assert_one_line_error(err: str) -> None:
    assert "Traceback" not in err, err
    assert err.startswith("instyle: error:"), err
    assert err.endswith("\n") and err.count("\n") == 1, err


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTYLE_HOME", str(tmp_path / "home"))
    # no built-ins unless a test adds them: neither presets nor a network
    with shipped.use_assets({presets.BUILTIN_FILE: None, shipped.BUILTIN_MODEL: None}):
        yield tmp_path / "home"


@pytest.fixture
def builtins(tmp_path_factory):
    """One built-in preset, zebra, in a preset file standing in for the shipped one."""
    g = torch.Generator().manual_seed(0)
    stats = (torch.randn(1, 512, 1, 1, generator=g), torch.rand(1, 512, 1, 1, generator=g) + 0.1)
    folder = tmp_path_factory.mktemp("builtin_presets")
    path = presets.save_builtin_file(folder / presets.BUILTIN_FILE, {"zebra": (stats, "zebra.jpg", 512)})
    with shipped.use_assets({presets.BUILTIN_FILE: path}):
        yield path


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return write_photo(tmp_path_factory.mktemp("styles_inputs") / "painting.png", (52, 40), grid=(5, 5))


def save(name, image, capsys, *extra):
    return run_cli(["styles", "save", name, image, "--style-size", "64", *extra], capsys)


def test_list_empty(capsys):
    code, out, err = run_cli(["styles"], capsys)
    assert code == 0, err
    assert "no presets" in out and "instyle styles save" in out
    code, out, err = run_cli(["styles", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out) == []


def test_save_then_list(image, capsys, home):
    code, out, err = save("my_style", image, capsys)
    assert code == 0, err
    assert "my_style" in out and "--style my_style" in out
    assert (home / "styles" / "my_style.safetensors").is_file()
    code, out, err = run_cli(["styles"], capsys)
    assert code == 0, err
    [line] = [ln for ln in out.splitlines() if ln.startswith("my_style")]
    assert "saved" in line and "painting.png" in line
    assert str(home / "styles") in out
    code, out, err = run_cli(["styles", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out) == [
        {"name": "my_style", "builtin": False, "fast": False, "adain": True, "source": "painting.png", "style_size": 64}
    ]


def test_list_with_builtins(image, builtins, capsys):
    assert save("alpha", image, capsys)[0] == 0
    code, out, err = run_cli(["styles", "--json"], capsys)
    assert code == 0, err
    assert [(p["name"], p["builtin"]) for p in json.loads(out)] == [("alpha", False), ("zebra", True)]
    code, out, err = run_cli(["styles"], capsys)
    assert code == 0, err
    [line] = [ln for ln in out.splitlines() if ln.startswith("zebra")]
    assert "built-in" in line and "zebra.jpg" in line


def test_save_json_and_stats_match_the_stylizer(image, capsys, home):
    """The preset holds what AdaINStylizer.style_stats computes for the image at that style size."""
    from instyle.models.adain import AdaINConfig, AdaINDecoder
    from instyle.stylize import AdaINStylizer

    code, out, err = save("same", image, capsys, "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res == {"name": "same", "path": str(home / "styles" / "same.safetensors")}
    st = AdaINStylizer(AdaINDecoder(AdaINConfig(width=0.25)), precision="fp32", style_size=64)
    ref_mean, ref_std = st.style_stats(str(image))
    mean, std = presets.load_preset("same")
    tol = 1e-5 * ref_mean.abs().max().item()
    assert (mean - ref_mean).abs().max() <= tol
    assert (std - ref_std).abs().max() <= tol


def test_save_again_needs_overwrite(image, capsys, home):
    assert save("twice", image, capsys)[0] == 0
    path = home / "styles" / "twice.safetensors"
    before = path.read_bytes()
    code, out, err = save("twice", image, capsys, "--style-size", "32")
    assert code == 2
    assert_one_line_error(err)
    assert "--overwrite" in err
    assert out == ""
    assert path.read_bytes() == before
    code, out, err = save("twice", image, capsys, "--style-size", "32", "--overwrite")
    assert code == 0, err
    assert path.read_bytes() != before
    assert presets.list_presets()[0].style_size == 32


def test_remove(image, capsys, home):
    assert save("gone", image, capsys)[0] == 0
    code, out, err = run_cli(["styles", "remove", "gone", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out) == {"removed": "gone", "path": str(home / "styles" / "gone.safetensors")}
    assert not (home / "styles" / "gone.safetensors").exists()
    code, out, err = run_cli(["styles", "remove", "gone"], capsys)
    assert code == 1
    assert_one_line_error(err)
    assert "not a saved preset" in err


def test_remove_plain_message(image, capsys):
    assert save("bye", image, capsys)[0] == 0
    code, out, err = run_cli(["styles", "remove", "bye"], capsys)
    assert code == 0, err
    assert out.strip() == "removed preset 'bye'"


def test_remove_builtin_refused(builtins, capsys):
    code, _out, err = run_cli(["styles", "remove", "zebra"], capsys)
    assert code == 1
    assert_one_line_error(err)
    assert "built-in" in err


@pytest.mark.parametrize("name", ["Bad", "../x", "has space", "_x", "name.png", "x" * 65])
@pytest.mark.parametrize("action", ["save", "remove"])
def test_invalid_name_exit_2(image, capsys, home, name, action):
    argv = ["styles", action, name] + ([image] if action == "save" else [])
    code, _out, err = run_cli(argv, capsys)
    assert code == 2
    assert_one_line_error(err)
    assert "invalid preset name" in err
    assert not (home / "styles").exists()


def test_save_missing_image_exit_1(capsys, home, tmp_path):
    code, _out, err = save("nope", tmp_path / "missing.png", capsys)
    assert code == 1
    assert_one_line_error(err)
    assert "missing.png" in err
    assert not (home / "styles" / "nope.safetensors").exists()


def test_save_missing_arguments_exit_2(capsys):
    code, _out, err = run_cli(["styles", "save", "only_name"], capsys)
    assert code == 2
    assert_one_line_error(err)


def test_list_marks_the_styles_of_the_builtin_network(capsys, builtins, image, tmp_path):
    net = tiny_fast_net(tmp_path / "builtin.safetensors", ("zebra", "only_net"))
    with shipped.use_assets({shipped.BUILTIN_MODEL: net}):
        assert save("mine", image, capsys)[0] == 0
        code, out, err = run_cli(["styles", "--json"], capsys)
        assert code == 0, err
        rows = {r["name"]: r for r in json.loads(out)}
        assert (rows["zebra"]["fast"], rows["zebra"]["adain"], rows["zebra"]["builtin"]) == (True, True, True)
        assert (rows["only_net"]["fast"], rows["only_net"]["adain"]) == (True, False)
        assert (rows["mine"]["fast"], rows["mine"]["adain"], rows["mine"]["builtin"]) == (False, True, False)
        code, out, err = run_cli(["styles"], capsys)
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.strip()}
    assert "fast+adain" in lines["zebra"] and " fast " in lines["only_net"] + " " and "saved" in lines["mine"]
