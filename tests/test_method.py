"""``--method auto``: the fast network or AdaIN, per request and per built-in style."""

from __future__ import annotations

import json

import pytest

from instyle import presets, shipped
from instyle.errors import OptionError, UsageError, WeightsError
from instyle.method import choose_color, choose_method


@pytest.fixture
def preferred(builtin_net, monkeypatch, tmp_path):
    """The stand-in network's styles alpha, beta, gamma; people preferred beta's and gamma's
    AdaIN presets, and only alpha and beta have one."""
    defaults = tmp_path / shipped.STYLE_DEFAULTS
    defaults.write_text(json.dumps({"methods": {"alpha": "fast", "beta": "adain", "gamma": "adain"}}))
    monkeypatch.setattr(presets, "is_preset", lambda name: name in {"alpha", "beta"})
    monkeypatch.setattr(presets, "is_user_preset", lambda name: False)
    with shipped.use_assets({shipped.STYLE_DEFAULTS: defaults}):
        yield


def test_auto_runs_the_method_people_preferred_for_each_style(preferred):
    assert choose_method("auto", ["alpha"]) == "fast"
    assert choose_method("auto", ["beta"]) == "adain"
    assert choose_method("auto", ["alpha", "beta"]) == "adain"  # both have presets: one blend, AdaIN
    assert choose_method("auto", ["gamma"]) == "fast"  # preferred, but no preset to run
    assert choose_method("auto", ["beta", "gamma"]) == "fast"
    # asked for by name, each method still runs
    assert choose_method("fast", ["beta"]) == "fast" and choose_method("adain", ["alpha"]) == "adain"


def test_auto_with_adain_only_options_or_unknown_styles_is_adain(preferred):
    assert choose_method("auto", ["alpha"], ["--mask"]) == "adain"
    assert choose_method("auto", ["alpha", "starry.jpg"]) == "adain"
    with pytest.raises(UsageError, match="not a built-in style"):
        choose_method("fast", ["starry.jpg"])


def test_style_defaults_are_read_from_the_asset(tmp_path):
    with shipped.use_assets(tmp_path):
        assert shipped.adain_preferred() == frozenset()  # no file: the fast network for every style
        (tmp_path / shipped.STYLE_DEFAULTS).write_text(json.dumps({"methods": {"a": "adain", "b": "fast"}}))
        shipped.adain_preferred.cache_clear()
        assert shipped.adain_preferred() == frozenset({"a"})
        (tmp_path / shipped.STYLE_DEFAULTS).write_text("{oops")
        shipped.adain_preferred.cache_clear()
        with pytest.raises(WeightsError, match="cannot be read"):
            shipped.adain_preferred()


def test_the_shipped_defaults_name_built_in_styles_with_presets():
    shipped.adain_preferred.cache_clear()
    chosen = shipped.adain_preferred()
    assert chosen <= set(shipped.builtin_styles())
    assert all(presets.is_preset(name) for name in chosen)


def test_choose_style_defaults_script_picks_the_preferred_method_ties_to_the_network(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import choose_style_defaults as script

    report = {
        "methods": ["fast", "preset"],
        "overall_by_style": {
            "pytorch_mosaic": {"fast": 1, "preset": 3},
            "pytorch_candy": {"fast": 2, "preset": 2},
            "adain_sketch": {"fast": 3, "preset": 0},
        },
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    out = tmp_path / "defaults.json"
    assert script.main([str(path), "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["methods"] == {"candy": "fast", "mosaic": "adain", "sketch": "fast"}
    assert doc["votes"]["mosaic"] == {"fast": 1, "preset": 3}
    report["overall_by_style"]["unknown_painting"] = {"fast": 1}
    path.write_text(json.dumps(report))
    with pytest.raises(SystemExit, match="not the painting of a built-in style"):
        script.main([str(path), "-o", str(out)])


def test_auto_colours_are_the_paintings_palette_for_adain_with_style_images():
    assert choose_color("auto", "adain", images=True) == "palette"
    assert choose_color("auto", "adain", images=True, masks=True) == "none"  # one palette cannot serve regions
    assert choose_color("auto", "adain", images=False) == "none"  # presets: statistics, no picture
    assert choose_color("auto", "fast", images=False) == "none"
    assert choose_color("luminance", "fast", images=False) == "luminance"
    assert choose_color("none", "adain", images=True) == "none"
    with pytest.raises(OptionError, match='color="palette"') as info:
        choose_color("palette", "adain", images=False)
    assert "--color palette" in info.value.for_cli()
    with pytest.raises(UsageError):
        choose_color("sepia", "adain", images=True)
