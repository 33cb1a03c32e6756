"""The models and caches behind the web app, and the jobs its worker threads run.

One :class:`Engine` per app: the built-in network and AdaIN are loaded once and shared by every
worker thread (inference only reads them). Decoded photos and style images are cached by the
SHA-256 of their bytes, so a page that changes α, the style or the size sends the photo's hash
instead of the photo. Everything the requests name is a style *name* checked against the shipped
list; nothing a request sends is ever used as a path.

Example:
    >>> from instyle.serve import ServeConfig                               # doctest: +SKIP
    >>> engine = Engine(ServeConfig(adain=False))                            # doctest: +SKIP
    >>> job = Job(image=open("photo.jpg", "rb").read(), styles=["candy"], weights=[1.0])  # doctest: +SKIP
    >>> result = engine.stylize(job)       # PNG bytes and headers          # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import numpy as np

from ..blend import style_vector
from ..choices import FAST_COLOR_MODES, WEB_FORMATS
from ..errors import ImageTooLargeError, InstyleError, UsageError
from ..imageio import ImageArray, encode_image, read_array
from ..method import network_color
from ..sizes import DEFAULT_STROKE, STROKE_REFERENCE, stroke_side
from . import limits
from .config import ServeConfig

if TYPE_CHECKING:
    from torch import Tensor

    from ..feedforward import FastStylizer
    from ..onnx_runtime import OnnxFastStylizer
    from ..stylize import AdaINStylizer, Stats, StyleSpec
    from ..video import VideoStylizer

V = TypeVar("V")

#: A content hash as the API shows it: SHA-256, 64 lower-case hex digits (a JSON-schema pattern).
HASH_PATTERN = "^[0-9a-f]{64}$"
#: JPEG quality of live frames: 80 keeps the painted texture at a third of the bytes of 95.
LIVE_QUALITY = 80


class UnknownImage(UsageError):
    """An image hash the server does not hold (never sent, or dropped from the cache): 422, and the
    page sends the file again."""


class Unavailable(InstyleError):
    """A model the request needs could not be loaded (HTTP 503)."""


def content_hash(data: bytes) -> str:
    """The id of uploaded bytes: SHA-256, hex."""
    return hashlib.sha256(data).hexdigest()


class LRU(Generic[V]):
    """A thread-safe least-recently-used cache bounded by entries and by a cost (bytes).

    Example:
        >>> c = LRU(max_items=2); c.put("a", 1); c.put("b", 2); c.get("a"); c.put("c", 3)
        1
        >>> sorted(c.keys())
        ['a', 'c']
    """

    def __init__(self, max_items: int, max_cost: int | None = None, cost: Callable[[V], int] = lambda v: 0):
        self.max_items, self.max_cost, self.cost = max_items, max_cost, cost
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: str, value: V) -> None:
        c = self.cost(value)
        with self._lock:
            if key in self._items:
                self._total -= self._items.pop(key)[1]
            if self.max_items <= 0 or (self.max_cost is not None and c > self.max_cost):
                return  # caching off, or bigger than the whole cache
            self._items[key] = (value, c)
            self._total += c
            while len(self._items) > self.max_items or (self.max_cost is not None and self._total > self.max_cost):
                self._total -= self._items.popitem(last=False)[1][1]

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def _array_bytes(img: ImageArray) -> int:
    return img.rgb.nbytes + (img.alpha.nbytes if img.alpha is not None else 0)


@dataclass
class Job:
    """One ``POST /api/stylize``, checked: what the worker needs.

    ``image`` (bytes) or ``image_id`` (a hash the server holds); ``styles`` names (built-in styles
    or presets) with ``weights``, plus optionally an uploaded style image (``style_image`` bytes or
    ``style_image_id``), whose weight is the last of ``weights``. ``method`` is ``fast`` or
    ``adain`` (:func:`instyle.method.choose_method`).
    """

    styles: list[str]
    weights: list[float]
    method: str = "fast"
    image: bytes | None = None
    image_id: str | None = None
    style_image: bytes | None = None
    style_image_id: str | None = None
    alpha: float = 1.0
    color: str = "none"
    size: int | None = None
    stroke: float = DEFAULT_STROKE
    format: str = "png"
    quality: int = 90

    @property
    def has_style_image(self) -> bool:
        return self.style_image is not None or self.style_image_id is not None


@dataclass
class Result:
    """An encoded image and what the response says about it."""

    data: bytes
    media_type: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StyleImage:
    """An uploaded style image, at the style size: (1, 3, H, W) uint8 (a quarter of float32's
    memory in the cache), and its AdaIN statistics once computed."""

    pixels: Tensor
    stats: Stats | None = None


class Engine:
    """Models (loaded once), caches and the work of each request; every method that computes runs
    on a worker thread.

    Args:
        config: the server's settings.
        fast: a :class:`instyle.FastStylizer` to use instead of the built-in network (tests).
    """

    def __init__(self, config: ServeConfig, *, fast: FastStylizer | None = None):
        from ..backends import choose_backend
        from ..feedforward import FastStylizer
        from ..presets import list_presets
        from ..shipped import builtin_styles, has_video_model

        self.config = config
        self.fast = fast if fast is not None else FastStylizer()  # torch: requests
        # live frames: the built-in styles' network for video, where shipped (its texture moves
        # with the scene: its model card, assets/builtin_styles_video.md); a network given here serves both
        self.live = FastStylizer("builtin-video") if fast is None and has_video_model() else self.fast
        self.fast_styles: tuple[str, ...] = tuple(self.fast.styles) or tuple(builtin_styles())
        # each method's brush reference side (instyle.sizes.stroke_side) as the page computes on the
        # device: the fast network's own (the page runs its ONNX copy, without companions), AdaIN's
        self.stroke_references = {"fast": self.fast.stroke_reference, "adain": STROKE_REFERENCE}
        self.onnx = None
        if choose_backend(config.backend, "fast", server=True) == "onnxruntime":
            from ..onnx_runtime import OnnxFastStylizer

            self.onnx = OnnxFastStylizer(threads=config.threads_per_worker)
        for name in self.painter.companions:  # loaded now, not by a request
            self.painter.companion(name)
        self.presets: tuple[str, ...] = tuple(p.name for p in list_presets()) if config.adain else ()
        # the gallery: the network's styles first, then presets it does not have
        self.names: tuple[str, ...] = self.fast_styles + tuple(p for p in self.presets if p not in self.fast_styles)
        self.photos: LRU[ImageArray] = LRU(1024, config.cache_bytes, _array_bytes)
        self.style_images: LRU[StyleImage] = LRU(
            config.style_cache, max(config.cache_bytes // 4, 1), lambda s: s.pixels.numel()
        )
        self._preset_stats: dict[str, Stats] = {}
        self._adain: AdaINStylizer | None = None
        self._adain_error: str | None = None
        self._adain_ready = threading.Event()
        self._thumbnails: dict[str, bytes] = {}
        if config.adain:
            threading.Thread(target=self._load_adain, name="instyle-serve-adain", daemon=True).start()
        else:
            self._adain_error = "AdaIN is off on this server (started without it)"
            self._adain_ready.set()

    # -- models

    def _load_adain(self) -> None:
        try:
            from ..stylize import AdaINStylizer

            self._adain = AdaINStylizer(style_size=self.config.style_size)
        except Exception as exc:
            self._adain_error = f"AdaIN could not be loaded: {exc}"
        finally:
            self._adain_ready.set()

    def adain(self, timeout: float | None = None) -> AdaINStylizer:
        """The shared :class:`instyle.AdaINStylizer`, once loaded; :class:`Unavailable` if it cannot be."""
        if not self._adain_ready.wait(timeout):
            raise Unavailable("AdaIN is still loading; try again in a few seconds")
        if self._adain is None:
            raise Unavailable(self._adain_error or "AdaIN is not available")
        return self._adain

    @property
    def adain_state(self) -> str:
        """``ready``, ``loading`` or ``off`` (for ``/api/health``)."""
        if not self._adain_ready.is_set():
            return "loading"
        return "ready" if self._adain is not None else "off"

    def preset_stats(self, name: str) -> Stats:
        """A preset's statistics for the loaded AdaIN network (read once)."""
        from ..presets import load_preset

        stats = self._preset_stats.get(name)
        if stats is None:
            encoder = getattr(self.adain(), "encoder_id", None)  # one network's statistics per preset file
            stats = load_preset(name) if encoder is None else load_preset(name, encoder)
            self._preset_stats[name] = stats
        return stats

    # -- checking a request (on the event loop: cheap, no model)

    def check_styles(self, names: Sequence[str], *, live: bool = False) -> None:
        """Every name must be one the server offers (live mode: one of the network's)."""
        offered = self.fast_styles if live else self.names
        for name in names:
            if name not in offered:
                what = "a built-in style of the network (live mode runs it)" if live else "a style this server offers"
                shown = name if len(name) <= 64 else name[:61] + "..."
                raise UsageError(f"{shown!r} is not {what}; GET /api/styles lists them")

    # -- images

    def photo(self, data: bytes | None, image_id: str | None) -> tuple[str, ImageArray]:
        """(hash, decoded photo at most ``max_size``): decoded from ``data`` (and cached), or the
        cached photo ``image_id``."""

        def decode(data: bytes) -> ImageArray:
            photo = self._decode("image", data, max_size=self.config.max_size)
            photo.source = "upload"
            return photo

        return _cached(self.photos, "image", data, image_id, decode)

    def _decode(self, field: str, data: bytes, *, max_size: int) -> ImageArray:
        """An upload decoded, at most ``max_size``, within the pixel limit and the pixels its size
        buys (:data:`limits.PIXELS_PER_BYTE`): ImageTooLargeError naming which."""
        budget = max(limits.PIXELS_FLOOR, limits.PIXELS_PER_BYTE * len(data))
        if budget >= self.config.max_pixels:
            return _named(read_array, field, data, max_size=max_size, max_pixels=self.config.max_pixels)
        try:
            return _named(read_array, field, data, max_size=max_size, max_pixels=budget)
        except ImageTooLargeError:
            w, h = declared_size(data)
            if not w * h or w * h > self.config.max_pixels:  # over the server's limit too: that error
                return _named(read_array, field, data, max_size=max_size, max_pixels=self.config.max_pixels)
            raise ImageTooLargeError(
                f"the {field} upload declares {w}x{h} pixels in {len(data):,} bytes, more than "
                f"{limits.PIXELS_PER_BYTE} pixels a byte above {limits.PIXELS_FLOOR / 1e6:g} MP: refused as a "
                "decompression bomb (send a photo as JPEG, or smaller)"
            ) from None

    def style_image(self, data: bytes | None, image_id: str | None) -> tuple[str, StyleImage]:
        """(hash, :class:`StyleImage`) of an uploaded style image, as :meth:`photo`."""

        def decode(data: bytes) -> StyleImage:
            import torch

            from ..resize import resize_longer

            # shrunk while decoding (a 24-MP painting is not decoded at full size to become 512 px)
            img = self._decode("style_image", data, max_size=self.config.style_size).to_tensors().rgb  # (1, 3, H, W)
            img = resize_longer(img, self.config.style_size) if max(img.shape[-2:]) != self.config.style_size else img
            return StyleImage((img.clamp(0, 1) * 255).round().to(torch.uint8))  # (1, 3, h, w)

        return _cached(self.style_images, "style_image", data, image_id, decode)

    # -- the work

    def stylize(self, job: Job) -> Result:
        """Run one request (on a worker thread): decode or fetch the photo (and style image),
        stylize, encode."""
        import time

        t0 = time.perf_counter()
        image_id, photo = self.photo(job.image, job.image_id)
        size = job.size or min(max(photo.original_size), self.config.default_size)
        # the work a request may cause counts upscaling: a 69-byte 1x1 PNG does not buy a 2048² result
        budget = max(limits.MAX_UPSCALE * max(photo.original_size), limits.UPSCALE_FLOOR)
        size = min(size, self.config.max_size, budget)
        content = photo.resized(size)
        # the brush asked: the fast network whose brush fits the size (the built-in one or its
        # companion, :meth:`~instyle.sizes.Brushes.brush`) and its side, AdaIN's side
        # (:func:`stroke_side`), within max_size and the same upscaling budget: a tiny upload does
        # not buy a 1024² computation either
        if job.method == "fast":
            network, side = self.painter.brush(size, job.stroke)
        else:
            network, side = None, stroke_side(size, job.stroke, STROKE_REFERENCE)
        work = photo.resized(min(side, self.config.max_size, budget)).rgb
        headers = {"X-Image-Id": image_id, "X-Method": job.method}
        if job.method == "fast":
            out = self._fast(work, job.styles, job.weights, job.color, network)
        else:
            out, style_id = self._adain_job(work, job)
            if style_id:
                headers["X-Style-Image-Id"] = style_id
        data = encode_image(out, job.format, alpha=content.alpha, quality=job.quality, size=content.size)
        headers["X-Size"] = f"{content.size[0]}x{content.size[1]}"
        headers["X-Seconds"] = f"{time.perf_counter() - t0:.3f}"
        notes = []
        if photo.frames > 1:
            notes.append(f"the image has {photo.frames} frames; the first was used")
        if job.size and size < min(job.size, self.config.max_size):
            notes.append(f"the output is {size} px, {limits.MAX_UPSCALE}x the photo at most (asked: {job.size})")
        if notes:
            headers["X-Note"] = "; ".join(notes)
        return Result(data, media_type(job.format), headers)

    @property
    def painter(self) -> FastStylizer | OnnxFastStylizer:
        """The built-in network on the runtime that serves requests (onnxruntime where chosen)."""
        return self.onnx or self.fast

    def _fast(
        self,
        rgb: np.ndarray,
        styles: list[str],
        weights: list[float],
        color: str,
        network: FastStylizer | OnnxFastStylizer | None = None,
    ) -> np.ndarray:
        """The built-in network (or ``network``, one of its companions on the same runtime) on
        (H, W, 3) -> (H, W, 3) float32 arrays, whatever the runtime."""
        net = network or self.painter
        if self.onnx is not None:
            return cast("OnnxFastStylizer", net)(rgb, styles, weights=weights, color=color)
        from ..imageio.modes import hwc_to_tensor, tensor_to_hwc

        return tensor_to_hwc(cast("FastStylizer", net)(hwc_to_tensor(rgb), styles, weights=weights, color=color))

    def _adain_job(self, rgb: np.ndarray, job: Job) -> tuple[np.ndarray, str | None]:
        """AdaIN on (H, W, 3) -> (H, W, 3) float32 arrays, and the style image's id if one came."""
        from ..imageio.modes import hwc_to_tensor, tensor_to_hwc

        stylizer = self.adain(timeout=60)
        specs: list[StyleSpec] = [self.preset_stats(n) for n in job.styles]
        if job.color == "match" and specs:
            raise UsageError("color match recolours style images; built-in styles are stored statistics: use luminance")
        style_id = None
        if job.has_style_image:
            style_id, entry = self.style_image(job.style_image, job.style_image_id)
            pixels = entry.pixels.float() / 255.0  # (1, 3, h, w) in [0, 1]
            if network_color(job.color) == "none":
                if entry.stats is None:
                    entry.stats = stylizer.style_stats(pixels)
                specs.append(entry.stats)
            else:
                specs.append(pixels)  # recoloured to each photo: statistics per request
        color = network_color(job.color)
        out = tensor_to_hwc(stylizer(hwc_to_tensor(rgb), specs, weights=job.weights, alpha=job.alpha, color=color))
        if job.color == "palette":  # only with a style image alone (instyle.method.choose_color)
            from ..palette import match_palette

            out = match_palette(out, [tensor_to_hwc(pixels)], strength=job.alpha)
        return out, style_id

    # -- gallery

    def default_method(self, name: str) -> str:
        """What a request for style ``name`` alone runs (α 1, its colours): the fast network for
        its styles unless people preferred the style's AdaIN preset (:func:`instyle.method.choose_method`)
        and this server runs AdaIN; AdaIN for the other presets."""
        from ..shipped import adain_preferred

        if name not in self.fast_styles:
            return "adain"
        return "adain" if self.config.adain and name in self.presets and name in adain_preferred() else "fast"

    def thumbnail(self, name: str) -> bytes:
        """A square PNG of the bundled photo in style ``name`` (rendered once, on a worker)."""
        cached = self._thumbnails.get(name)
        if cached is not None:
            return cached
        from PIL import Image

        side = self.config.thumbnail_size
        photo = thumbnail_photo(2 * side)  # rendered at twice the size, then shrunk: finer strokes
        if self.default_method(name) == "fast":
            out = self._fast(photo, [name], [1.0], "none")
        else:
            from ..imageio.modes import hwc_to_tensor, tensor_to_hwc

            out = tensor_to_hwc(self.adain(timeout=120)(hwc_to_tensor(photo), [self.preset_stats(name)]))
        from ..imageio import tensor_to_image

        small = tensor_to_image(out).resize((side, side), Image.Resampling.LANCZOS)
        data = encode_image(np.asarray(small, dtype=np.float32) / 255.0, "png")
        self._thumbnails[name] = data
        return data

    # -- live mode

    def live_session(self) -> LiveSession:
        return LiveSession(self)


def declared_size(data: bytes) -> tuple[int, int]:
    """(width, height) an image's header declares (nothing decoded; (0, 0) if unreadable)."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return int(im.size[0]), int(im.size[1])
    except Exception:
        return 0, 0


def _named(read: Callable[..., Any], field: str, data: bytes, **kw: Any) -> Any:
    """``read(data, **kw)`` with its errors naming the form field, not ``'<bytes>'``."""
    try:
        return read(data, **kw)
    except InstyleError as exc:
        raise type(exc)(str(exc).replace("'<bytes>'", f"(the {field} upload)")) from None


def media_type(fmt: str) -> str:
    """``image/png`` etc. for a format of :data:`~instyle.choices.WEB_FORMATS`."""
    return {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}[fmt]


def thumbnail_photo(side: int) -> np.ndarray:
    """(side, side, 3) float32: the centre square of scikit-image's cat photo (chelsea), or, without
    scikit-image, a generated picture (sky, sun, hills)."""
    from PIL import Image

    try:
        from skimage import data as skdata

        img = Image.fromarray(skdata.chelsea())
        w, h = img.size
        s = min(w, h)
        img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        return np.asarray(img.resize((side, side), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
    except ImportError:
        yy, xx = np.mgrid[0:side, 0:side] / max(1, side - 1)
        sky = np.stack([0.35 + 0.3 * yy, 0.55 + 0.2 * yy, 0.9 - 0.2 * yy], axis=2)
        sun = ((xx - 0.7) ** 2 + (yy - 0.3) ** 2 < 0.015)[..., None] * np.array([0.6, 0.4, -0.5])
        hills = (yy > 0.65 + 0.1 * np.sin(7 * xx))[..., None] * np.array([-0.3, 0.1, -0.6])
        return np.clip(sky + sun + hills, 0, 1).astype(np.float32)


class LiveSession:
    """One live (webcam) connection: its settings and its stabilizer state
    (:class:`instyle.video.VideoStylizer`: shared statistics and optical flow, reset when the
    settings change). Frames arrive one at a time (the connection never has two in flight)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.styles: list[str] = [engine.fast_styles[0]] if engine.fast_styles else []
        self.weights: list[float] = [1.0]
        self.color = "none"
        self.stabilize = engine.config.live_stabilize
        self._video: VideoStylizer | None = None

    def configure(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Apply ``{"style": [...], "color": ..., "stabilize": ...}`` (each optional); returns the
        settings in force. Bad values raise :class:`~instyle.errors.UsageError` and change nothing."""
        from ..blend import parse_style_specs
        from ..choices import STABILIZE_MODES, check

        styles, weights, color, stabilize = self.styles, self.weights, self.color, self.stabilize
        if "style" in settings:
            specs = settings["style"]
            specs = [specs] if isinstance(specs, str) else specs
            if not isinstance(specs, list) or not specs or not all(isinstance(s, str) for s in specs) or len(specs) > 8:
                raise UsageError("style must be a list of 1 to 8 names with optional :weight")
            styles, weights = parse_style_specs(specs)
            self.engine.check_styles(styles, live=True)
        if "color" in settings:
            color = check(settings["color"], FAST_COLOR_MODES, "live color", UsageError)
        if "stabilize" in settings:
            stabilize = check(settings["stabilize"], STABILIZE_MODES, "stabilize", UsageError)
        style_vector(self.engine.fast_styles, styles, weights)
        self.styles, self.weights, self.color, self.stabilize = styles, weights, color, stabilize
        self._video = None  # new settings: a new shot
        return {"style": self.styles, "weights": self.weights, "color": self.color, "stabilize": self.stabilize}

    def _stylizer(self) -> VideoStylizer:
        if self._video is None:
            from ..video import StabilizeConfig, VideoStylizer
            from ..video.stylizer import on_arrays

            mode = self.stabilize
            if mode in ("full", "flow"):
                try:
                    import cv2  # noqa: F401 - the optical flow needs OpenCV
                except ImportError:
                    mode = "stats" if mode == "full" else "none"
            styles, weights, color, fast = self.styles, self.weights, self.color, self.engine.live
            self._video = VideoStylizer(
                on_arrays(lambda x: fast(x, styles, weights=weights, color=color)),
                StabilizeConfig(mode=mode),
                grid=fast.grid,
            )
        return self._video

    def frame(self, data: bytes, threads: int | None = None) -> bytes:
        """One camera frame (JPEG, PNG or WebP bytes) -> the stylized frame as JPEG (on a worker),
        with ``threads`` torch threads for this frame if given (this worker thread only: OpenMP's
        thread count is per thread)."""
        if threads is None:
            return self._frame(data)
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return self._frame(data)
        finally:
            torch.set_num_threads(before)

    def _frame(self, data: bytes) -> bytes:
        rgb = read_array(data, max_size=self.engine.config.live_max_size, max_pixels=self.engine.config.max_pixels).rgb
        out = self._stylizer().frame(rgb)  # (H, W, 3) float32
        return encode_image(out, "jpeg", quality=LIVE_QUALITY)


def check_format(fmt: str) -> str:
    """``fmt`` if the server returns it (:data:`~instyle.choices.WEB_FORMATS`), else UsageError."""
    from ..choices import check

    return check(fmt, WEB_FORMATS, "format", UsageError)


def _cached(
    cache: LRU[V], field: str, data: bytes | None, image_id: str | None, decode: Callable[[bytes], V]
) -> tuple[str, V]:
    """(hash, item) of an upload: ``decode(data)``, kept in ``cache`` under the data's hash, or the
    item cached as ``image_id`` when no data came (UnknownImage if it is not there any more)."""
    if data is None:
        hit = cache.get(image_id or "")
        if hit is None:
            raise UnknownImage(f"unknown or expired {field}_id; send the {field.replace('_', ' ')} again")
        return image_id or "", hit
    key = content_hash(data)
    hit = cache.get(key)
    if hit is None:
        hit = decode(data)
        cache.put(key, hit)
    return key, hit
