"""Pieces shared by the subcommands: option types, style specs, output, progress."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TypeVar

from ..choices import ADAIN_ARCHS, BACKENDS, DEFAULT_ADAIN_ARCH, DEFAULT_PNG_COMPRESS, PRECISIONS
from ..errors import UsageError, exists_error

#: Largest integer any option takes (counts of steps, images, pixels…): beyond it, a value is a typo.
MAX_INT = 2**31 - 1
#: Largest float any option takes: weights and rates beyond it overflow float32 arithmetic.
MAX_FLOAT = 1e30

_Number = TypeVar("_Number", int, float)


def add_command(sub, name: str, summary: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """A subcommand's parser: ``summary`` is its line in the list of commands and its description;
    ``epilog`` (examples, notes) is printed as written."""
    return sub.add_parser(
        name, help=summary, description=summary, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def _number(text: str, kind: type[_Number], *, minimum: float, strict: bool, maximum: float | None = None) -> _Number:
    """Parse an int/float option that must be finite, >= (or >, if ``strict``) ``minimum`` and
    <= ``maximum`` (default :data:`MAX_INT` / :data:`MAX_FLOAT`)."""
    top = maximum if maximum is not None else (MAX_INT if kind is int else MAX_FLOAT)
    bound = f"{top:,}" if kind is int else f"{top:g}"
    what = ("an integer" if kind is int else "a number") + (" > " if strict else " >= ") + f"{minimum:g} and <= {bound}"
    try:
        v = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not minimum <= v <= top or (strict and v == minimum):  # NaN fails every comparison
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return v + 0  # -0.0 -> 0.0


def positive_int(text: str) -> int:
    return _number(text, int, minimum=0, strict=True)


def seed(text: str) -> int:
    """A random seed: an integer from 0 to 2**63 - 1."""
    return _number(text, int, minimum=0, strict=False, maximum=2**63 - 1)


def workers(text: str) -> int:
    """Data-loading processes: 0 (load in the main process) to 64."""
    return _number(text, int, minimum=0, strict=False, maximum=64)


def batch_size(text: str) -> int:
    """Images per step and process: 1 to 4096."""
    return _number(text, int, minimum=0, strict=True, maximum=4096)


def non_negative_int(text: str) -> int:
    return _number(text, int, minimum=0, strict=False)


def non_negative_float(text: str) -> float:
    return _number(text, float, minimum=0.0, strict=False)


def positive_float(text: str) -> float:
    return _number(text, float, minimum=0.0, strict=True)


def float_between(low: float, high: float):
    """An argparse type: a number > ``low`` and <= ``high``."""

    def parse(text: str) -> float:
        return _number(text, float, minimum=low, strict=True, maximum=high)

    return parse


def int_between(low: int, high: int):
    """An argparse type: an integer from ``low`` to ``high``."""

    def parse(text: str) -> int:
        return _number(text, int, minimum=low, strict=False, maximum=high)

    return parse


def unit_float(text: str) -> float:
    """A number in [0, 1] (e.g. α)."""
    return _number(text, float, minimum=0.0, strict=False, maximum=1.0)


def below_one(text: str) -> float:
    """A number in [0, 1) (a weight of the past, which must leave room for the present)."""
    v = _number(text, float, minimum=0.0, strict=False, maximum=1.0)
    if v == 1.0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 and < 1, got {text!r}")
    return v


def stroke(text: str) -> float:
    """A brush size relative to the network's own at 1024 px (:func:`instyle.sizes.stroke_side`)."""
    from ..sizes import STROKE_RANGE, check_stroke

    try:
        return check_stroke(float(text))
    except ValueError:
        lo, hi = STROKE_RANGE
        raise argparse.ArgumentTypeError(f"stroke must be a number from {lo} to {hi:g}, got {text!r}") from None


def add_stroke_option(group) -> None:
    """``--stroke``: the brush size rule's option (:func:`instyle.sizes.stroke_side`)."""
    from ..sizes import DEFAULT_STROKE, STROKE_REFERENCE

    group.add_argument(
        "--stroke",
        type=stroke,
        default=DEFAULT_STROKE,
        help=f"brush size: 2 = strokes twice as large, 0.5 = half; every output gets the brushwork of a "
        f"{STROKE_REFERENCE}-px one, resampled to its size (default {DEFAULT_STROKE:g})",
    )


def image_size(text: str) -> int:
    """A size in pixels for the longer side: 16 … 8192."""
    try:
        v = int(text)
    except ValueError:
        v = None
    if v is None or not 16 <= v <= 8192:
        raise argparse.ArgumentTypeError(f"size must be an integer from 16 to 8192 pixels, got {text!r}")
    return v


def split_weight(spec: str) -> tuple[str, float | None]:
    """``"path:0.7"`` -> ``("path", 0.7)``; ``"path"`` -> ``("path", None)``.

    A suffix counts as a weight only if it parses as a number and the whole spec is not an
    existing file (so odd file names with colons still work): :func:`instyle.blend.split_style_spec`.
    """
    from ..blend import split_style_spec

    return split_style_spec(spec, whole=os.path.exists)


def parse_weighted(specs: list[str], what: str) -> tuple[list[str], list[float]]:
    """Names with optional ``:weight`` suffixes -> names and weights normalized to sum to 1.

    Unweighted entries share what the weighted ones leave (equally, 1 each when none are given);
    :func:`instyle.blend.parse_style_specs`, with existing files taken whole.
    """
    from ..blend import parse_style_specs

    return parse_style_specs(specs, what=what, whole=os.path.exists)


def comma_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``: the items of a comma-separated option, blanks dropped."""
    return [p.strip() for p in text.split(",") if p.strip()]


def parse_layers(text: str, default_weight: float = 1.0) -> dict[str, float]:
    """``"relu1_1,relu2_1:0.5"`` -> ``{"relu1_1": 1.0, "relu2_1": 0.5}`` (names validated)."""
    from ..vgg import RELU_LAYERS

    out: dict[str, float] = {}
    for part in comma_list(text):
        name, _, w = part.partition(":")
        if name not in RELU_LAYERS:
            raise UsageError(f"unknown VGG-19 layer {name!r}; choose from {', '.join(RELU_LAYERS)}")
        try:
            out[name] = float(w) if w else default_weight
        except ValueError:
            raise UsageError(f"bad layer weight in {part!r}") from None
        if not out[name] >= 0:
            raise UsageError(f"layer weight must be >= 0 in {part!r}")
    return out


def add_output_options(
    p: argparse.ArgumentParser, *, json_help: str = "print the result as JSON on stdout", images: bool = False
) -> None:
    p.add_argument("--overwrite", action="store_true", help="replace output files that already exist")
    if images:
        p.add_argument(
            "--quality", type=int_between(1, 100), default=95, help="JPEG and WebP quality, 1-100 (default 95)"
        )
        p.add_argument(
            "--png-compress",
            type=int_between(0, 9),
            default=DEFAULT_PNG_COMPRESS,
            help=f"PNG compression, 0-9 (default {DEFAULT_PNG_COMPRESS}: zlib's fast run-length mode, as "
            "small as deflate 6-9 on stylized pictures; 2-9: deflate at that level; 0: none)",
        )
    p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def emit_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def check_output_free(path: str, overwrite: bool) -> None:
    """Fail before any work if the output exists and may not be replaced."""
    if path != "-" and Path(path).is_dir():
        raise UsageError(f"{path} is a directory; give a file name for the output")
    if path != "-" and Path(path).exists() and not overwrite:
        raise exists_error(f"{path} already exists", exit_code=2)


def check_image_output(path: str, overwrite: bool) -> None:
    """Fail before any work if the output image cannot be written (extension, existing file)."""
    if path != "-":
        from ..imageio import SAVE_EXTENSIONS

        ext = os.path.splitext(path)[1].lower()
        if ext not in SAVE_EXTENSIONS:
            what = f"extension {ext!r}" if ext else "no extension"
            raise UsageError(
                f"cannot write image {path!r}: {what} is not supported; use one of {', '.join(SAVE_EXTENSIONS)}"
            )
    check_output_free(path, overwrite)


def show_progress(quiet: bool) -> bool:
    """Whether to draw progress bars: not with --quiet, and only on a terminal (a log file or a pipe
    gets the result lines, not carriage-return animations)."""
    try:
        return not quiet and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress(total: int | None, desc: str, quiet: bool, unit: str = "step"):
    """A tqdm bar on stderr (see :func:`show_progress`), with the rate and the time left; a no-op
    without importing tqdm (a noticeable part of a command's start-up) when none is drawn."""
    if not show_progress(quiet):
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False)


class _NoBar:
    """What :func:`progress` returns when no bar is drawn."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


METHOD_HELP = (
    "fast: the built-in multi-style network (one pass, the fastest; its styles are marked in "
    "`instyle styles`); adain: any style image or preset; auto (default): fast when every style is a "
    "built-in style of the network and no AdaIN-only option is set, else adain"
)


def add_adain_network_options(g) -> None:
    """``--arch`` and ``--decoder``: which AdaIN network (stylize, sheet, video)."""
    g.add_argument(
        "--arch",
        choices=ADAIN_ARCHS,
        default=None,
        help=f"AdaIN network: light (distilled, fast) or vgg (VGG-19 and its decoder, the paper's); "
        f"default {DEFAULT_ADAIN_ARCH}",
    )
    g.add_argument(
        "--decoder",
        default=None,
        help="AdaIN network file: a decoder or light network you trained (model.safetensors or checkpoint.pt; "
        "default: the shipped one of --arch)",
    )


def adain_network_options(args) -> list:
    """The AdaIN-network options the user set, as named on the command line (AdaIN-only controls)."""
    return [opt for opt, on in (("--decoder", args.decoder is not None), ("--arch", args.arch is not None)) if on]


def add_inference_device_options(g) -> None:
    """--device, --precision and --no-channels-last of the commands that run a trained network."""
    g.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    g.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto = bf16 where the hardware has native bf16, else fp32 (the fast network: "
        "fp32 on CPUs, where bf16 does not pay off at its width)",
    )
    g.add_argument("--no-channels-last", action="store_true", help="keep the NCHW memory layout")


def add_backend_option(g) -> None:
    g.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="torch, onnxruntime (networks exported to ONNX: the built-in one and the light AdaIN network "
        "ship so; no torch is loaded), or auto (default): onnxruntime for those when it is installed and "
        "the job is small enough that start-up dominates, else torch",
    )


#: What ``--ray`` means without an address: start a Ray instance on this machine.
RAY_LOCAL = "local"


def add_ray_options(group, ray_help: str) -> None:
    """``--ray [ADDRESS]`` and ``--workers N``, one spelling for every command that scales out
    (here, not in :mod:`instyle.cli.cluster`: ``--help`` builds every parser and imports no Ray code)."""
    group.add_argument("--ray", nargs="?", const=RAY_LOCAL, default=None, metavar="ADDRESS", help=ray_help)
    group.add_argument(
        "--workers", type=positive_int, default=None, help="Ray actors, one network each (default: the CPUs)"
    )
