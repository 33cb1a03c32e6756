"""Blending styles, without torch: the weights rule (AdaIN statistics and CIN γ, β alike), a
multi-style network's style vector, and the checks of a fast-network request, shared by every
runtime (torch and onnxruntime)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, Union

from .choices import FAST_COLOR_MODES, check
from .errors import METHOD_ADAIN, STYLE, OptionError, UsageError

#: Largest image a fast network takes in one piece: it sees the whole image at once (instance-norm
#: statistics are global), so its memory grows with the pixel count (peak memory per size:
#: benchmarks/fast.py, docs/fast.md).
FAST_MAX_PIXELS = 24_000_000

StyleChoice = Union[None, int, str, Sequence[int | str]]  # noqa: UP007 - a runtime alias: None | int fails on 3.10
Mixable = TypeVar("Mixable")  # numpy arrays and torch tensors alike


def blend_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    """Blend weights of ``n`` styles summing to 1 (equal weights if None).

    The one rule for every blend: finite, >= 0, not all zero; anything else is a
    :class:`~instyle.errors.UsageError` (the user typed them).
    """
    if weights is None:
        return [1.0 / n] * n
    w = [float(x) for x in weights]
    if len(w) != n:
        raise UsageError(f"got {len(w)} style weights for {n} styles")
    if not all(math.isfinite(x) and x >= 0 for x in w) or sum(w) <= 0:
        raise UsageError(f"style weights must be finite, >= 0 and not all 0, got {w}")
    total = sum(w)
    return [x / total for x in w]


def check_alpha(alpha: float) -> None:
    """The content–style trade-off α must lie in [0, 1] (a :class:`~instyle.errors.UsageError`:
    the user typed it); every runtime checks it with this rule."""
    try:
        ok = 0.0 <= float(alpha) <= 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise UsageError(f"alpha must be in [0, 1], got {alpha}")


def mix(values: Sequence[Mixable], weights: Sequence[float]) -> Mixable:
    """Σ_k w_k·v_k of same-shaped arrays or tensors (weights from :func:`blend_weights`): how a
    blend mixes AdaIN style statistics, on every runtime (:func:`instyle.nn.mix_stats` for torch)."""
    if len(values) != len(weights) or not len(values):
        raise ValueError(f"need one weight per style, got {len(weights)} weights for {len(values)} styles")
    arrays: Sequence[Any] = values  # ndarray or Tensor: both take float * v and v + v
    return sum(float(w) * v for w, v in zip(weights, arrays))


def moving_average(past: Mixable, value: Mixable, momentum) -> Mixable:
    """``momentum · past + (1 − momentum) · value``, of arrays or tensors (``momentum`` a number or
    a tensor): how video's shared statistics move from frame to frame, on every runtime
    (:class:`instyle.video.stabilize.StatisticsEMA`, :class:`instyle.export.SharedStatisticsGraph`)."""
    return momentum * past + (1 - momentum) * value


def split_style_spec(spec: str, *, whole: Callable[[str], bool] = lambda spec: False) -> tuple[str, float | None]:
    """A style spec ``NAME[:WEIGHT]`` -> ``(NAME, WEIGHT or None)``.

    A suffix counts as a weight only if it parses as a number and ``whole(spec)`` is false (the
    command line passes ``os.path.exists``, so odd file names with colons still work; the web
    server takes names only and passes nothing). A weight must be finite and >= 0.

    Example:
        >>> split_style_spec("wave:0.3"), split_style_spec("wave"), split_style_spec("a:b")
        (('wave', 0.3), ('wave', None), ('a:b', None))
    """
    if ":" in spec and not whole(spec):
        head, _, tail = spec.rpartition(":")
        try:
            w = float(tail)
        except ValueError:
            return spec, None
        if not w >= 0 or w == float("inf"):
            raise UsageError(f"style weight must be a finite number >= 0 in {spec!r}")
        return head, w
    return spec, None


def spec_weights(weights: Sequence[float | None], what: str = "style") -> list[float]:
    """The weights of specs (None where a spec gave none) normalized to sum to 1: unweighted
    entries share what the weighted ones leave (equally, 1 each when none are given).

    Example:
        >>> spec_weights([0.6, None, None])
        [0.6, 0.2, 0.2]
    """
    given = [w for w in weights if w is not None]
    if not weights:
        raise UsageError(f"give at least one {what}")
    if len(given) == len(weights):
        total = sum(given)
        if total <= 0:
            raise UsageError(f"{what} weights must not all be zero")
        return [w / total for w in given]
    if given and sum(given) > 1:
        raise UsageError(f"{what} weights add up to more than 1 while some {what}s have no weight")
    rest = (1.0 - sum(given)) / (len(weights) - len(given)) if given else 1.0 / len(weights)
    filled = [w if w is not None else rest for w in weights]
    total = sum(filled)
    if total <= 0:
        raise UsageError(f"{what} weights must not all be zero")
    return [w / total for w in filled]


def parse_style_specs(
    specs: Sequence[str], *, what: str = "style", whole: Callable[[str], bool] = lambda spec: False
) -> tuple[list[str], list[float]]:
    """Specs ``NAME[:WEIGHT]`` -> names and weights summing to 1 (:func:`split_style_spec`,
    :func:`spec_weights`): the one parser of ``--style`` values and of the web API's ``style`` fields.

    Example:
        >>> parse_style_specs(["starry_night:3", "wave:1"])
        (['starry_night', 'wave'], [0.75, 0.25])
    """
    split = [split_style_spec(s, whole=whole) for s in specs]
    return [name for name, _ in split], spec_weights([w for _, w in split], what)


def style_vector(
    names: Sequence[str], style: StyleChoice, weights: Sequence[float] | None = None
) -> list[float] | None:
    """A multi-style network's style selector: weights (S,) over its ``names`` (a style by name or
    index, or several blended with ``weights``; CIN γ, β mixed, Dumoulin et al. 2017), or None for
    a single-style network."""
    if not names:
        if style not in (None, [], ()):
            raise OptionError("this network has a single style; give no {style}", style=STYLE)
        return None
    if style is None:
        raise OptionError(
            f"this network has {len(names)} styles; choose with {{style}} NAME ({', '.join(names)})", style=STYLE
        )
    chosen = [style] if isinstance(style, (int, str)) else list(style)
    out = [0.0] * len(names)
    for s, wk in zip(chosen, blend_weights(weights, len(chosen))):
        if isinstance(s, int):
            if not 0 <= s < len(names):
                raise UsageError(f"style index {s} out of range: the network has {len(names)} styles")
            i = s
        elif s in names:
            i = list(names).index(s)
        else:
            raise UsageError(f"the network has no style {s!r}; it has {', '.join(names)}")
        out[i] += wk
    return out


def check_fast_request(color: str, hw: Sequence[int], max_pixels: int = FAST_MAX_PIXELS) -> None:
    """A fast network supports ``color`` none or luminance (a trained style has no image to recolour)
    and images up to ``max_pixels``; anything else is a :class:`~instyle.errors.UsageError`."""
    check(color, FAST_COLOR_MODES, "a fast network's color (a trained style has no image to recolour)", UsageError)
    h, w = int(hw[0]), int(hw[1])
    if h * w > max_pixels:
        raise OptionError(
            f"{w}x{h} is {h * w / 1e6:.1f} megapixels, over the fast network's "
            f"{max_pixels / 1e6:.1f}: give a smaller {{size}}, or use {{adain}} (tiled)",
            size=("image", "--size"),
            adain=("AdaINStylizer", METHOD_ADAIN[1]),
        )
