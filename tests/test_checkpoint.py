"""Tests for instyle.checkpoint: versioned model files and the one-line errors for everything else.

The model is a small AdaIN decoder (width 0.25); no VGG is needed here.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from instyle.checkpoint import FORMAT_VERSION, load_model, read_model_file, save_model
from instyle.errors import InstyleError, WeightsError
from instyle.models import JohnsonConfig, JohnsonNet
from instyle.models.adain import AdaINConfig, AdaINDecoder
from instyle.train.state import LATEST, load_checkpoint, save_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

CONFIG = AdaINConfig(width=0.25)


@pytest.fixture(scope="module")
def decoder():
    torch.manual_seed(0)
    return AdaINDecoder(CONFIG).eval()


@pytest.fixture
def model_file(tmp_path, decoder):
    return save_model(tmp_path / "model.safetensors", decoder)


def _rewrite(path, **meta_changes):
    """Re-save a model file with some metadata entries changed (None removes one)."""
    data = path.read_bytes()
    state = st_load(data)
    n = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8 : 8 + n])["__metadata__"]
    for k, v in meta_changes.items():
        if v is None:
            meta.pop(k, None)
        else:
            meta[k] = v
    path.write_bytes(st_save(state, metadata=meta))
    return path


def _fails(path, match, **kwargs):
    with pytest.raises(WeightsError, match=match) as exc:
        load_model(path, **kwargs)
    msg = str(exc.value)
    assert "\n" not in msg and len(msg) < 400, msg
    return msg


# --------------------------------------------------------------------------- round trip


def test_round_trip_fp16(model_file, decoder):
    kind, config, state, meta = read_model_file(model_file)
    assert kind == "adain_decoder"
    assert config == {"width": 0.25, "in_channels": 512, "padding": "reflect", "upsample": "nearest"}
    assert meta["format"] == "instyle.model" and meta["format_version"] == str(FORMAT_VERSION)
    assert all(v.dtype == torch.float16 for v in state.values())
    assert set(state) == set(decoder.state_dict())

    loaded, meta = load_model(model_file, expect="adain_decoder")
    assert isinstance(loaded, AdaINDecoder) and not loaded.training
    assert loaded.config == CONFIG
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x = torch.rand(1, 512, 3, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = decoder(x), loaded(x)
    assert got.shape == (1, 3, 24, 32)
    assert torch.allclose(got, want, rtol=1e-2, atol=1e-2 * want.abs().max().item())


def test_round_trip_fp32_is_exact_and_keeps_extras(tmp_path, decoder):
    path = save_model(tmp_path / "m32.safetensors", decoder, dtype=torch.float32, extra={"note": "hi"})
    loaded, meta = load_model(path)
    assert meta["note"] == "hi"
    for k, v in decoder.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)


def test_save_model_refuses_to_overwrite_and_reserved_keys(model_file, decoder):
    with pytest.raises(InstyleError, match="already exists"):
        save_model(model_file, decoder)
    save_model(model_file, decoder, overwrite=True)
    with pytest.raises(ValueError, match="reserved"):
        save_model(model_file.with_name("x.safetensors"), decoder, extra={"config": "{}"})
    with pytest.raises(TypeError, match="not a registered"):
        save_model(model_file.with_name("y.safetensors"), torch.nn.Conv2d(1, 1, 1))


# --------------------------------------------------------------------------- errors


def test_missing_file_and_directory(tmp_path):
    assert "not found" in _fails(tmp_path / "nope.safetensors", "not found")
    _fails(tmp_path, "is a directory")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"12345678",
        bytes(range(7, 256)) * 4,
        b"\xff" * 8 + b"{}",
    ],
    ids=["empty", "short", "random", "bad-header"],
)
def test_garbage_bytes(tmp_path, data):
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(data)
    msg = _fails(path, "not a readable model file")
    assert "garbage.safetensors" in msg


def test_plain_safetensors_without_metadata(tmp_path):
    path = tmp_path / "plain.safetensors"
    path.write_bytes(st_save({"w": torch.zeros(2, 2)}))
    _fails(path, "without instyle metadata")
    path.write_bytes(st_save({"w": torch.zeros(2, 2)}, metadata={"format": "pt"}))
    _fails(path, "without instyle metadata")


def test_newer_format_version(model_file):
    _rewrite(model_file, format_version=str(FORMAT_VERSION + 1))
    msg = _fails(model_file, "newer than this instyle")
    assert "upgrade" in msg


@pytest.mark.parametrize("version", ["", "one", "0", None])
def test_bad_format_version(model_file, version):
    _rewrite(model_file, format_version=version)
    _fails(model_file, "format")


def test_unknown_model_kind(model_file):
    _rewrite(model_file, model="warp_drive")
    _fails(model_file, "unknown model kind 'warp_drive'")


def test_wrong_expected_kind(model_file):
    msg = _fails(model_file, "holds a adain_decoder model", expect="transformer_net")
    assert "transformer_net" in msg


def test_weights_not_matching_config(model_file):
    _rewrite(model_file, config=json.dumps({"width": 0.5, "in_channels": 512}))
    _fails(model_file, "weights do not match its adain_decoder config")


@pytest.mark.parametrize(
    "config, match",
    [
        ('{"width": 0.25, "in_channels": 512, "depth": 3}', "unknown adain_decoder config field"),
        ('{"width": -1}', "invalid adain_decoder config"),
        ('{"width": 0.25', "not valid JSON"),
    ],
)
def test_bad_config_metadata(model_file, config, match):
    _rewrite(model_file, config=config)
    _fails(model_file, match)


def test_nan_weights(tmp_path, decoder):
    # save_model never writes such a file (test below): made by hand, as another tool might
    from instyle.shipped import safetensors_metadata

    data = save_model(tmp_path / "ok.safetensors", decoder).read_bytes()
    state = st_load(data)
    next(iter(state.values())).view(-1)[0] = float("nan")
    path = tmp_path / "nan.safetensors"
    path.write_bytes(st_save(state, metadata=safetensors_metadata(data)))
    _fails(path, "NaN or infinite")


def test_torch_save_of_a_random_dict(tmp_path):
    path = tmp_path / "random.pt"
    torch.save({"weights": torch.randn(3), "epoch": 4}, path)
    _fails(path, "PyTorch file but not an instyle checkpoint")
    torch.save(torch.randn(3), path)
    _fails(path, "not an instyle checkpoint")


def test_truncated_checkpoint(tmp_path, decoder):
    path = save_checkpoint(tmp_path, _train_state(decoder), keep=0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _fails(path, "not a readable checkpoint")


# --------------------------------------------------------------------------- training checkpoints


def _train_state(decoder, step=3):
    return {
        "task": "adain",
        "model_kind": "adain_decoder",
        "model_config": {"width": 0.25, "in_channels": 512},
        "model_extra": {"note": "from training"},
        "model": decoder.state_dict(),
        "step": step,
    }


def test_training_checkpoint_loads_as_a_model(tmp_path, decoder):
    path = save_checkpoint(tmp_path, _train_state(decoder), keep=2)
    assert path == tmp_path / LATEST and (tmp_path / "checkpoints" / "step_00000003.pt").exists()
    kind, config, _state, meta = read_model_file(path)
    assert kind == "adain_decoder" and config["width"] == 0.25 and meta == {"note": "from training"}
    model, meta = load_model(path, expect="adain_decoder")
    assert model.config == CONFIG and meta["note"] == "from training"
    for k, v in decoder.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)  # full precision, unlike model files
    assert load_checkpoint(path)["step"] == 3


def test_training_checkpoint_errors(tmp_path, decoder):
    state = _train_state(decoder)
    path = save_checkpoint(tmp_path, {**state, "model_kind": "warp_drive"}, keep=0)
    _fails(path, "unknown model kind")
    torch.save({**state, "format": "instyle.train", "format_version": FORMAT_VERSION + 1}, path)
    _fails(path, "newer than this instyle")
    with pytest.raises(WeightsError, match="not an instyle checkpoint"):
        torch.save({"a": 1}, path)
        load_checkpoint(path)


def test_snapshots_keep_only_the_newest(tmp_path, decoder):
    for step in (1, 2, 3, 4):
        save_checkpoint(tmp_path, _train_state(decoder, step), keep=2)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step_00000003.pt", "step_00000004.pt"]
    assert load_checkpoint(tmp_path / LATEST)["step"] == 4
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e6])  # 1e6: finite in fp32, inf in fp16
def test_save_model_refuses_weights_a_file_cannot_hold(tmp_path, value):
    net = JohnsonNet(JohnsonConfig(width=0.125, residual_blocks=1))
    with torch.no_grad():
        net.out[1].bias[0] = value
    with pytest.raises(FloatingPointError, match="NaN or infinite.*'out.1.bias' in float16"):
        save_model(tmp_path / "m.safetensors", net)
    assert list(tmp_path.iterdir()) == []
    if value == 1e6:  # what fp32 can hold is saved in fp32
        assert load_model(save_model(tmp_path / "m.safetensors", net, dtype=torch.float32))[0].out[1].bias[0] == 1e6
