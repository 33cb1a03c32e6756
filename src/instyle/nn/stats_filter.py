"""The one piece of context the keyed instance norms read: a statistics filter.

Video shares statistics across frames (an exponential moving average,
:mod:`instyle.video.stabilize`) by handing every keyed instance normalization (the IN and
conditional-IN layers, and AdaIN's content statistics) other (mean, std) than its own input's.
The filter travels in a ContextVar so the layers and :mod:`.functional` stay free of state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from torch import Tensor

Stats = tuple[Tensor, Tensor]
#: ``fn(key, mean, std) -> (mean, std)``, statistics (N, C, 1, 1) in and out.
StatsFilter = Callable[[object, Tensor, Tensor], Stats]

#: The statistics filter in force (see :func:`statistics_filter`), or None.
_STATS_FILTER: ContextVar[StatsFilter | None] = ContextVar("instyle_stats_filter", default=None)


def current_filter() -> StatsFilter | None:
    """The filter of the innermost :func:`statistics_filter` block, or None outside one."""
    return _STATS_FILTER.get()


@contextmanager
def statistics_filter(fn: StatsFilter) -> Iterator[None]:
    """Within the block, every keyed instance normalization uses ``fn(key, mean, std) -> (mean, std)``
    instead of the statistics of its input; ``key`` tells the layers apart."""
    token = _STATS_FILTER.set(fn)
    try:
        yield
    finally:
        _STATS_FILTER.reset(token)
