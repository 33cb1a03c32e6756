"""The YIQ colour space of luminance-only transfer (Gatys et al. 2017, "Controlling Perceptual
Factors in Neural Style Transfer"), without torch: the matrix (:mod:`instyle.color` builds its
tensors from it) and the luminance swap on numpy images that the onnxruntime backend uses."""

from __future__ import annotations

import numpy as np

#: NTSC RGB -> YIQ (rows: Y, I, Q).
RGB_TO_YIQ = (
    (0.299, 0.587, 0.114),
    (0.595716, -0.274453, -0.321263),
    (0.211456, -0.522591, 0.311135),
)


def combine_luminance_array(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 images in [0, 1] -> ``stylized``'s luma Y with ``content``'s chroma (I, Q),
    clamped: :func:`instyle.color.combine_luminance` on arrays of the same size.

    YIQ -> RGB maps (ΔY, 0, 0) to (ΔY, ΔY, ΔY) (its first column is (1, 1, 1)), so the swap is the
    content plus the luma difference in every channel: one dot product per pixel.
    """
    delta = (stylized - content) @ np.asarray(RGB_TO_YIQ[0], dtype=np.float32)  # (H, W)
    return np.clip(content + delta[..., None], 0.0, 1.0, dtype=np.float32)
