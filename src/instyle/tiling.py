"""Exact tiled encoding and decoding for images too large to process in one piece.

The AdaIN pipeline is local except for the per-channel statistics that AdaIN takes over the
whole feature map. So a huge image is processed as:

1. encode tile by tile, each tile read with a halo wider than the encoder's receptive field
   and aligned to its stride, and keep only the tile's own part of the relu4_1 map;
2. AdaIN (and masks, blending) on the assembled feature map, with exact global statistics;
3. decode tile by tile with a halo in feature space, keeping each tile's own output pixels.

With tiles on the stride grid and halos wider than the receptive fields, every kept value is
computed from exactly the inputs the whole-image pass would use, so tiles join without seams
(differences are float rounding only). Peak memory is set by the tile size, not the image size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from .sizes import ENCODER_STRIDE as STRIDE  # relu4_1 is 1/8 of the input resolution

ENCODER_HALO = 64  # px; relu4_1's receptive field is 68 px wide (radius 34), rounded up to the stride
DECODER_HALO = 8  # feature px; the decoder reads 4 feature px away (5 with bilinear upsampling)


def _spans(length: int, tile: int) -> Iterator[tuple[int, int]]:
    """[start, stop) spans of at most ``tile`` covering [0, length), starts on the grid of ``tile``."""
    for start in range(0, length, tile):
        yield start, min(length, start + tile)


def encode_tiled(
    encode: Callable[[Tensor], Tensor], img: Tensor, tile: int, *, halo: int = ENCODER_HALO, out_channels: int = 512
) -> Tensor:
    """``encode`` (N, 3, h, w) -> (N, C, ⌈h/8⌉, ⌈w/8⌉) applied to ``img`` (N, 3, H, W) in tiles.

    ``tile`` and ``halo`` are in input pixels and must be multiples of 8.
    """
    if tile % STRIDE or halo % STRIDE:
        raise ValueError(f"tile ({tile}) and halo ({halo}) must be multiples of {STRIDE}")
    n, _, H, W = img.shape
    fh, fw = -(-H // STRIDE), -(-W // STRIDE)
    out = None
    for y0, y1 in _spans(H, tile):
        for x0, x1 in _spans(W, tile):
            ya, yb = max(0, y0 - halo), min(H, y1 + halo)
            xa, xb = max(0, x0 - halo), min(W, x1 + halo)
            f = encode(img[..., ya:yb, xa:xb])  # (N, C, ⌈(yb-ya)/8⌉, ⌈(xb-xa)/8⌉)
            if out is None:
                out = f.new_empty(n, f.shape[1], fh, fw)
            fy0, fx0 = (y0 - ya) // STRIDE, (x0 - xa) // STRIDE
            hh, ww = -(-(y1 - y0) // STRIDE), -(-(x1 - x0) // STRIDE)
            out[..., y0 // STRIDE : y0 // STRIDE + hh, x0 // STRIDE : x0 // STRIDE + ww] = f[
                ..., fy0 : fy0 + hh, fx0 : fx0 + ww
            ]
    assert out is not None
    return out


def decode_tiled(
    decode: Callable[[Tensor], Tensor], feat: Tensor, tile: int, *, halo: int = DECODER_HALO, out: Tensor | None = None
) -> Tensor:
    """``decode`` (N, C, h, w) -> (N, 3, 8h, 8w) applied to ``feat`` in tiles of ``tile`` feature px.

    Returns (N, 3, 8·H_f, 8·W_f) float32 (written into ``out`` if given, e.g. a smaller crop is
    taken by the caller).
    """
    n, _, fh, fw = feat.shape
    if out is None:
        out = torch.empty(n, 3, fh * STRIDE, fw * STRIDE, dtype=torch.float32, device=feat.device)
    for y0, y1 in _spans(fh, tile):
        for x0, x1 in _spans(fw, tile):
            ya, yb = max(0, y0 - halo), min(fh, y1 + halo)
            xa, xb = max(0, x0 - halo), min(fw, x1 + halo)
            img = decode(feat[..., ya:yb, xa:xb])  # (N, 3, 8(yb-ya), 8(xb-xa))
            oy, ox = (y0 - ya) * STRIDE, (x0 - xa) * STRIDE
            out[..., y0 * STRIDE : y1 * STRIDE, x0 * STRIDE : x1 * STRIDE] = img[
                ..., oy : oy + (y1 - y0) * STRIDE, ox : ox + (x1 - x0) * STRIDE
            ].float()
    return out
