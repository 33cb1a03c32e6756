"""Running exported networks with onnxruntime, without torch.

The built-in network ships as ONNX (``assets/builtin_styles.onnx``, made by ``instyle export``), so
``instyle stylize photo.jpg --style candy`` starts in a fraction of the time ``import torch``
takes. Images are numpy arrays (H, W, 3) float32 in [0, 1], as :func:`instyle.imageio.read_array`
gives them and :func:`instyle.imageio.save_image` takes them. Style choice, blends, colour and size
rules are the torch runtime's own (:mod:`instyle.blend`, :mod:`instyle.sizes`); outputs agree with
it within 1e-3 (tests/test_onnx_runtime.py).

Example:
    >>> from instyle.onnx_runtime import OnnxFastStylizer       # doctest: +SKIP
    >>> from instyle.imageio import read_array, save_image       # doctest: +SKIP
    >>> out = OnnxFastStylizer()(read_array("photo.jpg", max_size=1024).rgb, "candy")  # doctest: +SKIP
    >>> save_image("out.png", out)                                # doctest: +SKIP
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from .blend import FAST_MAX_PIXELS, StyleChoice, check_alpha, check_fast_request, style_vector
from .errors import BACKEND_TORCH, MODEL, InstyleError, UsageError, WeightsError, one_line
from .imageio.modes import pad_reflect_array
from .luma import combine_luminance_array
from .shipped import LIGHT_ONNX_DIR, SHIPPED_ONNX, SHIPPED_SHARED_ONNX, companion_references, shipped_path
from .sizes import (
    ENCODER_STRIDE,
    MIN_SIDE,
    SIDE_MULTIPLE,
    STROKE_REFERENCE,
    Brushes,
    padded_side,
    stroke_reference,
    texture_net_grid,
    texture_sizes,
)

ONNX_FORMAT = "instyle.onnx"  # as instyle.export writes it
#: 2: fast networks take no ``keep_colors`` input (the runtime puts the chroma back); 1 still reads.
ONNX_FORMAT_VERSION = 2
#: Longest side :class:`OnnxAdaIN` is asked for by the command line: a square of it is its
#: ``max_pixels`` (larger images go to torch, which tiles). Up to 1920×1080 the light network's
#: whole call, its style included, is faster on onnxruntime than on torch and takes less memory
#: (whole-command times and memory: benchmarks/startup.py, docs/benchmarks.md).
ONNX_ADAIN_MAX_SIDE = 2048
#: Video frames larger than this (pixels) go to torch rather than onnxruntime with ``--backend
#: auto``: the built-in network two frames at once is faster on onnxruntime than on torch at
#: 640x360, slower at 1080p, where torch is faster even with ``--stabilize stats``
#: (benchmarks/video.py, results/video_1080p.json).
ONNX_VIDEO_MAX_PIXELS = 1_000_000


def available() -> bool:
    """Whether onnxruntime is installed (checked without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


def builtin_onnx_path(name: str = "builtin", *, shared_statistics: bool = False) -> str:
    """The ONNX copy of shipped network ``name`` (a key of :data:`~instyle.shipped.SHIPPED_ONNX`,
    or with ``shared_statistics`` of :data:`~instyle.shipped.SHIPPED_SHARED_ONNX`; WeightsError if
    this instyle has none)."""
    files, flag = (SHIPPED_SHARED_ONNX, " --shared-statistics") if shared_statistics else (SHIPPED_ONNX, "")
    if name not in files:
        raise WeightsError(
            f"this instyle ships no ONNX copy of the {name} network"
            + (" with shared statistics (the video stabilization's): use {torch}" if flag else ""),
            torch=BACKEND_TORCH,
        )
    return shipped_path(
        files[name],
        f"this instyle ships no ONNX copy of the {name} network; "
        f"make one with `instyle export {name}{flag} -o FILE` and pass it with {{model}}",
        model=MODEL,
    )


def shared_onnx_path(name: str) -> str:
    """:func:`builtin_onnx_path` of ``name`` with shared statistics (the graph video and live mode run)."""
    return builtin_onnx_path(name, shared_statistics=True)


def light_onnx_path(file: str) -> str:
    """A file of the shipped light AdaIN network as ONNX (WeightsError if this instyle has none)."""
    return shipped_path(
        f"{LIGHT_ONNX_DIR}/{file}",
        "this instyle ships no ONNX copy of the light AdaIN network; make one with "
        "`instyle export adain --arch light -o FOLDER`",
    )


def ort_module():
    """``onnxruntime``, imported with its telemetry off (``ORT_DISABLE_TELEMETRY``): otherwise it
    writes a device id and a database under ``~/.cache/Microsoft/DeveloperTools`` on first use, and
    prints a line on every command where HOME is read-only. A user's own setting wins."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime

    return onnxruntime


@functools.cache
def _shared_arena() -> bool:
    """Register one CPU memory arena for every session of this process (once; False if
    onnxruntime refuses, e.g. another library registered one first: sessions then keep their own).

    With an arena per session, each session's first run page-faults its own fresh memory, so the
    AdaIN decoder's first call is slower than the next. Sharing one arena, the decoder reuses the
    pages the encoder's run has just touched, and its first call runs as fast as a warm one; a
    command's first light encoder + decoder + style image calls are faster too (docs/benchmarks.md,
    measured with benchmarks/startup.py)."""
    ort = ort_module()

    try:
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, -1, -1, -1))  # onnxruntime's defaults
    except Exception:
        return False
    return True


def _open(path: str | os.PathLike, threads: int | None):
    """(InferenceSession, metadata) of an instyle ONNX file; one-line errors for anything else."""
    if not available():
        raise InstyleError("the onnxruntime backend needs onnxruntime: pip install onnxruntime")
    ort = ort_module()

    name = os.fsdecode(os.fspath(path))
    if not os.path.isfile(name):
        raise WeightsError(f"ONNX file {name!r} not found")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no warnings on the user's terminal
    if threads:
        options.intra_op_num_threads = threads
    # Worker threads sleep between ops instead of spinning: spinning ones take the cores that a
    # folder's decoding and writing threads need (a folder of 512² photos on 2 cores is faster
    # whole process, one photo no slower; benchmarks/startup.py's folder case).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if _shared_arena():
        options.add_session_config_entry("session.use_env_allocators", "1")
    try:
        session = ort.InferenceSession(name, options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise WeightsError(f"{name} is not a readable ONNX file ({one_line(exc)[:120]})") from None
    meta = dict(session.get_modelmeta().custom_metadata_map)
    if meta.get("format") != ONNX_FORMAT:
        raise WeightsError(f"{name} is an ONNX file, but not one instyle exported (no instyle metadata)")
    try:
        version = int(meta.get("format_version", "0"))
    except ValueError:
        version = 0
    if not 1 <= version <= ONNX_FORMAT_VERSION:
        raise WeightsError(
            f"{name} uses instyle ONNX format {meta.get('format_version')!r}; this instyle reads "
            f"1 to {ONNX_FORMAT_VERSION}"
        )
    return session, meta


def pad_to(x: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(H, W, C) -> (h, w, C) padded at the bottom and right: reflected, or edge-replicated where the
    image is too small to reflect (:func:`instyle.sizes.can_reflect`, the torch runtime's rule)."""
    return pad_reflect_array(x, (0, hw[1] - x.shape[1], 0, hw[0] - x.shape[0]))


def _nchw(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)  # (H, W, C) -> (1, C, H, W)


class OnnxFastStylizer(Brushes):
    """A fast network (exported by ``instyle export``) on onnxruntime: the same call as
    :class:`instyle.FastStylizer`, on numpy arrays.

    Args:
        model: an ONNX file, None for the shipped built-in network, or the name of a shipped
            network with an ONNX copy (``builtin``, ``builtin-video``).
        threads: onnxruntime's intra-op threads (None: its default, one per core).
        max_pixels: larger images are refused (see :class:`instyle.FastStylizer`).
        shared_statistics: the network's graph for video with statistics shared across frames
            (``instyle export --shared-statistics``; a shipped network's copy, or ``model`` must
            be one): calls then take ``statistics``.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        threads: int | None = None,
        max_pixels: int = FAST_MAX_PIXELS,
        shared_statistics: bool = False,
    ):
        shipped = model is None or (isinstance(model, str) and model in SHIPPED_ONNX)
        name = cast(str, model or "builtin")  # used where shipped: model is then None or a name
        self._settings: dict[str, Any] = dict(threads=threads, max_pixels=max_pixels)
        if shipped and not shared_statistics:  # (video's shared-statistics graphs have none)
            self.companions = companion_references(name, onnx=True)
        self.path = builtin_onnx_path(name, shared_statistics=shared_statistics) if shipped else str(model)
        self.session, self.metadata = _open(self.path, threads)
        if self.metadata.get("kind") not in ("johnson", "texture_net"):
            raise WeightsError(f"{self.path} holds a {self.metadata.get('kind')}, not a fast network")
        self.config: dict = json.loads(self.metadata.get("config", "{}"))
        #: as :attr:`instyle.FastStylizer.stroke_reference` (its file's metadata)
        self.stroke_reference = stroke_reference(self.metadata)
        self.max_pixels = max_pixels
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._scales = sum(1 for n in self._inputs if n.startswith("z"))
        #: Channels of each norm layer whose statistics the graph shares (empty: a plain graph).
        self.shared_layers: tuple[int, ...] = tuple(json.loads(self.metadata.get("shared_statistics", "[]")))
        if shared_statistics and not self.shared_layers:
            raise WeightsError(
                f"{self.path} was exported without shared statistics (`instyle export --shared-statistics`)"
            )

    def _load_companion(self, name: str) -> OnnxFastStylizer:
        return OnnxFastStylizer(name, **self._settings)

    @property
    def grid(self) -> int:
        """The network's sampling grid in px, as :attr:`instyle.FastStylizer.grid`."""
        if self.metadata.get("kind") == "texture_net":
            return texture_net_grid(int(self.config.get("scales", 5)))
        return SIDE_MULTIPLE

    @property
    def styles(self) -> tuple[str, ...]:
        """Names of the styles of a multi-style network (empty for a single-style one)."""
        return tuple(json.loads(self.metadata.get("styles", "[]")))

    def __call__(
        self,
        rgb: np.ndarray,
        style: StyleChoice = None,
        *,
        weights: Sequence[float] | None = None,
        color: str = "none",
        seed: int = 0,
        statistics=None,
    ) -> np.ndarray:
        """Stylize ``rgb`` (H, W, 3) float32 in [0, 1] -> (H, W, 3) float32 in [0, 1].

        ``style``, ``weights``, ``color`` as for :class:`instyle.FastStylizer`; ``seed`` draws a
        texture net's noise (numpy's generator: the same seed gives other noise than torch's).
        ``statistics``: a video frame's :class:`~instyle.video.stabilize.FrameStatistics` (a graph
        with :attr:`shared_layers` only): layer k's statistics are mixed with its ``past[k]``, and
        its own are recorded; without it the graph runs as the plain network.
        """
        if statistics is not None and not self.shared_layers:
            raise ValueError(f"{self.path} does not share statistics (`instyle export --shared-statistics`)")
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an image array of shape (H, W, 3), got {rgb.shape}")
        h, w = rgb.shape[:2]
        check_fast_request(color, (h, w), self.max_pixels)
        vec = style_vector(self.styles, style, weights)
        image = _nchw(pad_to(rgb, (padded_side(h), padded_side(w))))  # (1, 3, H', W')
        feeds = {"image": image}
        in_graph = "keep_colors" in self._inputs  # a format 1 file: the chroma is put back in the graph
        if in_graph:
            feeds["keep_colors"] = np.array(color == "luminance", dtype=np.float32)
        if vec is not None:
            feeds["style_weights"] = np.asarray(vec, dtype=np.float32)
        if self._scales:
            rng = np.random.default_rng(seed)
            channels = int(self.config.get("noise_channels", 3))
            for k, (zh, zw) in enumerate(texture_sizes(image.shape[2], image.shape[3], self._scales)):
                feeds[f"z{k}"] = rng.random((1, channels, zh, zw), dtype=np.float32)
        if self.shared_layers:
            feeds.update(_shared_feeds(self.shared_layers, statistics))
        outs = self.session.run(None, feeds) if self.shared_layers else self.session.run(["stylized"], feeds)
        if statistics is not None:
            for k in range(len(self.shared_layers)):  # outputs: stylized, mean_0, std_0, mean_1, …
                statistics.record(k, outs[1 + 2 * k], outs[2 + 2 * k])
        out = outs[0]  # (1, 3, H', W')
        out = np.ascontiguousarray(out[0, :, :h, :w].transpose(1, 2, 0))  # (H, W, 3)
        return combine_luminance_array(out, rgb) if color == "luminance" and not in_graph else out


def _shared_feeds(channels: Sequence[int], statistics) -> dict[str, np.ndarray]:
    """``momentum`` and every layer's ``past_mean_k``, ``past_std_k`` (1, C_k, 1, 1): the frame's
    past average, or momentum 0 (the frame's own statistics) at a shot's start or without one."""
    past = statistics.past if statistics is not None else {}
    have = all(k in past and past[k][0].shape == (1, c, 1, 1) for k, c in enumerate(channels))
    feeds = {"momentum": np.array([statistics.momentum if have else 0.0], dtype=np.float32)}
    for k, c in enumerate(channels):
        mean, std = past[k] if have else (np.zeros((1, c, 1, 1), np.float32),) * 2
        feeds[f"past_mean_{k}"], feeds[f"past_std_{k}"] = mean, std
    return feeds


class OnnxAdaIN(Brushes):
    """AdaIN (``instyle export adain``: ``encoder.onnx`` and ``decoder.onnx`` in a folder; None:
    the light network shipped with instyle) on onnxruntime, without torch: any style image or
    statistics (presets: :meth:`style_stats_of`), blends by mixed statistics, α. Images up to
    ``max_pixels`` in one piece (the torch :class:`instyle.AdaINStylizer` tiles larger ones).

    Example:
        >>> net = OnnxAdaIN()                                                    # doctest: +SKIP
        >>> stats = net.style_stats_of("starry.jpg")                             # doctest: +SKIP
        >>> out = net(read_array("photo.jpg", max_size=1024).rgb, stats, alpha=0.8)  # doctest: +SKIP
    """

    def __init__(
        self,
        folder: str | os.PathLike | None = None,
        *,
        threads: int | None = None,
        max_pixels: int = ONNX_ADAIN_MAX_SIDE**2,
    ):
        if folder is None:
            folder = Path(light_onnx_path("encoder.onnx")).parent
        folder = Path(folder)
        self.encoder, enc_meta = _open(folder / "encoder.onnx", threads)
        self.decoder, dec_meta = _open(folder / "decoder.onnx", threads)
        if (enc_meta.get("kind"), dec_meta.get("kind")) != ("adain_encoder", "adain_decoder"):
            raise WeightsError(f"{folder} does not hold an exported AdaIN encoder and decoder")
        self.arch = enc_meta.get("arch", "vgg")
        self.encoder_id = enc_meta.get("encoder_id", "")  # whose statistics presets must hold
        self.max_pixels = max_pixels
        self.grid = ENCODER_STRIDE  # the sampling grid in px (relu4_1's step), as AdaINStylizer.grid
        self.stroke_reference = STROKE_REFERENCE  # as AdaINStylizer's

    def style_stats_of(self, style: str, *, style_size: int | None = 512) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) of a style image file (longer side resized to ``style_size`` as the torch
        runtime does, :func:`instyle.imageio.modes.resize_longer_array`) or a preset name."""
        from .imageio import read_array
        from .imageio.modes import resize_longer_array

        if not os.path.exists(style) and style != "-":
            from .presets import load_preset_array

            return load_preset_array(style, self.encoder_id)
        rgb = read_array(style).rgb
        return self.style_stats(rgb if style_size is None else resize_longer_array(rgb, style_size))

    def _encode(self, rgb: np.ndarray, outputs: Sequence[str]) -> list:
        h, w = rgb.shape[:2]
        if h * w > self.max_pixels:
            raise UsageError(
                f"{w}x{h} is over the ONNX AdaIN's {self.max_pixels / 1e6:.1f} megapixels; "
                "use the torch backend, which tiles"
            )
        x = pad_to(rgb, (max(h, MIN_SIDE), max(w, MIN_SIDE)))  # under 16 px: edge-padded up to it
        return self.encoder.run(list(outputs), {"image": _nchw(x)})

    def encode(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) -> relu4_1 features (1, C, ⌈H/8⌉, ⌈W/8⌉)."""
        return self._encode(rgb, ["features"])[0]

    def style_stats(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A style image's relu4_1 (mean, std), each (1, C, 1, 1), computed in the graph as the
        torch runtime computes them (:func:`instyle.nn.calc_mean_std`). Resize the image to the
        style size first (``read_array(path, size=512)``), as ``AdaINStylizer`` does."""
        mean, std = self._encode(rgb, ["mean", "std"])
        return mean, std

    def __call__(self, rgb: np.ndarray, stats: tuple[np.ndarray, np.ndarray], *, alpha: float = 1.0) -> np.ndarray:
        """Stylize ``rgb`` (H, W, 3) with style statistics ``(mean, std)`` -> (H, W, 3) in [0, 1]."""
        check_alpha(alpha)
        mean, std = (np.asarray(s, dtype=np.float32).reshape(1, -1, 1, 1) for s in stats)
        out = self.decoder.run(
            ["stylized"],
            {
                "features": self.encode(rgb),
                "style_mean": mean,
                "style_std": std,
                "alpha": np.array(alpha, dtype=np.float32),
            },
        )[0]
        h, w = rgb.shape[:2]
        return np.ascontiguousarray(out[0, :, :h, :w].transpose(1, 2, 0))
