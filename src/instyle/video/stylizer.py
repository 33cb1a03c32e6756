"""Stylizing a stream of frames with temporal stability: :class:`VideoStylizer`."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Optional

import numpy as np

from ..nn.functional import statistics_filter
from .stabilize import FlowBlender, SceneCuts, StabilizeConfig, StatisticsEMA

FrameFn = Callable[[np.ndarray], np.ndarray]


def on_arrays(fn) -> FrameFn:
    """A frame function from a tensor one: (H, W, 3) array -> ``fn((1, 3, H, W) tensor)`` -> (H, W, 3)."""
    from ..imageio.modes import hwc_to_tensor

    return lambda rgb: fn(hwc_to_tensor(rgb))[0].permute(1, 2, 0).contiguous().numpy()


class VideoStylizer:
    """Stylize frames one after another, stabilized (:mod:`instyle.video.stabilize`).

    ``stylize`` turns one frame (H, W, 3) float32 in [0, 1] into its stylized version; it runs
    inside a statistics filter, so a torch network (``FastStylizer``, ``Stylizer``) shares its
    instance-norm statistics across frames. Feed frames from a file, a camera or anything else;
    each stylized frame comes out as soon as its input went in (nothing is buffered).

    Example:
        >>> from instyle import FastStylizer                                     # doctest: +SKIP
        >>> net = FastStylizer()                                                 # doctest: +SKIP
        >>> video = VideoStylizer(on_arrays(lambda x: net(x, "candy")))         # doctest: +SKIP
        >>> for out in video(frames):  # frames: (H, W, 3) arrays               # doctest: +SKIP
        ...     show(out)
    """

    def __init__(self, stylize: FrameFn, config: StabilizeConfig = StabilizeConfig()):
        self.stylize, self.config = stylize, config
        self.cuts = SceneCuts(config.cut_threshold)
        self.ema = StatisticsEMA(config.momentum) if config.statistics else None
        self.blender = FlowBlender(config.blend, config.flow_width) if config.flow else None
        self.previous: Optional[tuple] = None  # (input, output) of the last frame of this shot
        self.cut_count = 0

    def reset(self) -> None:
        """Forget the past: the next frame starts a new shot."""
        self.previous = None
        self.cuts.previous = None
        if self.ema is not None:
            self.ema.reset()

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        """Stylize the next frame of the stream."""
        if self.cuts(rgb):
            self.cut_count += 1
            self.previous = None
            if self.ema is not None:
                self.ema.reset()
        if self.ema is not None:
            with statistics_filter(self.ema):
                out = self.stylize(rgb)
        else:
            out = self.stylize(rgb)
        if self.blender is not None and self.previous is not None:
            out = self.blender(self.previous[0], rgb, self.previous[1], out)
        self.previous = (rgb, out)
        return out

    def __call__(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for rgb in frames:
            yield self.frame(rgb)
