"""Temporal stability for video: why per-frame stylization flickers, and what removes it.

Instance normalization computes its statistics per frame, and they move with every frame (a
person walks in, the camera pans), so the same wall is painted differently from frame to frame.
And strided networks are not shift-equivariant: a wall that moved by 9 px is painted with its
texture in another phase of the network's 4- or 8-px grid. Three remedies, all reset at scene
cuts so nothing carries over into a new shot:

* **Shared statistics** (:class:`StatisticsEMA`): every IN, conditional-IN and AdaIN layer uses
  an exponential moving average of its per-channel content statistics over the frames instead of
  the frame's own (in the spirit of ReReVST's sequence-level feature sharing, Wang et al. 2020).
  Style statistics are computed once; a texture net's noise is fixed. Cheap, and it removes the
  global "breathing" of colours and contrast.
* **Motion** (:class:`MotionEstimator`, :func:`blend_warped`): OpenCV's DIS optical flow between
  consecutive input frames, refined down to single pixels and fused with the camera's own motion
  (DIS's smooth flow drags the still background beside a moving object along; where the camera's
  motion explains a pixel better, it takes its place), warps the previous output onto the current
  frame, and it is blended in where the flow holds (the previous input frame, brought over by it,
  matches the current one: uncovered background does not) and only as far as it resembles the new
  output (a range weight, as in a bilateral filter over time), so moving edges, uncovered areas
  and whatever the flow got wrong are never smeared, while texture that moved with the scene is
  held steady. Where the scene stands still the range is twice as wide: the input there did not
  change, and the network paints it differently only because something moved nearby.
* **Grid alignment** (:class:`GridAlignment`): the camera's motion (the median flow, refined by
  ECC) is summed over the shot, and each frame is padded at its top and left so the scene keeps
  its place on the network's sampling grid; the output is cropped back. On a pan this alone
  removes most of the flicker without touching texture detail; the blend above halves what is
  left and steadies what alignment cannot reach: a zoom, and a moving object (painted in a new
  phase of the grid each frame, it often differs from its warped past by more than the blend
  accepts). Measured by benchmarks/video_blend.py (docs/video.md).

What none of these can reach, a zoom or an object moving on its own (one shift cannot align
both), the network itself learns: the built-in styles' network for video (``builtin-video``)
was trained with a stability loss (:mod:`instyle.train.stability`), so its texture moves with the
scene under shifts of any phase, zooms and small turns.

Scene cuts (:class:`SceneCuts`) are frames whose small grayscale thumbnail differs from the
previous one's by more than a threshold.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

from ..blend import moving_average
from ..choices import DEFAULT_VIDEO_BLEND, DEFAULT_VIDEO_TOLERANCE, FLOW_CHECKS, STABILIZE_MODES, check
from ..errors import InstyleError
from ..imageio.modes import pad_reflect_array

#: The blend's fall-off: the exponent p of its range weight ``exp(−(d / tolerance)^p)``
#: (:func:`blend_warped`; 2 would be a Gaussian).
BLEND_FALLOFF = 4.0

#: How many times the blend's tolerance is widened where the scene stands still (the flow moves
#: the pixel by less than :data:`STILL_MOTION`): the input there did not change, so whatever the
#: network paints differently comes from farther off (an object moving nearby changes what its
#: receptive field sees), and holding the previous output costs no texture (it is not resampled).
#: Chosen on benchmarks/video_blend.py's moving object over a still background (docs/video.md):
#: steadier than 1 at the same texture detail, where 4 began to cost texture.
STILL_TOLERANCE = 2.0

#: Motion under which a pixel counts as still (px, on either axis).
STILL_MOTION = 0.25


@dataclass(frozen=True)
class StabilizeConfig:
    """How video is stabilized.

    Attributes:
        mode: one of :data:`~instyle.choices.STABILIZE_MODES`.
        momentum: weight of the past in the statistics' moving average (0: per frame).
        blend: weight of the warped previous output where the flow is consistent and the two
            outputs agree (0: none); see :func:`blend_warped`.
        tolerance: difference between the two outputs (mean absolute, 0–1 RGB) at which that
            weight has fallen to 1/e of ``blend``.
        falloff: how steeply it falls: the exponent p of ``exp(−(d / tolerance)^p)`` (2: Gaussian).
        still: how many times ``tolerance`` is widened where the scene stands still
            (:data:`STILL_TOLERANCE`; 1: not at all).
        align: keep the network's sampling grid fixed to the scene (:class:`GridAlignment`).
        cut_threshold: mean absolute difference (0–1) of consecutive 64-px grayscale thumbnails
            above which a frame starts a new shot.
        flow_check: how the flow's validity is told (:data:`~instyle.choices.FLOW_CHECKS`,
            :class:`MotionEstimator`'s ``validity``).
        flow_width: the flow is computed on frames shrunk to this width, or to a third of theirs
            if that is larger (a small width keeps the flow cheap beside the network; 1080p frames
            get 640 px, where 320 missed a fast pan's detail).
    """

    mode: str = "full"
    momentum: float = 0.9
    blend: float = DEFAULT_VIDEO_BLEND
    tolerance: float = DEFAULT_VIDEO_TOLERANCE
    falloff: float = BLEND_FALLOFF
    still: float = STILL_TOLERANCE
    align: bool = True
    cut_threshold: float = 0.25
    flow_width: int = 320
    flow_check: str = FLOW_CHECKS[0]

    def __post_init__(self) -> None:
        check(self.mode, STABILIZE_MODES, "stabilize")
        object.__setattr__(self, "flow_check", check(self.flow_check, FLOW_CHECKS, "flow check"))
        for name in ("momentum", "blend", "cut_threshold"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0.0 < self.tolerance <= 1.0:
            raise ValueError(f"tolerance must be in (0, 1], got {self.tolerance}")
        if not 1.0 <= self.falloff <= 16.0:
            raise ValueError(f"falloff must be in [1, 16], got {self.falloff}")
        if not 1.0 <= self.still <= 16.0:
            raise ValueError(f"still must be in [1, 16], got {self.still}")
        if self.flow_width < 32:
            raise ValueError(f"flow width must be at least 32 px, got {self.flow_width}")

    @property
    def statistics(self) -> bool:
        return self.mode in ("full", "stats") and self.momentum > 0

    @property
    def flow(self) -> bool:
        """Whether the warped previous output is blended in."""
        return self.mode in ("full", "flow") and self.blend > 0

    @property
    def motion(self) -> bool:
        """Whether optical flow is computed (for the blend, the grid alignment or both)."""
        return self.mode in ("full", "flow") and (self.blend > 0 or self.align)


def require_cv2():
    """OpenCV, or a one-line error that says how to install it."""
    try:
        import cv2
    except ImportError:
        raise InstyleError("video needs OpenCV (optical flow, colour planes): pip install 'instyle[video]'") from None
    return cv2


#: How far (in :func:`exposure_gate`'s distance) the first norm layer's statistics may move from
#: their moving average before the frame is taken to be lit differently, not a moving scene: set
#: between the two (docs/video.md, "Lighting changes").
EXPOSURE_TOLERANCE = 0.4


def exposure_gate(mean, std, past_mean, past_std, tolerance: float = EXPOSURE_TOLERANCE):
    """The share of the moving average the first norm layer keeps, (N, 1, 1, 1) in [0, 1], from
    its own statistics and their average (each (N, C, 1, 1) tensors).

    A change of exposure (auto-exposure ramping, a light switched on, a flash) is, up to clipping,
    a gain and an offset of the whole frame; the first convolution turns it into a gain and an
    offset per channel of its outputs, which that layer's *own* statistics remove (instance norm's
    contrast invariance, Ulyanov et al. 2016; benchmarks/invariance.py), so the layers after it see
    the frame as before and their shared statistics stay right. Averaged there too, the old
    exposure's statistics would be applied to the new one and the output would flash and fade with
    the light. So the first layer shares its statistics while they stay near the average (a scene
    moving: flicker is damped) and takes its own as they move away:
    d = mean over channels of |log(σ/σ̄)| + |μ − μ̄|/σ̄, gate = exp(−(d/tolerance)⁴)."""
    import torch

    tiny = 1e-12
    ps = past_std.clamp_min(tiny)
    d = ((std.clamp_min(tiny).log() - ps.log()).abs() + (mean - past_mean).abs() / ps).mean(dim=1, keepdim=True)
    return torch.exp(-((d / tolerance) ** 4))


class StatisticsEMA:
    """Each layer's per-channel statistics averaged over the frames of a shot (an exponential
    moving average), for frames painted one at a time or ``lag`` at a time.

    :meth:`frame` gives frame t its :func:`instance_norm filter <instyle.nn.stats_filter.statistics_filter>`:
    each layer's statistics become ``momentum · average + (1 − momentum) · its own``, where the
    average runs over the shot's frames up to t − ``lag``. The frame's own statistics are folded
    into the average in stream order, whatever order the frames finish in, so the result does not
    depend on timing. ``lag`` 1 (frames one after another) is the plain moving average; with
    ``lag`` frames painted at once, frame t must start after frame t − ``lag`` finished (as
    :func:`instyle.pipeline.pipelined` runs them). A frame of another shot than the average's
    starts from its own statistics.
    """

    def __init__(self, momentum: float, lag: int = 1):
        if lag < 1:
            raise ValueError(f"lag must be at least 1, got {lag}")
        self.momentum, self.lag = momentum, lag
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every frame; the next is frame 0."""
        with self._lock:
            self.state: dict[object, tuple] = {}  # key -> (mean, std) average of shot self.shot
            self.shot: int | None = None
            self.folded = -1  # the last frame folded into the average
            self._painted: dict[int, tuple[int, dict[object, tuple]]] = {}  # index -> (shot, own stats)

    def frame(self, index: int, shot: int) -> FrameStatistics:
        """The statistics filter of frame ``index`` (0, 1, … in stream order) of shot ``shot``."""
        with self._lock:
            self._fold_until(index - self.lag)
            past = dict(self.state) if self.shot == shot else {}
        return FrameStatistics(self, index, shot, past)

    def _fold_until(self, last: int) -> None:
        while self.folded < last:
            k = self.folded + 1
            if k not in self._painted:
                raise RuntimeError(
                    f"frame {k}'s statistics are missing: frames were painted more than {self.lag} at a time"
                )
            shot, own = self._painted.pop(k)
            if shot != self.shot:
                self.state, self.shot = {}, shot
            for key, (mean, std) in own.items():
                self.state[key] = _mix(self.state.get(key), mean, std, self.momentum)
            self.folded = k

    def _painted_frame(self, stats: FrameStatistics) -> None:
        with self._lock:
            self._painted[stats.index] = (stats.shot, stats.own)


def _mix(past: tuple | None, mean, std, momentum: float) -> tuple:
    """``momentum · past + (1 − momentum) · (mean, std)``; (mean, std) alone without a past of
    their shape."""
    if past is None or past[0].shape != mean.shape:
        return mean, std
    return moving_average(past[0], mean, momentum), moving_average(past[1], std, momentum)


class FrameStatistics:
    """``(key, mean, std) -> (mean, std)`` for one frame (:meth:`StatisticsEMA.frame`): mixes each
    layer's statistics with the average and keeps them; :meth:`done` hands them to the average."""

    def __init__(self, ema: StatisticsEMA, index: int, shot: int, past: dict[object, tuple]):
        self.ema, self.index, self.shot, self.past = ema, index, shot, past
        self.own: dict[object, tuple] = {}

    @property
    def momentum(self) -> float:
        return self.ema.momentum

    def __call__(self, key: object, mean, std):
        """The torch filter (:func:`~instyle.nn.stats_filter.statistics_filter`): the layer's own
        statistics are kept, the mixed ones returned; the first norm layer keeps less of the
        average as its statistics move away from it (:func:`exposure_gate`)."""
        first = not self.own
        self.record(key, mean.detach(), std.detach())
        past = self.past.get(key)
        momentum = self.momentum
        if first and past is not None and past[0].shape == mean.shape:
            momentum = momentum * exposure_gate(mean, std, *past)
        return _mix(past, mean, std, momentum)

    def record(self, key: object, mean, std) -> None:
        """A layer's own statistics, where the runtime mixed them itself (onnxruntime:
        :class:`instyle.export.SharedStatisticsGraph`, with :attr:`past` and :attr:`momentum` as inputs)."""
        self.own[key] = (mean, std)

    def done(self) -> None:
        """The frame is painted: its statistics join the average (in stream order)."""
        self.ema._painted_frame(self)


class SceneCuts:
    """Tells a new shot from motion: thumbnails of consecutive frames that differ a lot."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.previous: np.ndarray | None = None

    def __call__(self, rgb: np.ndarray) -> bool:
        """Whether ``rgb`` (H, W, 3) starts a new shot (the first frame does)."""
        cv2 = require_cv2()
        h, w = rgb.shape[:2]
        # shrink, then average the channels: the same numbers as the other way round (both are
        # averages), much faster (a float frame's last-axis mean is a slow strided reduction)
        small = cv2.resize(rgb, (64, max(1, round(64 * h / w))), interpolation=cv2.INTER_AREA)
        thumb = _channel_sum(small, 1.0 / small.shape[2])
        cut = (
            self.previous is None
            or self.previous.shape != thumb.shape
            or float(np.abs(thumb - self.previous).mean()) > self.threshold
        )
        self.previous = thumb
        return cut


def _channel_sum(a: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """(H, W, C) -> (H, W): ``scale`` times the sum over the channels, as a matrix product (much
    faster than ``a.sum(axis=2)`` or ``a.mean(axis=2)`` on a 640×360 float32 frame: those are slow
    strided reductions over the last axis)."""
    return a @ np.full(a.shape[2], scale, np.float32)


#: DIS needs frames of at least 12 px a side: smaller ones are enlarged to this for the flow.
_MIN_FLOW_SIDE = 32


def _gray(rgb: np.ndarray, width: int) -> np.ndarray:
    """8-bit luma at most ``width`` wide (and at least :data:`_MIN_FLOW_SIDE` on each side)."""
    cv2 = require_cv2()
    h, w = rgb.shape[:2]
    scale = min(1.0, width / w) if min(h, w) * min(1.0, width / w) >= _MIN_FLOW_SIDE else _MIN_FLOW_SIDE / min(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = (
        rgb
        if size == (w, h)
        else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    )
    return np.round(small @ np.array([0.299, 0.587, 0.114], np.float32) * 255).astype(np.uint8)


def _upscale_flow(flow: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """A (h, w, 2) flow of a resized frame as the (H, W, 2) flow of the full frame."""
    cv2 = require_cv2()
    if flow.shape[:2] == tuple(hw):
        return flow
    sy, sx = hw[0] / flow.shape[0], hw[1] / flow.shape[1]
    big = cv2.resize(flow, (hw[1], hw[0]), interpolation=cv2.INTER_LINEAR)
    big[..., 0] *= sx
    big[..., 1] *= sy
    return big


def _colour_error(previous: np.ndarray, current: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """(h, w) float32: how far ``previous`` (8-bit luma), brought over by the backward ``flow``,
    is from ``current``: the absolute difference, slightly blurred (a Gaussian of 1 px)."""
    cv2 = require_cv2()
    return cv2.GaussianBlur(cv2.absdiff(warp(previous, flow), current).astype(np.float32), (0, 0), 1.0)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` (H, W, C) sampled at x + flow(x) (bicubic, edges replicated): the previous frame
    brought onto the current one with the backward flow (current -> previous). Bicubic rather than
    bilinear: frames are warped again and again, and bilinear sampling blurs each time (less
    texture detail kept: benchmarks/video.py's pan, docs/video.md)."""
    cv2 = require_cv2()
    gx, gy = _pixel_grid(*flow.shape[:2])
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


@functools.lru_cache(maxsize=4)
def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) coordinates of every pixel of an (h, w) frame, (h, w) float32 each; read-only, cached
    (two sizes per stream: the flow's and the frame's)."""
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = gy.flags.writeable = False
    return gx, gy


#: The colour check's limit: mean absolute difference of the (slightly blurred) 8-bit luma, px of
#: the flow's frame, where the flow is taken to hold (0.06 on 0–1).
_MATCH = 0.06 * 255


class MotionEstimator:
    """DIS optical flow (Kroeger et al. 2016, OpenCV) from each frame back to the one before, and
    where it holds (``validity``):

    * ``"color"`` (the default; ``"colour"`` is accepted): the previous frame, brought over by the
      flow, matches the current one in luma. Uncovered background, and whatever the flow got
      wrong, does not match.
    * ``"both-ways"``: the forward–backward check of Ruder et al. 2016 (the flow back, then the
      flow forward, lands where it started), which costs a second flow.

    On benchmarks/video_blend.py's clips the blend's warping error is the same with either, and
    the color check is faster: it needs one flow a frame, not two (docs/video.md)."""

    def __init__(self, width: int = 320, validity: str = "color"):
        cv2 = require_cv2()
        self.width, self.validity = width, check(validity, FLOW_CHECKS, "flow validity check")
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        # The preset stops at a quarter of the frame it is given; refining down to the frame's own
        # pixels (finest scale 0) brings the flow within a fraction of a pixel of the true motion,
        # which the blend needs: on benchmarks/video_blend.py's clips (true motion known) it nearly
        # halves the warping error, and 2 variational refinement iterations get almost all of what
        # 5 do (docs/video.md); one finer flow and the color check still cost less than the
        # preset's two flows (benchmarks/video_long.py).
        self.dis.setFinestScale(0)
        self.dis.setVariationalRefinementIterations(2)

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(backward flow current -> previous (H, W, 2) in px, mask (H, W) float32: 1 where the flow
        holds: the pixel was visible in the previous frame, where the flow says)."""
        cv2 = require_cv2()
        width = max(self.width, current.shape[1] // 3)  # large frames: a third of their width
        a, b = _gray(previous, width), _gray(current, width)
        backward = self.dis.calc(b, a, None)  # current -> previous, at the small size
        hw = current.shape[:2]
        scale = np.array([hw[1] / a.shape[1], hw[0] / a.shape[0]])  # full px per small px (x, y)
        self._camera: np.ndarray | None = None  # found below (colour check) or on demand by camera()
        if self.validity == "color":
            error = _colour_error(a, b, backward)  # (h, w)
            self._small = (a, b, backward, (error <= _MATCH).astype(np.float32), scale)
            self._camera, fits = self._find_camera()
            if fits:
                # Flow fusion: DIS's flow is smooth, so a moving object drags the still background
                # next to it along (most of the background within a few pixels of the object is off
                # by over half a pixel on benchmarks/video.py's object clip). Where the camera's own
                # motion explains a pixel better, it replaces the flow. Cheap beside the flow itself.
                camera = np.empty_like(backward)  # (h, w, 2): the scene's backward flow
                camera[...] = -(self._camera / scale).astype(np.float32)
                camera_error = _colour_error(a, b, camera)
                backward = np.where((camera_error < error)[..., None], camera, backward)
                error = np.minimum(error, camera_error)
            mask = (error <= _MATCH).astype(np.float32)
        else:  # consistent: going back, then forward, lands where it started
            there = warp(self.dis.calc(a, b, None), backward)  # forward flow at x + backward(x)
            err = _channel_sum(np.square(backward + there))
            size = _channel_sum(np.square(backward)) + _channel_sum(np.square(there))
            mask = (err <= 0.01 * size + 0.5).astype(np.float32)
            self._small = (a, b, backward, mask, scale)
        mask = cv2.resize(mask, (hw[1], hw[0]), interpolation=cv2.INTER_LINEAR) if mask.shape != hw else mask
        return _upscale_flow(backward, hw), mask

    def camera(self) -> np.ndarray:
        """(dx, dy) the scene moved between the frames of the last call, in px: the median flow
        (:func:`camera_motion`; DIS's is a few % short) refined by ECC (Evangelidis & Psarakis 2008,
        OpenCV) to the translation of the pixels that move with it (the background, not a passing
        object). Where fewer than a third move alike (a zoom, a rotation) or ECC fails: the median.
        Computed on the small frames the flow was computed on, not on its full-size copy."""
        if self._camera is None:
            self._camera = self._find_camera()[0]
        return self._camera

    def _find_camera(self) -> tuple[np.ndarray, bool]:
        """(:meth:`camera`'s (dx, dy), whether a translation fits the scene: ECC found it)."""
        cv2 = require_cv2()
        a, b, flow, mask, scale = self._small
        small = camera_motion(flow, mask)
        guess = small * scale  # full-size px
        rel = flow + small  # (h, w, 2): how far each pixel moves from it
        off = np.maximum(np.abs(rel[..., 0]) * scale[0], np.abs(rel[..., 1]) * scale[1])  # full-size px
        inliers = ((mask > 0.5) & (off <= max(1.0, 0.1 * np.abs(guess).max()))).astype(np.uint8)
        if inliers.mean() < 1 / 3:
            return guess, False
        start = np.array([[1, 0, small[0]], [0, 1, small[1]]], np.float32)
        try:
            _, found = cv2.findTransformECC(
                a.astype(np.float32),
                b.astype(np.float32),
                start,
                cv2.MOTION_TRANSLATION,
                (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 1e-3),
                inliers,
                3,
            )
        except cv2.error:  # no texture to lock on
            return guess, False
        refined = found[:, 2] * scale
        if np.abs(refined - guess).max() > 1.0:  # far from the flow: not the camera
            return guess, False
        return refined, True


def blend_warped(
    stylized: np.ndarray,
    previous_out: np.ndarray,
    flow: np.ndarray,
    mask: np.ndarray,
    weight: float,
    tolerance: float = DEFAULT_VIDEO_TOLERANCE,
    falloff: float = BLEND_FALLOFF,
    still: float = STILL_TOLERANCE,
) -> np.ndarray:
    """``stylized`` (H, W, 3) blended with ``previous_out`` warped onto it by ``flow``:
    ``out = stylized + w·(warped − stylized)`` with, per pixel,
    ``w = weight · mask · exp(−(d / tolerance)^falloff)``, d the mean absolute difference of the two
    over the channels. ``mask`` (1 where the flow holds, :class:`MotionEstimator`) keeps occlusions out;
    the range term keeps out what the flow got wrong and a texture painted anew, so a strong
    ``weight`` steadies what did move with the scene without ghosts (benchmarks/video_blend.py: at
    the same texture detail, a lower warping error than any fixed weight). A steep fall-off (4
    rather than a Gaussian's 2) blends fewer pixels half-way: half of two textures out of phase is
    a blur, so at the same warping error it keeps more texture detail. Where the scene stands still
    (``flow`` under :data:`STILL_MOTION` px) the tolerance is ``still`` times wider
    (:data:`STILL_TOLERANCE`). The result is clipped to [0, 1]."""
    warped = warp(previous_out, flow)
    diff = warped - stylized  # (H, W, 3)
    d = _channel_sum(np.abs(diff), 1.0 / (diff.shape[2] * tolerance))  # (H, W): mean |diff| / tolerance
    if still != 1.0:  # (not a max over the last axis of (H, W, 2): that is a slow strided reduction)
        moved = np.maximum(np.abs(flow[..., 0]), np.abs(flow[..., 1]))  # (H, W) px
        d = np.where(moved < STILL_MOTION, d * np.float32(1.0 / still), d)
    w = weight * mask * np.exp(-np.power(d, falloff))
    # kept in [0, 1]: bicubic sampling overshoots at edges, and the output is warped again next frame
    return np.clip(stylized + w[..., None] * diff, 0.0, 1.0)


def camera_motion(flow: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(dx, dy): how far the scene moved between two frames, the median of ``-flow`` (the backward
    flow current -> previous) over the pixels where it holds (``mask``; all if too few)."""
    step = max(1, int((mask.size / _MEDIAN_SAMPLES) ** 0.5))  # an even grid of samples: < 0.01 px off
    flow, keep = flow[::step, ::step], mask[::step, ::step] > 0.5
    vectors = flow[keep] if keep.sum() >= 0.05 * keep.size else flow.reshape(-1, 2)
    return -np.median(vectors, axis=0)


#: About how many flow vectors :func:`camera_motion` takes its median over (a 320x180 flow has
#: 57,600: a median over all of them is several times slower than over every second row and column).
_MEDIAN_SAMPLES = 8192


class GridAlignment:
    """Keeps a strided network's sampling grid fixed to the scene while the camera moves.

    A network whose deepest maps are ``grid`` times smaller than its input (4 for the fast
    networks, 8 for AdaIN's relu4_1) paints a shifted input like the original only if the shift is
    a multiple of ``grid``; other shifts change the texture's phase, which makes most of a pan's
    flicker. :meth:`update` sums the camera's motion over the shot; :meth:`__call__` pads the frame
    at its top and left by ``−shift mod grid`` px, so every scene point lands on the same phase in
    every frame, stylizes it and crops the output back.
    """

    def __init__(self, grid: int):
        if grid < 1:
            raise ValueError(f"grid must be at least 1 px, got {grid}")
        self.grid = grid
        self.reset()

    def reset(self) -> None:
        """A new shot: the grid starts where it is."""
        self.shift = np.zeros(2)  # (dx, dy) the scene moved since the shot began, px

    def update(self, motion: np.ndarray) -> None:
        """Add (dx, dy), how far the scene moved since the previous frame (:meth:`MotionEstimator.camera`)."""
        self.shift += motion

    @property
    def phase(self) -> tuple[int, int]:
        """(top, left) padding in px for the current frame."""
        px, py = (int(v) for v in np.round(-self.shift).astype(np.int64) % self.grid)
        return py, px

    def __call__(self, stylize, rgb: np.ndarray, phase: tuple[int, int] | None = None) -> np.ndarray:
        """``stylize`` ((H', W', 3) -> (H', W', 3)) applied to ``rgb`` (H, W, 3) on the aligned grid
        (at ``phase``, as :attr:`phase` was when the frame was analyzed; default: now)."""
        top, left = self.phase if phase is None else phase
        if not (top or left):
            return stylize(rgb)
        return stylize(pad_reflect_array(rgb, (left, 0, top, 0)))[top:, left:]


def clip_motion(frames) -> list[tuple[np.ndarray, np.ndarray]]:
    """For t >= 1: (backward flow t -> t-1, consistency mask) of a clip's input frames as estimated
    from them (DIS at full resolution, both ways: Ruder et al.'s check), for :func:`warping_error`
    on a clip without known motion."""
    motion = MotionEstimator(width=10_000, validity="both-ways")
    return [motion(frames[t - 1], frames[t]) for t in range(1, len(frames))]


def warping_error(outputs, motion, skip=()) -> float:
    """How much a stylized clip flickers: the mean over t of the masked mean |O_t − warp(O_{t−1})|
    (Lai et al. 2018), ``outputs`` (H, W, 3) in [0, 1], ``motion[t − 1]`` the (flow, mask) from
    frame t back to t − 1 (:func:`clip_motion`, or a clip's true motion); ``skip``: frames t where
    a new shot starts (no motion relates them to the one before)."""
    errs = []
    for t in range(1, len(outputs)):
        if t in skip:
            continue
        flow, mask = motion[t - 1]
        diff = np.abs(outputs[t] - warp(outputs[t - 1], flow)).mean(axis=2)
        errs.append(float((diff * mask).sum() / max(1.0, mask.sum())))
    return float(np.mean(errs))
