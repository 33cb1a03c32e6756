"""The result recoloured to its painting's palette (instyle.palette)."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from instyle.palette import CUBE, _Random, apply_cube, match_palette, palette_cube


def _photo(h=96, w=128, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([0.2 + 0.5 * xx, 0.3 + 0.4 * yy, 0.6 - 0.3 * xx], -1)  # a blue-cream ramp
    return np.clip(base + rng.normal(0, 0.05, (h, w, 3)), 0, 1).astype(np.float32)


def _painting(h=80, w=80, seed=1):
    rng = np.random.default_rng(seed)
    red = np.array([0.8, 0.1, 0.1]) + rng.normal(0, 0.05, (h, w // 2, 3))
    yellow = np.array([0.95, 0.85, 0.1]) + rng.normal(0, 0.05, (h, w - w // 2, 3))
    return np.clip(np.concatenate([red, yellow], 1), 0, 1).astype(np.float32)


def _sliced_distance(a, b, n=64, seed=0):
    # sliced Wasserstein-1 between two colour clouds: the mean over random axes of the quantile gaps
    dirs = np.random.default_rng(seed).normal(size=(n, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    q = np.linspace(0, 1, 101)
    pa, pb = a.reshape(-1, 3) @ dirs.T, b.reshape(-1, 3) @ dirs.T
    return float(np.mean(np.abs(np.quantile(pa, q, axis=0) - np.quantile(pb, q, axis=0))))


def test_the_result_takes_the_paintings_colours():
    photo, painting = _photo(), _painting()
    out = match_palette(photo, [painting])
    assert out.shape == photo.shape and out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    before, after = _sliced_distance(photo, painting), _sliced_distance(out, painting)
    assert after < 0.15 * before, (before, after)


def test_the_pictures_layout_is_kept():
    # a monotone map along each axis: brighter stays brighter (the photo's shapes survive)
    photo = _photo()
    out = match_palette(photo, [_painting()])
    rank = lambda x: np.argsort(np.argsort((x @ np.array([0.299, 0.587, 0.114])).ravel()))  # noqa: E731
    assert np.corrcoef(rank(photo), rank(out))[0, 1] > 0.8  # Spearman's rank correlation of the luma


def test_its_own_palette_changes_little():
    photo = _photo()
    assert np.abs(match_palette(photo, [photo]) - photo).mean() < 0.01


def test_strength_blends_with_the_result_as_it_was():
    photo, painting = _photo(), _painting()
    full = match_palette(photo, [painting])
    assert match_palette(photo, [painting], strength=0.0) is photo
    np.testing.assert_allclose(match_palette(photo, [painting], strength=0.25), 0.25 * full + 0.75 * photo, atol=1e-6)


def test_several_paintings_are_pooled_by_weight():
    photo, red, yellow = _photo(), _painting()[:, :40], _painting()[:, 40:]
    mostly_red = match_palette(photo, [red, yellow], [0.9, 0.1])
    mostly_yellow = match_palette(photo, [red, yellow], [0.1, 0.9])
    assert mostly_red[..., 1].mean() < mostly_yellow[..., 1].mean() - 0.15  # yellow has the green
    np.testing.assert_array_equal(match_palette(photo, [red, yellow], [1, 1]), match_palette(photo, [red, yellow]))


def test_deterministic_for_a_seed():
    photo, painting = _photo(), _painting()
    np.testing.assert_array_equal(match_palette(photo, [painting]), match_palette(photo, [painting]))
    assert not np.array_equal(match_palette(photo, [painting], seed=1), match_palette(photo, [painting]))


def test_the_identity_cube_is_exact():
    axis = np.linspace(0, 1, CUBE, dtype=np.float32)
    identity = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1)
    photo = _photo()
    np.testing.assert_allclose(apply_cube(photo, identity), photo, atol=1e-6)


def test_one_colour_on_either_side():
    flat = np.full((8, 8, 3), 0.5, np.float32)
    out = match_palette(flat, [_painting()])
    assert np.isfinite(out).all()
    np.testing.assert_allclose(match_palette(_photo(), [np.full((4, 4, 3), 0.2, np.float32)]), 0.2, atol=1e-3)


@pytest.mark.parametrize(
    "args, kwargs",
    [
        (([],), {}),
        (([np.zeros((4, 4))],), {}),
        (([np.zeros((4, 4, 3))],), {"strength": 1.5}),
        (([np.zeros((4, 4, 3))], [1, 2]), {}),
        (([np.zeros((4, 4, 3))], [0]), {}),
    ],
)
def test_bad_values_are_value_errors(args, kwargs):
    with pytest.raises(ValueError):
        match_palette(_photo(8, 8), *args, **kwargs)
    with pytest.raises(ValueError):
        palette_cube(np.zeros((0, 3)), np.zeros((4, 3)))


def test_the_generator_is_mulberry32():
    # the first draws of mulberry32(0), as the page's JavaScript computes them
    first = _Random(0).uniform(3)
    np.testing.assert_allclose(
        first, [0.26642920868471265, 0.0003297457005828619, 0.2232720274478197], rtol=0, atol=1e-15
    )
    rng = _Random(0)
    np.testing.assert_array_equal(np.concatenate([rng.uniform(1), rng.uniform(2)]), first)  # runs continue


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_the_pages_copy_gives_the_same_picture(tmp_path):
    # serve/static/local.js matchPalette: the same draws and the same maps, to rounding
    source = (Path(__file__).parent.parent / "src/instyle/serve/static/local.js").read_text()
    script = tmp_path / "palette.mjs"
    script.write_text(
        "class ImageData {\n"
        "  constructor(w, h) { this.width = w; this.height = h; this.data = new Uint8ClampedArray(w * h * 4); }\n"
        "}\n"
        "globalThis.ImageData = ImageData;\nimport fs from 'fs';\n"
        + source[source.index("const PALETTE") :]
        + """
const a = JSON.parse(fs.readFileSync(process.argv[2]));
function image(w, h, px) {
  const im = new ImageData(w, h);
  px.forEach((v, i) => { im.data[4 * Math.floor(i / 3) + (i % 3)] = v; });
  for (let i = 3; i < im.data.length; i += 4) im.data[i] = 255;
  return im;
}
const out = matchPalette(image(a.w, a.h, a.img), image(a.sw, a.sh, a.style), a.strength);
console.log(JSON.stringify(Array.from(out.data).filter((_, i) => i % 4 !== 3)));
"""
    )
    photo = np.round(_photo(200, 150) * 255).astype(np.uint8)  # 30,000 pixels: sampled, not all
    painting = np.round(_painting(160, 160) * 255).astype(np.uint8)
    for strength in (1.0, 0.5):
        spec = {
            "w": 150,
            "h": 200,
            "img": photo.ravel().tolist(),
            "sw": 160,
            "sh": 160,
            "style": painting.ravel().tolist(),
        }
        (tmp_path / "in.json").write_text(json.dumps({**spec, "strength": strength}))
        run = subprocess.run(
            ["node", str(script), str(tmp_path / "in.json")], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, run.stderr
        js = np.array(json.loads(run.stdout), np.float32).reshape(photo.shape)
        py = match_palette(photo / np.float32(255), [painting / np.float32(255)], strength=strength)
        diff = np.abs(np.round(py * 255) - js)
        assert diff.max() <= 1 and diff.mean() < 0.01, (diff.mean(), diff.max())
