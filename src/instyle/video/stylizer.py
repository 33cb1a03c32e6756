"""Stylizing a stream of frames with temporal stability: :class:`VideoStylizer`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import cast

import numpy as np

from .stabilize import GridAlignment, MotionEstimator, SceneCuts, StabilizeConfig, StatisticsEMA, blend_warped

FrameFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class FrameMotion:
    """What :meth:`VideoStylizer.analyze` found about a frame, for :meth:`~VideoStylizer.paint` and
    :meth:`~VideoStylizer.finish`.

    Attributes:
        new_shot: the first frame, or the first after a scene cut (the past is forgotten).
        flow: backward optical flow to the previous frame (H, W, 2) px, None at a shot's start or
            without motion estimation.
        mask: (H, W) 1 where the flow holds (:class:`~instyle.video.stabilize.MotionEstimator`), else 0.
        phase: (top, left) padding that keeps the network's grid fixed to the scene.
        index: the frame's place in the stream (0, 1, …); shot: its shot's (0, 1, …).
        camera: (dx, dy) px the scene moved since the previous frame, as the grid alignment added it
            (None where it did not: a shot's start, or no alignment).
    """

    new_shot: bool
    flow: np.ndarray | None = None
    mask: np.ndarray | None = None
    phase: tuple[int, int] = (0, 0)
    index: int = 0
    shot: int = 0
    camera: np.ndarray | None = None


def on_arrays(fn) -> FrameFn:
    """A frame function from a tensor one: (H, W, 3) array -> ``fn((1, 3, H, W) tensor)`` -> (H, W, 3)."""
    from ..imageio.modes import hwc_to_tensor, tensor_to_hwc

    return lambda rgb: tensor_to_hwc(fn(hwc_to_tensor(rgb)))


class VideoStylizer:
    """Stylize frames one after another, stabilized (:mod:`instyle.video.stabilize`).

    ``stylize`` turns one frame (H, W, 3) float32 in [0, 1] into its stylized version; it runs
    inside a statistics filter, so a torch network (``FastStylizer``, ``AdaINStylizer``) shares its
    instance-norm statistics across frames. A ``stylize`` that mixes them itself (onnxruntime's
    :class:`~instyle.onnx_runtime.OnnxFastStylizer` with ``shared_statistics``) is called with the
    frame's ``statistics=`` instead: give ``statistics_in_call=True``. ``grid`` is the network's
    sampling grid (its ``.grid``: 4 px for the fast networks, 8 for AdaIN), kept fixed to the scene as the camera moves
    (:class:`~instyle.video.stabilize.GridAlignment`; 1: no alignment). Feed frames from a file, a
    camera or anything else; each stylized frame comes out as soon as its input went in (nothing
    is buffered).

    A frame goes through three steps, which a pipeline may run in threads of their own:
    :meth:`analyze` (scene cuts, optical flow, camera motion: the input frames alone, in stream
    order), :meth:`paint` (the network; up to ``workers`` frames at once) and :meth:`finish` (the
    blend with the previous output, in stream order). :meth:`frame` runs the three in turn.

    Example:
        >>> from instyle import FastStylizer                                     # doctest: +SKIP
        >>> net = FastStylizer()                                                 # doctest: +SKIP
        >>> video = VideoStylizer(on_arrays(lambda x: net(x, "candy")), grid=net.grid)  # doctest: +SKIP
        >>> for out in video(frames):  # frames: (H, W, 3) arrays               # doctest: +SKIP
        ...     show(out)
    """

    def __init__(
        self,
        stylize: FrameFn,
        config: StabilizeConfig = StabilizeConfig(),
        *,
        grid: int = 1,
        workers: int = 1,
        statistics_in_call: bool = False,
    ):
        self.stylize, self.config, self.statistics_in_call = stylize, config, statistics_in_call
        self.cuts = SceneCuts(config.cut_threshold)
        self.ema = StatisticsEMA(config.momentum, lag=workers) if config.statistics else None
        self.motion = MotionEstimator(config.flow_width, config.flow_check) if config.motion else None
        self.align = GridAlignment(grid) if self.motion is not None and config.align and grid > 1 else None
        self.previous_input: np.ndarray | None = None  # the last frame analyzed, of this shot
        self.previous_output: np.ndarray | None = None  # the last frame rendered, of this shot
        self.cut_count = 0
        self.frames = 0  # frames analyzed
        self._resume: np.ndarray | None = None  # continue_shot()

    def continue_shot(self, shift) -> None:
        """The next frame continues a shot that began before it, in a part of a longer video
        stylized on its own (:mod:`instyle.video.segments`): the camera had moved by ``shift``
        (dx, dy) px since the shot began, so the grid keeps the phase a run over the whole video
        gives that frame (the sum of the camera's moves, :class:`~instyle.video.stabilize.GridAlignment`).
        The rest of the past (the statistics' average, the previous output) is primed by
        stylizing frames before the part's first."""
        self._resume = np.asarray(shift, dtype=np.float64)

    def reset(self) -> None:
        """Forget the past: the next frame starts a new shot (call it between streams)."""
        self.cuts.previous = None
        self.previous_input = self.previous_output = None
        self.frames = 0
        self._resume = None
        if self.ema is not None:
            self.ema.reset()
        if self.align is not None:
            self.align.reset()

    def analyze(self, rgb: np.ndarray) -> FrameMotion:
        """What the next frame of the stream needs from the frames before it, from the input
        frames alone: call it in stream order, ahead of :meth:`paint` if you like (another thread
        may paint frame t while this looks at frame t + 1). Scene cuts forget the past
        (:attr:`cut_count` counts them)."""
        first = self.cuts.previous is None
        new_shot = self.cuts(rgb)
        self.cut_count += new_shot and not first
        if new_shot:
            self.previous_input = None
            if self.align is not None:
                self.align.reset()
                if first and self._resume is not None:
                    self.align.shift = self._resume.copy()
        flow = mask = camera = None
        if self.motion is not None and self.previous_input is not None:
            flow, mask = self.motion(self.previous_input, rgb)
            if self.align is not None:
                camera = self.motion.camera()
                self.align.update(camera)
        self.previous_input = rgb if self.motion is not None else None
        phase = self.align.phase if self.align is not None else (0, 0)
        self.frames += 1
        return FrameMotion(new_shot, flow, mask, phase, self.frames - 1, self.cut_count, camera)

    def paint(self, rgb: np.ndarray, motion: FrameMotion) -> np.ndarray:
        """The network's output for the frame :meth:`analyze` gave ``motion`` for, on the grid
        that follows the scene and with the shared statistics. Up to ``workers`` frames may be
        painted at once (in threads), frame t starting once frame t − ``workers`` is painted;
        shared statistics then average over the frames up to t − ``workers``
        (:class:`~instyle.video.stabilize.StatisticsEMA`), so the output does not depend on timing."""
        if self.ema is None:
            return self._on_grid(self.stylize, rgb, motion)
        stats = self.ema.frame(motion.index, motion.shot)
        if self.statistics_in_call:
            takes_stats = cast(Callable[..., np.ndarray], self.stylize)  # statistics_in_call: it takes statistics=
            out = self._on_grid(lambda x: takes_stats(x, statistics=stats), rgb, motion)
        else:
            from ..nn.stats_filter import statistics_filter  # torch: only its statistics filter needs it

            with statistics_filter(stats):
                out = self._on_grid(self.stylize, rgb, motion)
        stats.done()
        return out

    def _on_grid(self, stylize: FrameFn, rgb: np.ndarray, motion: FrameMotion) -> np.ndarray:
        return stylize(rgb) if self.align is None else self.align(stylize, rgb, motion.phase)

    def finish(self, painted: np.ndarray, motion: FrameMotion) -> np.ndarray:
        """The painted frame blended with the previous output along the flow where it is
        consistent; in stream order."""
        if motion.new_shot:
            self.previous_output = None
        out = painted
        if motion.flow is not None and self.config.flow and self.previous_output is not None:
            assert motion.mask is not None  # analyze() finds the mask with the flow
            c = self.config
            out = blend_warped(
                painted, self.previous_output, motion.flow, motion.mask, c.blend, c.tolerance, c.falloff, c.still
            )
        self.previous_output = out if self.config.flow else None
        return out

    def render(self, rgb: np.ndarray, motion: FrameMotion) -> np.ndarray:
        """:meth:`paint` then :meth:`finish`: in stream order."""
        return self.finish(self.paint(rgb, motion), motion)

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        """Stylize the next frame of the stream."""
        return self.render(rgb, self.analyze(rgb))

    def __call__(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for rgb in frames:
            yield self.frame(rgb)
