"""Style presets: a style stored as its relu4_1 per-channel mean and std, no image file needed.

AdaIN only uses a style through these 2×512 numbers, so a preset stylizes exactly like its
image did (at the size it was saved with). The light AdaIN network (models/light.py) has an
encoder of its own, so a preset may also hold that encoder's 2×128 numbers, with the encoder's id
(format version 2); files of version 1 hold VGG-19's only. Built-in presets ship inside the package; a user's
own are saved in ``$INSTYLE_HOME/styles`` (default ``~/.local/share/instyle/styles``), one
``NAME.safetensors`` file each, and shadow built-ins of the same name.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import shipped
from .atomic import write_bytes
from .errors import ARCH_VGG, InstyleError, UsageError, exists_error, one_line
from .shipped import safetensors_metadata

if TYPE_CHECKING:
    from torch import Tensor

    from .nn.functional import Stats

PRESET_FORMAT = "instyle.style_preset"
PRESET_VERSION = 2
BUILTIN_FILE = "style_presets.safetensors"
HOME_ENV = "INSTYLE_HOME"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}\Z")  # \Z: "$" would let a trailing newline in
ENCODER_ID = "vgg19-caffe/relu4_1/reflect/ceil"  # features the statistics were taken from
LIGHT_KEY = "light"  # tensor-name prefix of the light encoder's statistics; its id in the metadata


@dataclass(frozen=True)
class PresetInfo:
    name: str
    builtin: bool
    source: str  # the image it was made from (file name only)
    style_size: int  # longer side the image was encoded at


def user_dir() -> Path:
    home = os.environ.get(HOME_ENV)
    base = Path(home) if home else Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "instyle"
    return base / "styles"


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise UsageError(
            f"invalid preset name {name!r}: use 1-64 lowercase letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def _read(data: bytes, where: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from safetensors import SafetensorError
    from safetensors.numpy import load  # no torch: the onnxruntime path reads presets too

    try:
        tensors = load(data)
        meta = safetensors_metadata(data)
    except (SafetensorError, ValueError, UnicodeDecodeError) as exc:
        raise InstyleError(f"style preset file {where} is corrupt ({one_line(exc)[:100]})") from None
    if meta.get("format") != PRESET_FORMAT:
        raise InstyleError(f"{where} is not an instyle style preset file")
    try:
        version = int(meta.get("format_version", "0"))
    except ValueError:
        raise InstyleError(f"{where} has an invalid format_version {meta.get('format_version')!r}") from None
    if version > PRESET_VERSION:
        raise InstyleError(f"{where} uses a newer preset format; upgrade instyle")
    if meta.get("encoder", ENCODER_ID) != ENCODER_ID:
        raise InstyleError(f"{where} was made with another encoder ({meta.get('encoder')})")
    return tensors, meta


ArrayStats = tuple[np.ndarray, np.ndarray]


def _stats_by_encoder(tensors: dict[str, np.ndarray], meta: dict[str, str], prefix: str) -> dict[str, ArrayStats]:
    """{encoder id: (mean, std) each (1, C, 1, 1) float32} of one preset, its tensors named
    ``prefix``mean… (VGG-19's) and ``prefix``light.mean… (the light encoder's, when the file has them)."""

    def pair(p: str) -> ArrayStats:
        mean, std = (tensors[f"{p}{k}"].astype(np.float32).reshape(1, -1, 1, 1) for k in ("mean", "std"))
        return mean, std

    out = {ENCODER_ID: pair(prefix)}
    if meta.get("light_encoder") and f"{prefix}{LIGHT_KEY}.mean" in tensors:
        out[meta["light_encoder"]] = pair(f"{prefix}{LIGHT_KEY}.")
    return out


@lru_cache(maxsize=1)
def _builtin() -> dict[str, tuple[dict[str, ArrayStats], PresetInfo]]:
    ref = shipped.asset_path(BUILTIN_FILE)
    if not ref.is_file():
        return {}
    tensors, meta = _read(ref.read_bytes(), BUILTIN_FILE)
    infos = json.loads(meta.get("presets", "{}"))
    out = {}
    for name, info in infos.items():
        stats = _stats_by_encoder(tensors, meta, f"{name}.")
        out[name] = (stats, PresetInfo(name, True, info.get("source", ""), int(info.get("style_size", 0))))
    return out


shipped.on_assets_change(_builtin.cache_clear)


def _user(name: str) -> tuple[dict[str, ArrayStats], PresetInfo] | None:
    path = user_dir() / f"{name}.safetensors"
    if not path.is_file():
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InstyleError(f"cannot read style preset {path}: {exc.strerror or exc}") from None
    tensors, meta = _read(data, str(path))
    try:
        stats = _stats_by_encoder(tensors, meta, "")
    except KeyError:
        raise InstyleError(f"style preset {path} lacks its mean/std tensors") from None
    try:
        style_size = int(meta.get("style_size", "0") or 0)
    except ValueError:
        raise InstyleError(f"style preset {path} has an invalid style_size {meta.get('style_size')!r}") from None
    return stats, PresetInfo(name, False, meta.get("source", ""), style_size)


def list_presets() -> list[PresetInfo]:
    """Every preset, user ones first shadowing built-ins of the same name, sorted by name."""
    found: dict[str, PresetInfo] = {n: info for n, (_, info) in _builtin().items()}
    folder = user_dir()
    if folder.is_dir():
        for p in folder.glob("*.safetensors"):
            if NAME_RE.match(p.stem):
                try:
                    got = _user(p.stem)
                except InstyleError:
                    continue
                if got is not None:
                    found[p.stem] = got[1]
    return [found[n] for n in sorted(found)]


def _find(name: str) -> dict[str, ArrayStats]:
    got = _user(name) if NAME_RE.match(name) else None
    if got is None:
        got = _builtin().get(name)
    if got is None:
        raise InstyleError(f"no style image or preset named {name!r}; run `instyle styles` to list presets")
    return got[0]


def load_preset(name: str, encoder: str = ENCODER_ID) -> Stats:
    """relu4_1 ``(mean, std)`` of a preset for ``encoder`` (:data:`ENCODER_ID`: VGG-19's, each
    (1, 512, 1, 1); a light network's id, :meth:`LightAdaIN.encoder_id`: (1, 128, 1, 1)), float32."""
    import torch

    mean, std = (torch.from_numpy(a.copy()) for a in load_preset_array(name, encoder))
    return mean, std


def load_preset_array(name: str, encoder: str = ENCODER_ID) -> ArrayStats:
    """:func:`load_preset` as numpy arrays, without torch."""
    stats = _find(name).get(encoder)
    if stats is None:
        if encoder != shipped_light_encoder():
            raise InstyleError(
                f"presets hold statistics for VGG-19 and the shipped light network, not for this light "
                f"network; give the style {name!r} as an image, or use the shipped network"
            )
        raise InstyleError(
            f"preset {name!r} was saved before the light network shipped; save it again with "
            "`instyle styles save`, or use {vgg}",
            vgg=ARCH_VGG,
        )
    return stats


def shipped_light_encoder() -> str | None:
    """Id of the light encoder the built-in presets hold statistics for (the shipped light
    network's: a test keeps the two in step), or None."""
    ref = shipped.asset_path(BUILTIN_FILE)
    if not ref.is_file():
        return None
    return _read(ref.read_bytes(), BUILTIN_FILE)[1].get("light_encoder") or None


def has_statistics(name: str, encoder: str) -> bool:
    """True when preset ``name`` exists and holds statistics for ``encoder``."""
    try:
        return encoder in _find(name)
    except InstyleError:
        return False


def is_user_preset(name: str) -> bool:
    """True for a preset the user saved (it shadows a built-in one of the same name)."""
    return bool(NAME_RE.match(name)) and (user_dir() / f"{name}.safetensors").is_file()


def is_preset(name: str) -> bool:
    return bool(NAME_RE.match(name)) and (name in _builtin() or is_user_preset(name))


def _light_tensors(light: tuple[str, Stats] | None, prefix: str, meta: dict[str, str]) -> dict[str, Tensor]:
    """The light statistics' tensors (and its id into ``meta``) of ``light = (encoder id, stats)``."""
    if light is None:
        return {}
    encoder, (mean, std) = light
    meta["light_encoder"] = encoder
    return {
        f"{prefix}{LIGHT_KEY}.mean": mean.detach().float().reshape(-1).contiguous().cpu(),
        f"{prefix}{LIGHT_KEY}.std": std.detach().float().reshape(-1).contiguous().cpu(),
    }


def save_preset(
    name: str,
    stats: Stats,
    *,
    light: tuple[str, Stats] | None = None,
    source: str = "",
    style_size: int = 0,
    overwrite: bool = False,
) -> Path:
    """Store ``stats`` (VGG-19's) as the user's preset ``name``, with ``light = (encoder id,
    stats)`` of a light network if given; refuses to replace a preset unless ``overwrite``."""
    from safetensors.torch import save

    check_name(name)
    mean, std = (t.detach().float().reshape(-1).contiguous().cpu() for t in stats)
    if mean.shape != std.shape or mean.numel() != 512:
        raise ValueError(f"a preset holds 512 means and stds, got {mean.numel()} and {std.numel()}")
    meta = {
        "format": PRESET_FORMAT,
        "format_version": str(PRESET_VERSION),
        "encoder": ENCODER_ID,
        # a file name may hold bytes that are not UTF-8 (surrogate-escaped by Python); the metadata is JSON
        "source": os.path.basename(source).encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
        "style_size": str(style_size),
    }
    tensors = {"mean": mean, "std": std, **_light_tensors(light, "", meta)}
    path = user_dir() / f"{name}.safetensors"
    if path.exists() and not overwrite:
        raise exists_error(f"a preset named {name!r} already exists ({path})")
    return write_bytes(path, save(tensors, metadata=meta), overwrite=overwrite, what="style preset")


def remove_preset(name: str) -> Path:
    check_name(name)
    path = user_dir() / f"{name}.safetensors"
    if not path.is_file():
        what = "a built-in preset, which cannot be removed" if name in _builtin() else "not a saved preset"
        raise InstyleError(f"{name!r} is {what}")
    path.unlink()
    return path


def save_builtin_file(
    path: str | os.PathLike,
    presets: dict[str, tuple[Stats, str, int]],
    *,
    light: tuple[str, dict[str, Stats]] | None = None,
) -> Path:
    """Write the package's built-in preset file: ``{name: (stats, source, style_size)}``, and
    ``light = (encoder id, {name: stats})`` of the shipped light network."""
    from safetensors.torch import save

    tensors, infos = {}, {}
    meta: dict[str, str] = {}
    for name, (stats, source, size) in sorted(presets.items()):
        check_name(name)
        tensors[f"{name}.mean"] = stats[0].detach().float().reshape(-1).contiguous()
        tensors[f"{name}.std"] = stats[1].detach().float().reshape(-1).contiguous()
        if light is not None:
            tensors.update(_light_tensors((light[0], light[1][name]), f"{name}.", meta))
        infos[name] = {"source": os.path.basename(source), "style_size": size}
    meta.update(
        {
            "format": PRESET_FORMAT,
            "format_version": str(PRESET_VERSION),
            "encoder": ENCODER_ID,
            "presets": json.dumps(infos),
        }
    )
    return write_bytes(path, save(tensors, metadata=meta), overwrite=True, what="preset file")
