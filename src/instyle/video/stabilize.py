"""Temporal stability for video: why per-frame stylization flickers, and what removes it.

Instance normalization computes its statistics per frame, and they move with every frame (a
person walks in, the camera pans), so the same wall is painted differently from frame to frame.
Two remedies, both reset at scene cuts so nothing carries over into a new shot:

* **Shared statistics** (:class:`StatisticsEMA`): every IN, conditional-IN and AdaIN layer uses
  an exponential moving average of its per-channel content statistics over the frames instead of
  the frame's own (in the spirit of ReReVST's sequence-level feature sharing, Wang et al. 2020).
  Style statistics are computed once; a texture net's noise is fixed. Cheap, and it removes the
  global "breathing" of colours and contrast.
* **Motion** (:class:`FlowBlender`): OpenCV's DIS optical flow between consecutive input frames
  warps the previous output onto the current frame, and it is blended in where a forward–backward
  check says the pixel is visible in both frames (Ruder et al. 2016's occlusion test), so moving
  edges and uncovered areas are never smeared.

Scene cuts (:class:`SceneCuts`) are frames whose small grayscale thumbnail differs from the
previous one's by more than a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from ..choices import STABILIZE_MODES, check
from ..errors import InstyleError


@dataclass(frozen=True)
class StabilizeConfig:
    """How video is stabilized.

    Attributes:
        mode: one of :data:`~instyle.choices.STABILIZE_MODES`.
        momentum: weight of the past in the statistics' moving average (0: per frame).
        blend: weight of the warped previous output where the flow is consistent (0: none).
        cut_threshold: mean absolute difference (0–1) of consecutive 64-px grayscale thumbnails
            above which a frame starts a new shot.
        flow_width: the flow is computed on frames shrunk to this width (speed).
    """

    mode: str = "full"
    momentum: float = 0.9
    blend: float = 0.5
    cut_threshold: float = 0.25
    flow_width: int = 480

    def __post_init__(self) -> None:
        check(self.mode, STABILIZE_MODES, "stabilize")
        for name in ("momentum", "blend", "cut_threshold"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.flow_width < 32:
            raise ValueError(f"flow width must be at least 32 px, got {self.flow_width}")

    @property
    def statistics(self) -> bool:
        return self.mode in ("full", "stats") and self.momentum > 0

    @property
    def flow(self) -> bool:
        return self.mode in ("full", "flow") and self.blend > 0


def _cv2():
    try:
        import cv2
    except ImportError:
        raise InstyleError("video stabilization needs OpenCV: pip install 'instyle[video]'") from None
    return cv2


class StatisticsEMA:
    """``(key, mean, std) -> (mean, std)``: each layer's statistics averaged over the frames
    (a :func:`instyle.nn.functional.statistics_filter`). The first frame after :meth:`reset` uses
    its own."""

    def __init__(self, momentum: float):
        self.momentum = momentum
        self.state: Dict[object, Tuple] = {}

    def reset(self) -> None:
        self.state.clear()

    def __call__(self, key: object, mean, std):
        past = self.state.get(key)
        if past is not None and past[0].shape == mean.shape:
            m = self.momentum
            mean = m * past[0] + (1.0 - m) * mean
            std = m * past[1] + (1.0 - m) * std
        self.state[key] = (mean.detach(), std.detach())
        return mean, std


class SceneCuts:
    """Tells a new shot from motion: thumbnails of consecutive frames that differ a lot."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.previous: Optional[np.ndarray] = None

    def __call__(self, rgb: np.ndarray) -> bool:
        """Whether ``rgb`` (H, W, 3) starts a new shot (the first frame does)."""
        cv2 = _cv2()
        h, w = rgb.shape[:2]
        thumb = cv2.resize(rgb.mean(axis=2), (64, max(1, round(64 * h / w))), interpolation=cv2.INTER_AREA)
        cut = (
            self.previous is None
            or self.previous.shape != thumb.shape
            or float(np.abs(thumb - self.previous).mean()) > self.threshold
        )
        self.previous = thumb
        return cut


#: DIS needs frames of at least 12 px a side: smaller ones are enlarged to this for the flow.
_MIN_FLOW_SIDE = 32


def _gray(rgb: np.ndarray, width: int) -> np.ndarray:
    """8-bit luma at most ``width`` wide (and at least :data:`_MIN_FLOW_SIDE` on each side)."""
    cv2 = _cv2()
    h, w = rgb.shape[:2]
    scale = min(1.0, width / w) if min(h, w) * min(1.0, width / w) >= _MIN_FLOW_SIDE else _MIN_FLOW_SIDE / min(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = (
        rgb
        if size == (w, h)
        else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    )
    return np.round(small @ np.array([0.299, 0.587, 0.114], np.float32) * 255).astype(np.uint8)


def _upscale_flow(flow: np.ndarray, hw: Tuple[int, int]) -> np.ndarray:
    """A (h, w, 2) flow of a resized frame as the (H, W, 2) flow of the full frame."""
    cv2 = _cv2()
    if flow.shape[:2] == tuple(hw):
        return flow
    sy, sx = hw[0] / flow.shape[0], hw[1] / flow.shape[1]
    big = cv2.resize(flow, (hw[1], hw[0]), interpolation=cv2.INTER_LINEAR)
    big[..., 0] *= sx
    big[..., 1] *= sy
    return big


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` (H, W, C) sampled at x + flow(x) (bicubic, edges replicated): the previous frame
    brought onto the current one with the backward flow (current -> previous). Bicubic rather than
    bilinear: frames are warped again and again, and bilinear sampling blurs each time (texture
    detail 0.52 vs 0.45 of per-frame's at blend 0.5, benchmarks/video.py's pan)."""
    cv2 = _cv2()
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


class MotionEstimator:
    """DIS optical flow (Kroeger et al. 2016, OpenCV) between consecutive frames, both ways, with the
    forward–backward consistency mask of Ruder et al. 2016."""

    def __init__(self, width: int = 480):
        cv2 = _cv2()
        self.width = width
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(backward flow current -> previous (H, W, 2) in px, mask (H, W) float32: 1 where the pixel
        is visible in both frames)."""
        a, b = _gray(previous, self.width), _gray(current, self.width)
        backward = self.dis.calc(b, a, None)  # current -> previous, at the small size
        forward = self.dis.calc(a, b, None)
        # a pixel is consistent when going back then forward lands where it started
        there = warp(forward, backward)  # forward flow at x + backward(x)
        err = np.square(backward + there).sum(axis=2)
        scale = np.square(backward).sum(axis=2) + np.square(there).sum(axis=2)
        mask = (err <= 0.01 * scale + 0.5).astype(np.float32)
        hw = current.shape[:2]
        cv2 = _cv2()
        mask = cv2.resize(mask, (hw[1], hw[0]), interpolation=cv2.INTER_LINEAR) if mask.shape != hw else mask
        return _upscale_flow(backward, hw), mask


class FlowBlender:
    """The current output blended with the previous output warped onto it, where the motion is
    consistent: ``out = stylized + blend·mask·(warped_previous − stylized)``."""

    def __init__(self, blend: float, width: int = 480):
        self.blend = blend
        self.motion = MotionEstimator(width)

    def __call__(
        self, previous_in: np.ndarray, current_in: np.ndarray, previous_out: np.ndarray, stylized: np.ndarray
    ) -> np.ndarray:
        flow, mask = self.motion(previous_in, current_in)
        warped = warp(previous_out, flow)
        w = (self.blend * mask)[..., None]
        return stylized + w * (warped - stylized)
