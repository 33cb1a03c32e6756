"""One contract for the three stylizing callables, ``AdaINStylizer`` (AdaIN), ``FastStylizer`` and
``GatysOptimizer``: float32 out, values in [0, 1], the input's size (odd, tiny and thin sizes too),
the same output for the same call, and a batch gives what its images give one by one (or, where a
callable takes one image only, a clear refusal instead of something else).

Tiny seeded models keep it fast; the shipped networks are pinned in test_golden.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from instyle import AdaINStylizer, FastStylizer, GatysOptimizer, OptimizeConfig
from instyle.errors import UsageError
from instyle.models import AdaINConfig, AdaINDecoder, JohnsonConfig, JohnsonNet, LightAdaIN, LightAdaINConfig

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # slow: VGG-19 (AdaIN, Gatys)

SIZES = [(24, 20), (17, 31), (1, 1), (3, 40), (40, 3)]


@pytest.fixture(scope="module")
def callables() -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    torch.manual_seed(0)
    style = torch.rand(1, 3, 30, 30, generator=torch.Generator().manual_seed(1))
    fast = FastStylizer(JohnsonNet(JohnsonConfig(width=0.125, residual_blocks=1)).eval(), precision="fp32")
    adain = AdaINStylizer(AdaINDecoder(AdaINConfig(width=0.125)), precision="fp32", style_size=32)
    light = AdaINStylizer(LightAdaIN(LightAdaINConfig(width=0.125)).eval(), precision="fp32", style_size=32)
    gatys = GatysOptimizer(OptimizeConfig(steps=2, precision="fp32"))
    return {
        "FastStylizer": fast,
        "AdaINStylizer": lambda x: adain(x, style),
        "AdaINStylizer light": lambda x: light(x, style),
        "GatysOptimizer": lambda x: gatys(x, [style]),
    }


NAMES = ["FastStylizer", "AdaINStylizer", "AdaINStylizer light", "GatysOptimizer"]
BATCHES = {"FastStylizer": True, "AdaINStylizer": True, "AdaINStylizer light": True, "GatysOptimizer": False}


def _image(h: int, w: int, seed: int = 0, n: int = 1) -> torch.Tensor:
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("hw", SIZES)
def test_dtype_range_and_size(callables, name, hw):
    out = callables[name](_image(*hw))
    assert out.dtype == torch.float32 and out.shape == (1, 3, *hw)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("name", NAMES)
def test_deterministic(callables, name):
    x = _image(24, 20)
    torch.testing.assert_close(callables[name](x), callables[name](x), rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_a_batch_is_its_images_one_by_one(callables, name):
    x = _image(24, 20, n=2)
    if not BATCHES[name]:
        with pytest.raises((ValueError, UsageError), match=r"\(1, 3, H, W\)"):
            callables[name](x)
        return
    out = callables[name](x)
    assert out.shape == (2, 3, 24, 20)
    for i in range(2):
        torch.testing.assert_close(out[i : i + 1], callables[name](x[i : i + 1]), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_the_input_is_left_alone(callables, name):
    x = _image(24, 20)
    before = x.clone()
    callables[name](x)
    torch.testing.assert_close(x, before, rtol=0, atol=0)
