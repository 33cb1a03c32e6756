"""The files shipped inside the package (``instyle/assets``): where they are and what their
metadata says, read without torch, so the command line can decide what to run before it loads
anything heavy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

from .errors import ARCH_VGG, DECODER, MODEL, WeightsError
from .sizes import stroke_reference

#: The built-in multi-style network (16 styles, conditional IN) and the wider one it was distilled from.
BUILTIN_MODEL = "builtin_styles.safetensors"
LARGE_MODEL = "builtin_styles_large.safetensors"
#: The built-in styles' network for video (same styles; its texture moves with the scene:
#: ``instyle train fast --stability``), used by ``instyle video`` and the web app's live mode.
VIDEO_MODEL = "builtin_styles_video.safetensors"
#: The built-in network distilled to paint at 512 px what the built-in one paints at 1024
#: (``instyle train distill --teacher-scale 2``, its file's ``stroke_reference`` 512): the built-in
#: styles' outputs up to 512 px, from a quarter of the pixels (docs/quality.md, round 7).
BUILTIN_512_MODEL = "builtin_styles_512.safetensors"
#: The built-in networks as ONNX, for onnxruntime (``instyle export``).
BUILTIN_ONNX = "builtin_styles.onnx"
BUILTIN_512_ONNX = "builtin_styles_512.onnx"
VIDEO_ONNX = "builtin_styles_video.onnx"
#: The network for video as ONNX with statistics shared across frames (``instyle export
#: --shared-statistics``), for ``instyle video --stabilize full`` on onnxruntime.
VIDEO_SHARED_ONNX = "builtin_styles_video_shared.onnx"
#: The AdaIN decoder (behind VGG-19) and the light AdaIN network (its own encoder and decoder).
VGG_DECODER = "adain_decoder.safetensors"
LIGHT_MODEL = "light_adain.safetensors"
#: The light AdaIN network as ONNX (encoder.onnx, decoder.onnx), for onnxruntime.
LIGHT_ONNX_DIR = "light_adain"
#: Which method ``--method auto`` runs for each built-in style, as judged blind (written by
#: ``scripts/choose_style_defaults.py`` from a blind report; absent: the fast network for all).
STYLE_DEFAULTS = "style_defaults.json"
#: Names a user may give instead of a fast-network file, and the file of each.
SHIPPED_FILES = {
    "builtin": BUILTIN_MODEL,
    "builtin-512": BUILTIN_512_MODEL,
    "builtin-large": LARGE_MODEL,
    "builtin-video": VIDEO_MODEL,
}
SHIPPED_NETWORKS = tuple(SHIPPED_FILES)
#: The shipped networks that have an ONNX copy, and its file.
SHIPPED_ONNX = {"builtin": BUILTIN_ONNX, "builtin-512": BUILTIN_512_ONNX, "builtin-video": VIDEO_ONNX}
#: Shipped networks that hand the outputs a companion paints better or cheaper to it: the one
#: whose brush fits the output's size (:func:`instyle.sizes.choose_brush`; same styles).
SHIPPED_COMPANIONS = {"builtin": ("builtin-512",)}
#: The shipped networks that have an ONNX copy with shared statistics, and its file.
SHIPPED_SHARED_ONNX = {"builtin-video": VIDEO_SHARED_ONNX}


#: Where shipped files are looked up instead of ``instyle/assets``, innermost last
#: (:func:`use_assets`); empty: the package's own.
_overrides: tuple[Path | dict[str, Path | None], ...] = ()
#: Called when the overrides change: the caches of what the shipped files say (:func:`on_assets_change`).
_on_change: list[Callable[[], None]] = []


def asset_path(file: str):
    """Where shipped file ``file`` (a name in ``instyle/assets``, such as :data:`BUILTIN_MODEL` or
    ``light_adain/encoder.onnx``) is, or would be: every lookup of a shipped file goes through here.
    An override of :func:`use_assets` answers first: a folder for every file, a mapping for the
    names it holds (a folder's name for the files in it; None: not shipped)."""
    for layer in reversed(_overrides):
        if not isinstance(layer, dict):
            return layer / file
        head, _, rest = file.partition("/")
        if file in layer:
            found = layer[file]
        elif rest and head in layer:
            base = layer[head]
            found = None if base is None else base / rest
        else:
            continue
        # "not shipped": a path that cannot exist (below a file, not a folder)
        return Path(os.devnull) / file if found is None else found
    return resources.files("instyle") / "assets" / file


@contextmanager
def use_assets(assets: str | os.PathLike[str] | Mapping[str, str | os.PathLike[str] | None]) -> Iterator[None]:
    """Within the block, look shipped files up in ``assets`` first: a folder standing for
    ``instyle/assets``, or ``{name: path or None}`` for some files (a name not in it: where it was
    before); nested blocks answer innermost first. The caches of what the files say are cleared on
    entry and on exit. Not thread-local: meant for tests and tools, not for concurrent callers."""
    global _overrides
    layer: Path | dict[str, Path | None] = (
        {name: None if path is None else Path(path) for name, path in assets.items()}
        if isinstance(assets, Mapping)
        else Path(assets)
    )
    _overrides = (*_overrides, layer)
    assets_changed()
    try:
        yield
    finally:
        _overrides = tuple(other for other in _overrides if other is not layer)
        assets_changed()


def on_assets_change(clear: Callable[[], None]) -> None:
    """Have ``clear`` (a cache's ``cache_clear``) called whenever :func:`use_assets` changes where
    shipped files are found."""
    _on_change.append(clear)


def assets_changed() -> None:
    """Clear every cache of what the shipped files say (after changing where they are found)."""
    for clear in _on_change:
        clear()


def shipped_path(file: str, missing: str, **options: tuple[str, str]) -> str:
    """Path of a file shipped in ``instyle/assets`` (WeightsError(``missing``) if absent; ``options``
    fill its placeholders: :class:`~instyle.errors.InstyleError`)."""
    ref = asset_path(file)
    if not ref.is_file():
        raise WeightsError(missing, **cast("dict[str, Any]", options))  # options never name exit_code
    return str(ref)


def safetensors_metadata(data: bytes) -> dict[str, str]:
    """The string metadata of a safetensors file's bytes (ValueError/JSONDecodeError if malformed)."""
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or n > len(data) - 8:
        raise ValueError("bad header length")
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    meta = header.get("__metadata__") or {}
    return {str(k): str(v) for k, v in meta.items()}


def file_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a safetensors file, reading only its header."""
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little")
        if len(head) < 8 or n <= 0 or n > 100 * 2**20:
            raise ValueError("bad header length")
        return safetensors_metadata(head + f.read(n))


def builtin_model_path() -> str:
    """Path of the shipped multi-style network (WeightsError if this instyle has none)."""
    return shipped_path(
        BUILTIN_MODEL,
        "this instyle has no built-in style network; train one with `instyle train fast` and pass it with {model}",
        model=MODEL,
    )


def resolve_model(model: str | os.PathLike | None) -> str | os.PathLike:
    """A fast-network file from a path or a shipped network's name: None or ``builtin`` (the
    built-in network), ``builtin-512`` (its companion for outputs up to 512 px,
    :data:`BUILTIN_512_MODEL`), ``builtin-large`` (the wider network it was distilled from, docs/fast.md),
    ``builtin-video`` (the built-in styles' network for video: narrower, deeper and trained for
    stability, its model card ``builtin_styles_video.md``)."""
    if model is None or model == "builtin":
        return builtin_model_path()
    if isinstance(model, str) and model in SHIPPED_FILES:
        return shipped_path(SHIPPED_FILES[model], f"this instyle does not ship the {model} network")
    return model


@lru_cache(maxsize=8)
def companion_references(model: str | None, onnx: bool = False) -> dict[str, int]:
    """The companions of shipped network ``model`` (:data:`SHIPPED_COMPANIONS`) that this instyle
    ships (``onnx``: with their ONNX copy) with the same styles, and each one's reference side,
    read from the files' metadata; empty for any other network."""
    name = "builtin" if model is None else model
    companions = SHIPPED_COMPANIONS.get(name, ())
    found: dict[str, int] = {}
    if not companions or not asset_path(SHIPPED_FILES[name]).is_file():
        return found

    def styles(meta: Mapping[str, str]) -> list:
        return json.loads(meta.get("config", "{}")).get("styles") or []

    own = styles(file_metadata(asset_path(SHIPPED_FILES[name])))
    for companion in companions:
        path = asset_path(SHIPPED_FILES[companion])
        if path.is_file() and (not onnx or asset_path(SHIPPED_ONNX[companion]).is_file()):
            meta = file_metadata(path)
            if styles(meta) == own:  # a network put in the main one's place alone keeps it alone
                found[companion] = stroke_reference(meta)
    return found


on_assets_change(companion_references.cache_clear)


def has_video_model() -> bool:
    """Whether this instyle ships the built-in styles' network for video."""
    return asset_path(VIDEO_MODEL).is_file()


def has_shared_onnx(model: str | None) -> bool:
    """Whether shipped network ``model`` has an ONNX copy with shared statistics in this instyle."""
    return isinstance(model, str) and model in SHIPPED_SHARED_ONNX and asset_path(SHIPPED_SHARED_ONNX[model]).is_file()


@lru_cache(maxsize=1)
def builtin_styles() -> tuple[str, ...]:
    """Names of the shipped network's styles, read from its metadata (no weights loaded); empty
    when no network is shipped."""
    try:
        config = json.loads(file_metadata(builtin_model_path()).get("config", "{}"))
    except (WeightsError, OSError, ValueError):
        return ()
    return tuple(config.get("styles") or ())


@lru_cache(maxsize=1)
def adain_preferred() -> frozenset[str]:
    """Built-in styles whose AdaIN preset people preferred to the fast network in a blind
    comparison (:data:`STYLE_DEFAULTS`); ``--method auto`` runs AdaIN for them."""
    path = asset_path(STYLE_DEFAULTS)
    if not path.is_file():
        return frozenset()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{STYLE_DEFAULTS} in instyle's assets cannot be read ({exc}); reinstall instyle") from None
    return frozenset(name for name, method in data.get("methods", {}).items() if method == "adain")


on_assets_change(builtin_styles.cache_clear)
on_assets_change(adain_preferred.cache_clear)


def default_decoder_path(arch: str) -> str:
    """Path of the shipped AdaIN network of ``arch``: ``vgg`` (the decoder behind VGG-19) or
    ``light`` (models/light.py)."""
    if arch == "light":
        return shipped_path(
            LIGHT_MODEL,
            "this instyle has no shipped light AdaIN network; use {vgg}, or train one with "
            "`instyle train adain --arch light` and pass it with {decoder}",
            vgg=ARCH_VGG,
            decoder=DECODER,
        )
    return shipped_path(
        VGG_DECODER,
        "this instyle has no shipped AdaIN decoder; train one with `instyle train adain` and pass it with {decoder}",
        decoder=DECODER,
    )
