"""RGB frames as 4:2:0 video (one colour sample per 2×2 pixels), without colour shimmer.

FFmpeg's own conversion (swscale) samples the colour planes with a short filter, so fine colour
texture (a stylized frame has plenty) aliases: the same brush stroke, moved by an odd number of
pixels, lands on the other phase of the 2×2 grid and decodes to another colour. Every pan and zoom
then shimmers in colour, and no stabilization upstream can stop it. :func:`rgb_to_yuv420` averages
each 2×2 block of the colour planes and low-passes the result (a Gaussian, :data:`CHROMA_SIGMA`).

Measured by benchmarks/video_blend.py (written as H.264 and decoded as a player shows them,
against FFmpeg's conversion and a 4:4:4 file) and pinned by tests/video/test_chroma.py (a frame
moved by one pixel decodes to nearer colours); the numbers are in docs/video.md.
"""

from __future__ import annotations

import numpy as np

from .stabilize import require_cv2

#: Standard deviation, in pixels of the frame, of the colour planes' low-pass (2.0: colour edges
#: soften by about one colour sample of the 4:2:0 file).
CHROMA_SIGMA = 2.0

#: ITU-R BT.601, limited range (what swscale and players assume for untagged 8-bit video):
#: rows Y, Cb, Cr; columns R, G, B (0–1) and offset, to 0–255.
_BT601 = np.array(
    [
        [0.299 * 219, 0.587 * 219, 0.114 * 219, 16.0],
        [-0.168736 * 224, -0.331264 * 224, 0.5 * 224, 128.0],
        [0.5 * 224, -0.418688 * 224, -0.081312 * 224, 128.0],
    ],
    np.float32,
)


def rgb_to_yuv420(rgb: np.ndarray, sigma: float = CHROMA_SIGMA) -> np.ndarray:
    """(H, W, 3) float32 RGB in [0, 1], H and W even -> (3H/2, W) uint8 planar YUV 4:2:0 (Y, then
    Cb, then Cr, each row-major), as :meth:`av.VideoFrame.from_ndarray` takes ``yuv420p``. The
    colour planes are halved by 2x2 means, then blurred at half size by ``sigma / 2`` (about a
    Gaussian of ``sigma`` px of the frame before the halving, at a quarter of the cost: small
    beside a frame's other work)."""
    cv2 = require_cv2()
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"4:2:0 needs even sides, got {w}x{h}")
    ycc = cv2.transform(np.asarray(rgb, np.float32), _BT601)  # (H, W, 3): Y, Cb, Cr in 0-255
    out = np.empty((h * 3 // 2, w), np.uint8)
    out[:h] = cv2.convertScaleAbs(np.ascontiguousarray(ycc[..., 0]))  # rounded, saturated; Y >= 16
    chroma = np.ascontiguousarray(cv2.resize(ycc, (w // 2, h // 2), interpolation=cv2.INTER_AREA)[..., 1:])
    if sigma > 0:  # (H/2, W/2, 2)
        chroma = cv2.GaussianBlur(chroma, (0, 0), sigma / 2, borderType=cv2.BORDER_REFLECT)
    out[h:] = cv2.convertScaleAbs(chroma).transpose(2, 0, 1).reshape(h // 2, w)  # Cb's H/4 rows of W, then Cr's
    return out
