"""Which one-pass method stylizes a request: the built-in fast network or AdaIN.

``choose_method("auto", ["starry_night"])`` is ``"fast"``: every style is one the built-in network
was trained on and nothing asks for what only AdaIN does. A style image, a preset the user saved
under a built-in name, an AdaIN-only control (α, masks, colour matching, a decoder), or a built-in
style whose AdaIN preset people preferred to the network, judged blind
(:func:`instyle.shipped.adain_preferred`), makes it ``"adain"``. The command line's ``--method`` is this function,
and its ``--color auto`` is :func:`choose_color`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from .choices import METHODS, STYLIZE_COLOR_MODES, check
from .errors import COLOR_PALETTE, METHOD_ADAIN, OptionError, UsageError


def choose_method(method: str, styles: Sequence[str], adain_only: Sequence[str] = (), *, files: bool = True) -> str:
    """``"fast"`` or ``"adain"`` for ``method`` ``auto``, ``fast`` or ``adain``.

    Args:
        styles: the style specs given (names or paths, without ``:weight``).
        adain_only: the options set that only AdaIN supports, as the user named them (e.g.
            ``["--mask"]``); ``fast`` with any of them is an error naming the first.

    A file path, or a preset the user saved under a built-in name, is an AdaIN style, never the
    network's. ``files=False`` (the web server: a request never names a server path) treats every
    style as a name, whatever files exist. ``fast`` with a style the network lacks is a
    :class:`~instyle.errors.UsageError`.
    """
    from .presets import is_preset, is_user_preset
    from .shipped import adain_preferred, builtin_model_path, builtin_styles

    check(method, METHODS, "method", UsageError)
    if method == "adain":
        return "adain"
    known = builtin_styles()
    fast = [s for s in styles if s in known and not (files and os.path.exists(s)) and not is_user_preset(s)]
    if method == "fast":
        if not known:
            builtin_model_path()  # raises WeightsError with the explanation
        other = [s for s in styles if s not in fast]
        if other:
            raise OptionError(
                f"{{fast}}: {other[0]!r} is not a built-in style of the network; it has {', '.join(known)}",
                fast=('method="fast"', "--method fast"),
            )
        if adain_only:
            raise OptionError(f"{adain_only[0]} works with {{adain}}, not with the fast network", adain=METHOD_ADAIN)
        return "fast"
    if not known or len(fast) != len(styles) or adain_only:
        return "adain"
    # every style is the network's: AdaIN where people preferred a style's preset (all must have one)
    preferred = adain_preferred()
    return "adain" if any(s in preferred for s in fast) and all(is_preset(s) for s in fast) else "fast"


def choose_color(color: str, method: str, *, images: bool, masks: bool = False) -> str:
    """The colour mode a ``stylize`` request runs (one of :data:`~instyle.choices.COLOR_MODES` or
    ``"palette"``) for ``color`` in :data:`~instyle.choices.STYLIZE_COLOR_MODES`.

    ``auto`` is ``palette`` for AdaIN when every style is an image (``images``) and there are no
    masks (judged blind, the light network's results recoloured to the painting's palette were
    preferred to its plain ones on 26 of 32 pairs: docs/quality.md, round 10), else ``none``.
    ``palette`` asked for where there are no style images to take the colours from is an
    :class:`~instyle.errors.OptionError`.
    """
    check(color, STYLIZE_COLOR_MODES, "color", UsageError)
    fits = method == "adain" and images and not masks
    if color == "auto":
        return "palette" if fits else "none"
    if color == "palette" and not fits:
        raise OptionError(
            "{palette} recolours the result to the style images' colours: give style images "
            "(not built-in styles or presets) and no masks",
            palette=COLOR_PALETTE,
        )
    return color


def network_color(color: str) -> str:
    """The colour mode the network itself runs for a chosen ``color`` (:func:`choose_color`'s
    answer): ``palette`` recolours the network's plain result afterwards
    (:func:`instyle.palette.match_palette`), so the network runs ``none``. Where the network runs
    ``none`` the style's statistics do not depend on the photo and are computed once."""
    return "none" if color == "palette" else color


def choose_arch(arch: str | None, styles: Sequence[str], *, files: bool = True) -> str:
    """The AdaIN network, ``"light"`` or ``"vgg"``, for ``arch`` (None: the library's choice).

    None gives :data:`~instyle.choices.DEFAULT_ADAIN_ARCH`, except that a preset without
    statistics for the shipped light network (saved before it shipped) goes to ``vgg``, and so
    does every request when no light network is shipped. ``light`` with such a preset fails when
    the preset is loaded, with the fix.
    """
    from .choices import ADAIN_ARCHS, DEFAULT_ADAIN_ARCH
    from .presets import has_statistics, is_preset, shipped_light_encoder

    if arch is not None:
        check(arch, ADAIN_ARCHS, "arch", UsageError)
        return arch
    if DEFAULT_ADAIN_ARCH == "vgg":
        return "vgg"
    encoder = shipped_light_encoder()
    if encoder is None:
        return "vgg"
    stale = [s for s in styles if not (files and os.path.exists(s)) and is_preset(s) and not has_statistics(s, encoder)]
    return "vgg" if stale else "light"
