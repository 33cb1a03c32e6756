"""``instyle web export``: the static page, whole or not at all, never over a folder without --overwrite."""

from __future__ import annotations

import json

import pytest

from ._helpers import run_cli

pytestmark = pytest.mark.slow  # the built-in network draws the thumbnails


def test_export_writes_the_page_and_refuses_to_overwrite(tmp_path, capsys):
    site = tmp_path / "site"
    code, _out, err = run_cli(["web", "export", site], capsys)
    assert code == 0, err
    info = json.loads((site / "api" / "styles").read_text())
    assert info["static"] and all((site / s["thumbnail"]).is_file() for s in info["styles"])
    for rel in ("index.html", "sw.js", "manifest.webmanifest", info["local"]["model"], info["local"]["video"]):
        assert (site / rel).is_file(), rel
    assert all((site / "static" / "ort" / n).is_file() for n in ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.wasm"))
    (site / "mine.txt").write_text("x")
    code, _, err = run_cli(["web", "export", site], capsys)
    assert code == 1 and err.count("\n") == 1 and "--overwrite" in err
    assert (site / "mine.txt").exists()
    code, _, err = run_cli(["web", "export", site, "--overwrite"], capsys)
    assert code == 0 and not (site / "mine.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no temporary folder left
