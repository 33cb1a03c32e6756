"""Stylizing a stream of frames with temporal stability: :class:`VideoStylizer`."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Optional

import numpy as np

from ..nn.functional import statistics_filter
from .stabilize import GridAlignment, MotionEstimator, SceneCuts, StabilizeConfig, StatisticsEMA, blend_warped

FrameFn = Callable[[np.ndarray], np.ndarray]


def on_arrays(fn) -> FrameFn:
    """A frame function from a tensor one: (H, W, 3) array -> ``fn((1, 3, H, W) tensor)`` -> (H, W, 3)."""
    from ..imageio.modes import hwc_to_tensor

    return lambda rgb: fn(hwc_to_tensor(rgb))[0].permute(1, 2, 0).contiguous().numpy()


class VideoStylizer:
    """Stylize frames one after another, stabilized (:mod:`instyle.video.stabilize`).

    ``stylize`` turns one frame (H, W, 3) float32 in [0, 1] into its stylized version; it runs
    inside a statistics filter, so a torch network (``FastStylizer``, ``Stylizer``) shares its
    instance-norm statistics across frames. ``grid`` is the network's sampling grid (its ``.grid``:
    4 px for the fast networks, 8 for AdaIN), kept fixed to the scene as the camera moves
    (:class:`~instyle.video.stabilize.GridAlignment`; 1: no alignment). Feed frames from a file, a
    camera or anything else; each stylized frame comes out as soon as its input went in (nothing
    is buffered).

    Example:
        >>> from instyle import FastStylizer                                     # doctest: +SKIP
        >>> net = FastStylizer()                                                 # doctest: +SKIP
        >>> video = VideoStylizer(on_arrays(lambda x: net(x, "candy")), grid=net.grid)  # doctest: +SKIP
        >>> for out in video(frames):  # frames: (H, W, 3) arrays               # doctest: +SKIP
        ...     show(out)
    """

    def __init__(self, stylize: FrameFn, config: StabilizeConfig = StabilizeConfig(), *, grid: int = 1):
        self.stylize, self.config = stylize, config
        self.cuts = SceneCuts(config.cut_threshold)
        self.ema = StatisticsEMA(config.momentum) if config.statistics else None
        self.motion = MotionEstimator(config.flow_width) if config.motion else None
        self.align = GridAlignment(grid) if self.motion is not None and config.align and grid > 1 else None
        self.previous: Optional[tuple] = None  # (input, output) of the last frame of this shot
        self.cut_count = 0

    def reset(self) -> None:
        """Forget the past: the next frame starts a new shot."""
        self.previous = None
        self.cuts.previous = None
        self._new_shot()

    def _new_shot(self) -> None:
        if self.ema is not None:
            self.ema.reset()
        if self.align is not None:
            self.align.reset()

    @property
    def independent(self) -> bool:
        """Whether each output depends on its own frame alone (``--stabilize none``): then frames
        may be stylized several at once, :meth:`observe` called on each in stream order and
        :attr:`stylize` on each anywhere."""
        return self.ema is None and self.motion is None

    def observe(self, rgb: np.ndarray) -> bool:
        """Take note of the next frame of the stream: True where a shot starts (the first frame,
        and after each scene cut, where the past is forgotten; :attr:`cut_count` counts the cuts).
        :meth:`frame` calls it."""
        first = self.cuts.previous is None
        if not self.cuts(rgb):
            return False
        self.cut_count += not first
        self.previous = None
        self._new_shot()
        return True

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        """Stylize the next frame of the stream."""
        self.observe(rgb)
        motion = None  # (flow current -> previous (H, W, 2), consistency mask (H, W))
        if self.motion is not None and self.previous is not None:
            motion = self.motion(self.previous[0], rgb)
            if self.align is not None:
                self.align.update(self.motion.camera())
        stylize = self.stylize if self.align is None else (lambda x: self.align(self.stylize, x))
        if self.ema is not None:
            with statistics_filter(self.ema):
                out = stylize(rgb)
        else:
            out = stylize(rgb)
        if motion is not None and self.config.flow:
            out = blend_warped(out, self.previous[1], *motion, self.config.blend)
        self.previous = (rgb, out)
        return out

    def __call__(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for rgb in frames:
            yield self.frame(rgb)
