"""instyle.presets: style presets (relu4_1 mean/std) saved by the user and built into the package.

Every test runs with INSTYLE_HOME in a temporary folder, and the built-in preset file is replaced
by one written into a temporary package-like folder (``shipped.use_assets``), so the
tests neither see nor touch the real user folder or the shipped presets (except the one test
that checks the shipped file itself).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from instyle import presets, shipped
from instyle.errors import InstyleError, UsageError
from instyle.stylize import make_preset


def _stats(seed, c=512):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, c, 1, 1, generator=g) * 3, torch.rand(1, c, 1, 1, generator=g) + 0.1


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTYLE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _fake_package(root: Path, builtins=None) -> Path:
    """A folder ``root/assets`` standing in for instyle's (its built-in preset file written if
    ``builtins``), for :func:`instyle.shipped.use_assets`."""
    (root / "assets").mkdir(parents=True, exist_ok=True)
    if builtins is not None:
        presets.save_builtin_file(root / "assets" / presets.BUILTIN_FILE, builtins)
    return root / "assets"


@pytest.fixture
def no_builtins(tmp_path):
    with shipped.use_assets(_fake_package(tmp_path / "pkg_empty")):
        yield


BUILTINS = {"starry": (_stats(100), "/some/where/starry_night.jpg", 512), "wave": (_stats(101), "wave.png", 256)}


@pytest.fixture
def builtins(tmp_path):
    with shipped.use_assets(_fake_package(tmp_path / "pkg", BUILTINS)):
        yield BUILTINS


# --------------------------------------------------------------------------- where presets live


def test_user_dir_from_environment(home, monkeypatch, tmp_path):
    assert presets.user_dir() == home / "styles"
    monkeypatch.delenv("INSTYLE_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert presets.user_dir() == tmp_path / "xdg" / "instyle" / "styles"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert presets.user_dir() == tmp_path / "h" / ".local" / "share" / "instyle" / "styles"


# --------------------------------------------------------------------------- save / load


def test_save_load_round_trip(no_builtins, home):
    stats = _stats(1)
    path = presets.save_preset("my_style", stats, source="/photos/painting.jpg", style_size=384)
    assert path == home / "styles" / "my_style.safetensors"
    assert path.is_file()
    mean, std = presets.load_preset("my_style")
    assert mean.shape == std.shape == (1, 512, 1, 1)
    assert mean.dtype == std.dtype == torch.float32
    assert torch.equal(mean, stats[0]) and torch.equal(std, stats[1])
    assert presets.is_preset("my_style")
    [info] = presets.list_presets()
    assert info == presets.PresetInfo("my_style", False, "painting.jpg", 384)  # file name only


def test_a_source_name_that_is_not_utf8_is_stored(no_builtins, home):
    source = os.fsdecode(b"/photos/caf\xe9.jpg")  # Latin-1 bytes on a UTF-8 system: a surrogate escape
    presets.save_preset("latin", _stats(1), source=source)
    [info] = presets.list_presets()
    assert info.source == "caf\ufffd.jpg"


def test_save_accepts_flat_and_half_stats(no_builtins):
    mean, std = _stats(2)
    presets.save_preset("flat", (mean.view(-1).half(), std.view(-1).half()))
    got = presets.load_preset("flat")
    torch.testing.assert_close(got[0], mean.half().float().view(1, -1, 1, 1), rtol=0, atol=0)
    torch.testing.assert_close(got[1], std.half().float().view(1, -1, 1, 1), rtol=0, atol=0)


@pytest.mark.parametrize("c", [256, 513])
def test_save_rejects_wrong_channel_count(no_builtins, c):
    with pytest.raises(ValueError, match="512"):
        presets.save_preset("bad", _stats(3, c))
    assert not presets.is_preset("bad")


BAD_NAMES = ["", "Upper", "-dash", "_under", "a b", "../escape", "dir/name", "name.png", "x" * 65, "ünïcode", "a\n"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_names_rejected(no_builtins, home, name):
    with pytest.raises(UsageError, match="invalid preset name"):
        presets.check_name(name)
    with pytest.raises(UsageError):
        presets.save_preset(name, _stats(4))
    with pytest.raises(UsageError):
        presets.remove_preset(name)
    assert not presets.is_preset(name)
    with pytest.raises(InstyleError):
        presets.load_preset(name)
    assert not (home / "styles").exists() or list((home / "styles").iterdir()) == []


@pytest.mark.parametrize("name", ["a", "0", "my-style_2", "x" * 64])
def test_valid_names(no_builtins, name):
    assert presets.check_name(name) == name
    presets.save_preset(name, _stats(5))
    assert presets.is_preset(name)


def test_overwrite_refused_then_allowed(no_builtins):
    first, second = _stats(6), _stats(7)
    path = presets.save_preset("twice", first)
    before = path.read_bytes()
    with pytest.raises(InstyleError, match="already exists") as exc:
        presets.save_preset("twice", second)
    assert "pass overwrite=True" in str(exc.value) and "pass --overwrite" in exc.value.for_cli()
    assert path.read_bytes() == before
    assert torch.equal(presets.load_preset("twice")[0], first[0])
    presets.save_preset("twice", second, overwrite=True)
    assert torch.equal(presets.load_preset("twice")[0], second[0])
    assert not any(p.name.endswith(".tmp") for p in path.parent.iterdir())


def test_unknown_preset(no_builtins):
    assert not presets.is_preset("nothing")
    with pytest.raises(InstyleError, match="instyle styles"):
        presets.load_preset("nothing")


# --------------------------------------------------------------------------- listing and built-ins


def test_list_empty(no_builtins, home):
    assert presets.list_presets() == []
    (home / "styles").mkdir(parents=True)
    (home / "styles" / "notes.txt").write_text("not a preset")
    assert presets.list_presets() == []


def test_list_user_and_builtin_sorted(builtins):
    presets.save_preset("mine", _stats(8), source="m.jpg", style_size=128)
    listed = presets.list_presets()
    assert [p.name for p in listed] == ["mine", "starry", "wave"]
    by_name = {p.name: p for p in listed}
    assert by_name["mine"] == presets.PresetInfo("mine", False, "m.jpg", 128)
    assert by_name["starry"] == presets.PresetInfo("starry", True, "starry_night.jpg", 512)
    assert by_name["wave"] == presets.PresetInfo("wave", True, "wave.png", 256)


def test_builtin_load(builtins):
    for name, (stats, _, _) in builtins.items():
        assert presets.is_preset(name)
        mean, std = presets.load_preset(name)
        assert mean.shape == (1, 512, 1, 1)
        assert torch.equal(mean, stats[0]) and torch.equal(std, stats[1])


def test_user_preset_shadows_builtin(builtins):
    own = _stats(9)
    presets.save_preset("wave", own, source="mine.png")
    [wave] = [p for p in presets.list_presets() if p.name == "wave"]
    assert not wave.builtin and wave.source == "mine.png"
    assert torch.equal(presets.load_preset("wave")[0], own[0])
    presets.remove_preset("wave")  # the built-in is back
    [wave] = [p for p in presets.list_presets() if p.name == "wave"]
    assert wave.builtin
    assert torch.equal(presets.load_preset("wave")[0], builtins["wave"][0][0])


def test_builtin_file_rejects_bad_names(tmp_path):
    with pytest.raises(UsageError):
        presets.save_builtin_file(tmp_path / "p.safetensors", {"Bad Name": (_stats(10), "x.jpg", 512)})


# --------------------------------------------------------------------------- remove


def test_remove(no_builtins):
    path = presets.save_preset("gone", _stats(11))
    assert presets.remove_preset("gone") == path
    assert not path.exists()
    assert not presets.is_preset("gone")
    with pytest.raises(InstyleError, match="not a saved preset"):
        presets.remove_preset("gone")


def test_remove_builtin_refused(builtins):
    with pytest.raises(InstyleError, match="built-in"):
        presets.remove_preset("starry")
    assert presets.is_preset("starry")


# --------------------------------------------------------------------------- corrupt files


def _write_user(home, name, data: bytes) -> Path:
    folder = home / "styles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.safetensors").write_bytes(data)
    return folder / f"{name}.safetensors"


def _preset_bytes(meta_changes=None, tensors=None):
    from safetensors.torch import save

    mean, std = _stats(12)
    meta = {
        "format": presets.PRESET_FORMAT,
        "format_version": str(presets.PRESET_VERSION),
        "encoder": presets.ENCODER_ID,
        "source": "s.jpg",
        "style_size": "512",
    }
    meta.update(meta_changes or {})
    meta = {k: v for k, v in meta.items() if v is not None}
    if tensors is None:
        tensors = {"mean": mean.view(-1), "std": std.view(-1)}
    return save(tensors, metadata=meta)


CORRUPT = [
    ("garbage", b"definitely not safetensors", "corrupt"),
    ("empty", b"", "corrupt"),
    ("truncated", _preset_bytes()[:100], "corrupt"),
    ("no_metadata", _preset_bytes({"format": None}), "not an instyle style preset"),
    ("other_format", _preset_bytes({"format": "instyle.model"}), "not an instyle style preset"),
    ("newer", _preset_bytes({"format_version": "99"}), "newer"),
    ("bad_version", _preset_bytes({"format_version": "one"}), "format"),
    ("other_encoder", _preset_bytes({"encoder": "resnet/layer3"}), "another encoder"),
    ("no_tensors", _preset_bytes(tensors={"something": torch.zeros(3)}), "mean/std"),
]


@pytest.mark.parametrize("name, data, message", CORRUPT, ids=[c[0] for c in CORRUPT])
def test_corrupt_preset_file(no_builtins, home, name, data, message):
    path = _write_user(home, name, data)
    with pytest.raises(InstyleError, match=message) as exc:
        presets.load_preset(name)
    assert "\n" not in str(exc.value)
    assert str(path) in str(exc.value)
    # listing skips it instead of failing; a good preset beside it is still listed
    presets.save_preset("good", _stats(13))
    assert [p.name for p in presets.list_presets()] == ["good"]


def test_bad_style_size_metadata_is_a_clean_error(no_builtins, home):
    _write_user(home, "odd_size", _preset_bytes({"style_size": "big"}))
    with pytest.raises(InstyleError):
        presets.load_preset("odd_size")
    assert presets.list_presets() == []


# --------------------------------------------------------------------------- the shipped file


def test_shipped_builtin_presets_are_valid():
    from importlib import resources

    presets._builtin.cache_clear()
    if not (resources.files("instyle") / "assets" / presets.BUILTIN_FILE).is_file():
        pytest.skip("no built-in presets shipped")
    try:
        shipped = presets._builtin()
        assert shipped
        light = presets.shipped_light_encoder()
        for name, (by_encoder, info) in shipped.items():
            assert presets.NAME_RE.match(name) and info.name == name and info.builtin
            assert set(by_encoder) == {presets.ENCODER_ID} | ({light} if light else set())
            for encoder, (mean, std) in by_encoder.items():
                c = 512 if encoder == presets.ENCODER_ID else 128
                assert mean.shape == std.shape == (1, c, 1, 1)
                assert np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()
            assert json.dumps(info.source) and info.style_size > 0
    finally:
        presets._builtin.cache_clear()


@pytest.mark.slow
@pytest.mark.parametrize("hw", [(60, 44), (700, 520)])  # upscaled and downscaled to style_size
def test_make_preset_is_what_the_stylizer_takes_from_the_image(hw):
    from instyle import AdaINStylizer
    from instyle.models import AdaINConfig, AdaINDecoder

    torch.manual_seed(0)
    image = torch.rand(1, 3, *hw)
    stylizer = AdaINStylizer(
        AdaINDecoder(AdaINConfig(width=0.125)), precision="fp32", channels_last=False, style_size=128
    )
    mean, std = make_preset(image, style_size=128)
    ref_mean, ref_std = stylizer.style_stats(image)
    assert torch.allclose(mean, ref_mean, rtol=1e-4, atol=1e-4) and torch.allclose(std, ref_std, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------- the light network's statistics

LIGHT = "light/0123456789abcdef"


def test_a_preset_holds_the_light_networks_statistics_too(no_builtins):
    vgg, light = _stats(7), _stats(8, c=128)
    presets.save_preset("both", vgg, light=(LIGHT, light), source="x.jpg", style_size=512)
    for got, want in ((presets.load_preset("both"), vgg), (presets.load_preset("both", LIGHT), light)):
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert presets.has_statistics("both", LIGHT) and presets.has_statistics("both", presets.ENCODER_ID)
    assert not presets.has_statistics("both", "light/ffffffffffffffff")
    assert not presets.has_statistics("missing", LIGHT)
    mean, std = presets.load_preset_array("both", LIGHT)  # no torch on the onnxruntime path
    assert isinstance(mean, np.ndarray) and mean.shape == (1, 128, 1, 1) and np.array_equal(std, light[1].numpy())


def test_a_preset_without_light_statistics_says_how_to_fix_it(tmp_path):
    root = tmp_path / "pkg_light"
    (root / "assets").mkdir(parents=True)
    presets.save_builtin_file(
        root / "assets" / presets.BUILTIN_FILE,
        BUILTINS,
        light=(LIGHT, {n: _stats(i, c=128) for i, n in enumerate(BUILTINS)}),
    )
    with shipped.use_assets(root / "assets"):
        assert presets.shipped_light_encoder() == LIGHT
        assert presets.load_preset("wave", LIGHT)[0].shape == (1, 128, 1, 1)
        presets.save_preset("old", _stats(3))  # saved before the light network: VGG-19's only
        with pytest.raises(InstyleError, match='saved before the light network.*styles save.*arch="vgg"'):
            presets.load_preset("old", LIGHT)
        with pytest.raises(InstyleError, match="not for this light network.*as an image"):
            presets.load_preset("wave", "light/ffffffffffffffff")  # a light network the user trained


def test_version_1_files_still_load(no_builtins, home):
    from safetensors.torch import save

    mean, std = _stats(5)
    meta = {"format": presets.PRESET_FORMAT, "format_version": "1", "encoder": presets.ENCODER_ID}
    home_styles = presets.user_dir()
    home_styles.mkdir(parents=True)
    (home_styles / "v1.safetensors").write_bytes(save({"mean": mean.flatten(), "std": std.flatten()}, metadata=meta))
    assert torch.equal(presets.load_preset("v1")[0], mean)
    assert not presets.has_statistics("v1", LIGHT)
