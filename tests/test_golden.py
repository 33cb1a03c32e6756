"""What users get from every shipped network, pinned: a fixed photo's output (per-channel means, a
few pixels) and its Evaluator scores, in fp32, for the built-in network's 16 styles, a blend and
kept colours, the large built-in network, and AdaIN with presets, a style image, α and kept colours
(tests/golden/pins.py). A change that alters any of them fails here; if it is meant to, refresh the
pins with ``python tests/golden/regen.py`` and say so.

Tolerances: 2e-3 on pixels and means (half a level of 255) and 1e-3 relative on scores. Running the
same fp32 networks through other kernels (onnxruntime instead of torch) moves pixels by about 2e-5,
and another x86 CPU's summation order by less. bf16 inference moves the pinned pixels by 5e-3 to
6e-3 (built-in candy, AdaIN wave), so these pins catch it, and a retrained or rebuilt network moves
them by far more (a rebuilt preset moved AdaIN's statistics by 12-16 %).
"""

from __future__ import annotations

import json

import pytest

from golden.pins import PINS, compute, skimage_photo

pytestmark = pytest.mark.slow  # every shipped network and VGG-19

try:
    skimage_photo("chelsea.png")
except FileNotFoundError:
    pytest.skip("needs scikit-image's photos", allow_module_level=True)

PIXEL_TOL = 2e-3
SCORE_RTOL = 1e-3


@pytest.fixture(scope="module")
def now():
    return compute()


PINNED = json.loads(PINS.read_text())


def test_every_case_is_pinned(now):
    assert sorted(now) == sorted(PINNED)
    assert sum(name.startswith("builtin/") for name in PINNED) >= 16 + 2


@pytest.mark.parametrize("name", sorted(PINNED))
def test_output_is_pinned(now, name):
    got, want = now[name], PINNED[name]
    assert got["means"] == pytest.approx(want["means"], abs=PIXEL_TOL)
    for g, w in zip(got["pixels"], want["pixels"]):
        assert g == pytest.approx(w, abs=PIXEL_TOL)
    assert got["scores"] == pytest.approx(want["scores"], rel=SCORE_RTOL)
