"""The page's files and the description of what it may do (``GET /api/styles``), without FastAPI:
shared by the server (:mod:`instyle.serve.app`) and the static export (:mod:`instyle.serve.site`)."""

from __future__ import annotations

from typing import Any

from ..choices import FAST_COLOR_MODES, STABILIZE_MODES, STYLIZE_COLOR_MODES, WEB_FORMATS, WEB_PAGE_SIZES
from ..shipped import SHIPPED_COMPANIONS, SHIPPED_ONNX
from ..sizes import DEFAULT_STROKE, STROKE_RANGE
from ..video.stabilize import StabilizeConfig
from .config import ServeConfig

#: The page's files: name -> media type (nothing else under /static/ is served).
STATIC_FILES = {
    "app.js": "text/javascript",
    "local.js": "text/javascript",
    "app.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
#: ONNX Runtime Web, vendored (static/ort/README.md): name -> media type.
ORT_FILES = {
    "ort.wasm.min.mjs": "text/javascript",
    "ort-wasm-simd-threaded.mjs": "text/javascript",
    "ort-wasm-simd-threaded.wasm": "application/wasm",
}
#: Networks the page may run on the visitor's device: URL name -> (ONNX locator, its argument):
#: the built-in network, and the light AdaIN network's encoder and decoder.
#: Of those, the built-in network's companions (shipped.SHIPPED_COMPANIONS): served where this
#: instyle ships them.
LOCAL_COMPANIONS = {SHIPPED_ONNX[name]: name for name in SHIPPED_COMPANIONS["builtin"]}
LOCAL_MODELS = {
    SHIPPED_ONNX["builtin"]: ("builtin_onnx_path", "builtin"),
    **{file: ("builtin_onnx_path", name) for file, name in LOCAL_COMPANIONS.items()},
    "light_encoder.onnx": ("light_onnx_path", "encoder.onnx"),
    "light_decoder.onnx": ("light_onnx_path", "decoder.onnx"),
    "builtin_styles_video_shared.onnx": ("shared_onnx_path", "builtin-video"),
}
#: Most style specs in one request.
MAX_STYLES = 8


def local_brushes(main_reference: int) -> list[dict[str, object]]:
    """The built-in network and the companions shipped with their ONNX copy, as the page picks
    among them (``instyle.sizes.choose_brush``): main first, each its URL and reference side."""
    from ..shipped import companion_references

    brushes: list[dict[str, object]] = [{"model": f"models/{SHIPPED_ONNX['builtin']}", "reference": main_reference}]
    for name, reference in companion_references(None, onnx=True).items():
        brushes.append({"model": f"models/{SHIPPED_ONNX[name]}", "reference": reference})
    return brushes


def local_model_path(name: str) -> str:
    """The file of :data:`LOCAL_MODELS` ``name`` (WeightsError if this package lacks it)."""
    from .. import onnx_runtime

    locate, arg = LOCAL_MODELS[name]
    return getattr(onnx_runtime, locate)(arg)


def styles_info(eng: Any, config: ServeConfig, *, static: bool = False) -> dict[str, Any]:
    """What ``GET /api/styles`` answers: the styles, the controls, the limits, and the networks the
    page can run on the device. Every URL is relative to the page. ``static``: for a page without a
    server (only the built-in network's styles; thumbnails as files)."""
    names = eng.fast_styles if static else eng.names
    return {
        "static": static,
        "styles": [
            {
                "name": n,
                "label": n.replace("_", " ").capitalize(),
                "fast": n in eng.fast_styles,
                # what the server runs for this style alone (the page runs it on the device only when "fast")
                "method": "fast" if static else eng.default_method(n),
                "preset": n in eng.presets and not static,
                "thumbnail": f"thumbnails/{n}.png" if static else f"api/styles/{n}/thumbnail.png",
            }
            for n in names
        ],
        "colors": list(STYLIZE_COLOR_MODES),
        "fast_colors": list(FAST_COLOR_MODES),
        "formats": list(WEB_FORMATS),
        "sizes": [s for s in WEB_PAGE_SIZES if s <= config.max_size],
        "stabilize": list(STABILIZE_MODES),
        # the brush-size rule (instyle.sizes.stroke_side), so the page computes on the device as the server does
        "stroke": {
            "default": DEFAULT_STROKE,
            "min": STROKE_RANGE[0],
            "max": STROKE_RANGE[1],
            "reference": dict(eng.stroke_references),  # per method: the network's own
        },
        "live_stabilize": config.live_stabilize,
        "adain": config.adain and not static,
        # the networks as the page can run them on the device: files, the built-in style order
        "local": {
            "model": f"models/{SHIPPED_ONNX['builtin']}",
            # it and its companions: the page paints with the one whose brush fits (choose_brush)
            "brushes": local_brushes(eng.stroke_references["fast"]),
            "styles": list(eng.fast_styles),
            "adain": {"encoder": "models/light_encoder.onnx", "decoder": "models/light_decoder.onnx"},
            "style_size": config.style_size,
            "video": "models/builtin_styles_video_shared.onnx",
            "momentum": StabilizeConfig().momentum,
            "cut_threshold": StabilizeConfig().cut_threshold,  # the page resets the average at a new shot
        },
        "limits": {
            "max_upload_bytes": config.max_upload_bytes,
            "max_pixels": config.max_pixels,
            "max_size": config.max_size,
            "default_size": config.default_size,
            "max_styles": MAX_STYLES,
            "live_max_size": config.live_max_size,
            "timeout_s": config.timeout,
        },
    }


def manifest() -> dict[str, Any]:
    """The web app manifest: the page installs as an app (a static export works offline)."""
    return {
        "name": "instyle",
        "short_name": "instyle",
        "description": "Neural style transfer: built-in styles and any style image, on your device",
        "start_url": ".",
        "scope": ".",
        "display": "standalone",
        "background_color": "#fbfaf7",
        "theme_color": "#2f5d8a",
        "icons": [{"src": "static/favicon.svg", "sizes": "any", "type": "image/svg+xml"}],
    }
