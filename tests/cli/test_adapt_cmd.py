"""``instyle adapt``: AdaBN for ``--norm batch`` fast networks, and its refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from instyle.checkpoint import load_model, save_model
from instyle.models import JohnsonConfig, JohnsonNet

from ._helpers import run_cli


@pytest.fixture
def bn_model(tmp_path):
    torch.manual_seed(0)
    net = JohnsonNet(JohnsonConfig(norm="batch", width=0.125, residual_blocks=1)).eval()
    return save_model(tmp_path / "bn.safetensors", net)


@pytest.fixture
def night(tmp_path):
    """A dark, blue-cast domain: four photos of two shapes."""
    folder = tmp_path / "night"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for k, (w, h) in enumerate([(40, 30), (30, 40), (40, 30), (32, 32)]):
        px = rng.integers(0, 60, (h, w, 3)).astype(np.uint8)
        px[..., 2] += 80
        Image.fromarray(px).save(folder / f"n{k}.png")
    return folder


def test_adapt_writes_the_domains_statistics_and_keeps_the_weights(bn_model, night, tmp_path, capsys):
    out = tmp_path / "adapted.safetensors"
    code, stdout, err = run_cli(["adapt", bn_model, "--to", night, "-o", out, "--size", "32", "--json", "-q"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    assert res["images"] == 4 and res["batchnorm_layers"] > 3 and res["output"] == str(out)
    before, _ = load_model(bn_model)
    after, meta = load_model(out)
    assert meta["adapted_to"].endswith("night")
    # the first BN layer's statistics: its input (the first conv of each photo read at 32 px), over all pixels
    from instyle.imageio import load_image

    first_bn = next(m for m in after.modules() if isinstance(m, torch.nn.BatchNorm2d))
    stem = torch.nn.Sequential(before.down[0].pad, before.down[0].conv)  # reflection pad, first conv
    with torch.no_grad():
        feats = [stem(load_image(p, size=32)) for p in sorted(night.iterdir())]
    flat = torch.cat([f.transpose(0, 1).flatten(1) for f in feats], 1).double()  # (C, all pixels)
    torch.testing.assert_close(first_bn.running_mean.double(), flat.mean(1), atol=2e-3, rtol=2e-3)
    torch.testing.assert_close(first_bn.running_var.double(), flat.var(1), atol=2e-3, rtol=2e-3)
    for (k, a), (_, b) in zip(before.state_dict().items(), after.state_dict().items()):
        if "running" not in k and "num_batches" not in k:
            assert torch.equal(a.half().float(), b), k  # fp16 on disk: the weights as stored


def test_adapt_refuses_what_it_cannot_do(bn_model, night, tmp_path, capsys):
    torch.manual_seed(0)
    inorm = save_model(tmp_path / "in.safetensors", JohnsonNet(JohnsonConfig(width=0.125, residual_blocks=1)))
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "o.safetensors"
    out_exists = tmp_path / "exists.safetensors"
    out_exists.write_bytes(b"x")
    cases = [
        ([inorm, "--to", night, "-o", out], "no batch-norm layers"),
        ([bn_model, "--to", empty, "-o", out], "no images"),
        ([bn_model, "--to", tmp_path / "missing", "-o", out], "not a folder"),
        ([bn_model, "--to", night, "-o", out_exists], "already exists"),
        ([bn_model, "--to", night, "-o", tmp_path / "o.pt"], ".safetensors"),
    ]
    for argv, message in cases:
        code, _, err = run_cli(["adapt", *argv, "-q"], capsys)
        assert code in (1, 2) and message in err and err.count("\n") == 1, (argv, err)
        assert "Traceback" not in err
    assert not out.exists() and out_exists.read_bytes() == b"x"
