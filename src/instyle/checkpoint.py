"""Versioned model files: trained networks saved with their config, so they rebuild themselves.

Two kinds of file hold a model:

* **model files** (``.safetensors``, shipped and exported): the weights, by default in fp16,
  plus string metadata ``format = "instyle.model"``, ``format_version``, ``model`` (the kind,
  e.g. ``"adain_decoder"``), ``config`` (the model's dataclass as JSON) and any extras
  (e.g. a CIN net's style names);
* **training checkpoints** (``.pt``, written by ``instyle train``): the same ``model`` / ``config``
  entries plus optimizer and schedule state (see :mod:`instyle.train.state`).

:func:`load_model` reads either and fails with one clear line on anything else: a file that is
not a model, a model of another kind, a newer format, or weights that do not fit the config.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .atomic import write_bytes
from .errors import WeightsError, one_line
from .files import open_regular
from .shipped import safetensors_metadata
from .version import __version__

FORMAT = "instyle.model"
FORMAT_VERSION = 1
TRAIN_FORMAT = "instyle.train"


def _registry() -> dict[str, tuple[type, type[nn.Module]]]:
    # kind -> (config dataclass, builder); imported lazily (models import this module's users).
    from .models import MODEL_KINDS

    return MODEL_KINDS


def config_to_dict(config: Any) -> dict[str, Any]:
    d = asdict(config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def config_from_dict(kind: str, data: Mapping[str, Any], source: str) -> Any:
    cls = _registry()[kind][0]
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise WeightsError(
            f"{source}: unknown {kind} config field(s) {', '.join(unknown)}; "
            "it was made by a newer instyle, upgrade to load it"
        )
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{source}: invalid {kind} config: {exc}") from None


def model_kind(model: nn.Module) -> str:
    for kind, (_, builder) in _registry().items():
        if type(model) is builder:
            return kind
    raise TypeError(f"{type(model).__name__} is not a registered instyle model")


def build_model(kind: str, config: Any) -> nn.Module:
    return _registry()[kind][1](config)


def storable_state(model: nn.Module, dtype: torch.dtype = torch.float16) -> dict[str, Tensor]:
    """``model``'s state dict on the CPU with floating tensors in ``dtype``, as a model file holds it.

    Raises FloatingPointError when a tensor is NaN or infinite there (weights of a diverged run, or
    beyond fp16's ±65504): such a file would load nowhere, so it is never written.
    """
    state = {
        k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
        for k, v in model.state_dict().items()
    }
    for k, v in state.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise FloatingPointError(
                f"the weights became NaN or infinite ({k!r} in {str(dtype).replace('torch.', '')})"
            )
    return state


def save_model(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    dtype: torch.dtype = torch.float16,
    extra: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` (a registered model with a ``config`` attribute) as a model file, atomically.
    Weights that are not finite in ``dtype`` raise FloatingPointError (:func:`storable_state`)."""
    from safetensors.torch import save

    kind = model_kind(model)
    state = storable_state(model, dtype)
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "model": kind,
        "config": json.dumps(config_to_dict(model.config)),
        "instyle_version": __version__,
    }
    for k, v in (extra or {}).items():
        if k in meta:
            raise ValueError(f"metadata key {k!r} is reserved")
        meta[k] = str(v)
    return write_bytes(path, save(state, metadata=meta), overwrite=overwrite, what="model file")


def read_model_file(path: str | os.PathLike) -> tuple[str, dict[str, Any], dict[str, Tensor], dict[str, str]]:
    """(kind, config dict, state dict, metadata) of a model file or training checkpoint."""
    name = os.fsdecode(os.fspath(path))
    p = Path(name)

    def error(reason: str) -> WeightsError:
        return WeightsError(f"model file {name!r} " + ("not found" if reason == "no such file" else reason))

    with open_regular(p, error) as f:
        head = f.read(8)
    if head[:2] == b"PK" or head[:1] == b"\x80":  # a torch.save zip (or legacy pickle)
        return _read_training_checkpoint(p, name)
    return _read_safetensors(p, name)


def _read_safetensors(p: Path, name: str):
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        data = p.read_bytes()
        state = load(data)
        meta = safetensors_metadata(data)
    except (SafetensorError, ValueError, OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{name} is not a readable model file ({one_line(exc)[:120]})") from None
    if meta.get("format") != FORMAT:
        raise WeightsError(
            f"{name} is a safetensors file without instyle metadata; only model files "
            "written by instyle (train or export) can be loaded"
        )
    _check_version(meta.get("format_version", ""), name)
    kind = meta.get("model", "")
    if kind not in _registry():
        raise WeightsError(f"{name} holds an unknown model kind {kind!r}; upgrade instyle to load it")
    try:
        config = json.loads(meta.get("config", "{}"))
    except json.JSONDecodeError:
        raise WeightsError(f"{name}: its config metadata is not valid JSON") from None
    return kind, config, state, meta


def _check_version(version: str, name: str) -> None:
    try:
        v = int(version)
    except ValueError:
        raise WeightsError(f"{name}: missing or invalid format_version {version!r}") from None
    if v > FORMAT_VERSION:
        raise WeightsError(
            f"{name} uses model format {v}, newer than this instyle reads "
            f"({FORMAT_VERSION}); upgrade instyle to load it"
        )
    if v < 1:
        raise WeightsError(f"{name}: unsupported model format {v}")


def _read_training_checkpoint(p: Path, name: str):
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{name} is not a readable checkpoint ({one_line(exc)[:120]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != TRAIN_FORMAT:
        raise WeightsError(f"{name} is a PyTorch file but not an instyle checkpoint")
    _check_version(str(ckpt.get("format_version", "")), name)
    kind = ckpt.get("model_kind", "")
    if kind not in _registry():
        raise WeightsError(f"{name} holds an unknown model kind {kind!r}; upgrade instyle to load it")
    meta = {str(k): str(v) for k, v in (ckpt.get("model_extra") or {}).items()}
    return kind, dict(ckpt.get("model_config") or {}), dict(ckpt["model"]), meta


def load_model(
    path: str | os.PathLike,
    *,
    expect: str | tuple[str, ...] | None = None,
    device: str | torch.device = "cpu",
) -> tuple[nn.Module, dict[str, str]]:
    """Rebuild a model from a model file or training checkpoint: ``(model in eval mode, metadata)``.

    ``expect`` names the kind (or kinds) the caller needs (e.g. ``"adain_decoder"``); another kind
    is an error that says what the file holds. Weights are cast to float32.
    """
    name = os.fsdecode(os.fspath(path))
    kind, config_dict, state, meta = read_model_file(path)
    kinds = (expect,) if isinstance(expect, str) else expect
    if kinds is not None and kind not in kinds:
        raise WeightsError(f"{name} holds a {kind} model, not the {' or '.join(kinds)} this needs")
    model = build_model(kind, config_from_dict(kind, config_dict, name))
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = " ".join(str(exc).split())
        raise WeightsError(f"{name}: weights do not match its {kind} config ({first[:160]})") from None
    for k, v in state.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise WeightsError(f"{name}: tensor {k!r} holds NaN or infinite values")
    return model.to(device).eval(), meta
