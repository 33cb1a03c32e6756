"""Which runtime runs a network, torch or onnxruntime: one decision for ``stylize``, ``sheet``,
``video`` and ``serve``.

``auto``, row by row (the first that applies):

=====================================================================  =============
what is asked                                                          auto gives
=====================================================================  =============
an exported ``.onnx`` fast network (it runs nowhere else)              onnxruntime
a web server's photo requests (``server``: a warm torch process is     torch
as fast, docs/serve.md)
a GPU, or bf16/fp16                                                    torch
video frames above :data:`~instyle.onnx_runtime.ONNX_VIDEO_MAX_PIXELS`  torch
(torch is faster there, docs/video.md), or shared statistics without
the ONNX graph that shares them
a fast network with an ONNX copy in the package (``builtin``,          onnxruntime
``builtin-video``), or AdaIN on the shipped light network with nothing
that needs torch (``adain_blocker`` is None)
anything else (a ``.safetensors`` network, onnxruntime not installed,  torch
the ONNX file missing)
=====================================================================  =============

Asking for one runtime by name checks that it can run the request and raises
:class:`~instyle.errors.OptionError` (naming the option ``backend``) when it cannot.
"""

from __future__ import annotations

from typing import Literal

from .errors import BACKEND_TORCH, OptionError, WeightsError

Backend = Literal["torch", "onnxruntime"]

#: The option's spellings in messages: as a Python caller and as the command line write it.
_OPTION = {
    "torch": BACKEND_TORCH,
    "onnxruntime": ('backend="onnxruntime"', "--backend onnxruntime"),
}


def _error(template: str) -> OptionError:
    return OptionError(template, torch=_OPTION["torch"], onnxruntime=_OPTION["onnxruntime"])


def is_onnx_file(model: str | None) -> bool:
    """Whether ``model`` names an exported ONNX file (which only onnxruntime runs)."""
    return model is not None and str(model).lower().endswith(".onnx")


def choose_backend(
    asked: str,
    method: str,
    *,
    model: str | None = None,
    device: str = "cpu",
    precision: str = "auto",
    adain_blocker: str | None = "this command",
    frame_pixels: int | None = None,
    shared_statistics: bool = False,
    server: bool = False,
) -> Backend:
    """``"torch"`` or ``"onnxruntime"`` for ``asked`` (``auto``, ``torch`` or ``onnxruntime``).

    Args:
        method: ``"fast"`` or ``"adain"``.
        model: the fast network (None: the built-in one; a shipped name; a file).
        device, precision: where and how it runs (onnxruntime: the CPU, fp32).
        adain_blocker: what keeps an AdaIN request off onnxruntime (an option, or the command),
            None when nothing does.
        frame_pixels: video frames' width × height (None: stills).
        shared_statistics: video whose frames share instance-norm statistics.
        server: a web server's photo requests.
    """
    from .onnx_runtime import ONNX_VIDEO_MAX_PIXELS, available, builtin_onnx_path, light_onnx_path
    from .shipped import SHIPPED_ONNX, has_shared_onnx

    shipped_copy = model is None or model in SHIPPED_ONNX
    cpu_fp32 = device == "cpu" and precision in ("auto", "fp32")  # what onnxruntime runs
    if asked == "onnxruntime":
        if method == "adain" and adain_blocker is not None:
            raise _error(
                f"{{onnxruntime}} runs AdaIN with the shipped light network, without {adain_blocker}; use {{torch}}"
            )
        if method == "fast" and not (shipped_copy or is_onnx_file(model)):
            raise _error(
                "{onnxruntime} runs the built-in network or an exported .onnx fast network "
                "(`instyle export MODEL -o FILE.onnx`); .safetensors models run on torch"
            )
        if not cpu_fp32:
            raise _error("{onnxruntime} runs on the CPU in fp32")
        return "onnxruntime"
    if asked == "torch":
        if is_onnx_file(model):
            raise _error(f"{model} is an ONNX file: use {{onnxruntime}} (or auto)")
        return "torch"
    if is_onnx_file(model):
        return "onnxruntime"
    if server or not cpu_fp32:
        return "torch"
    if frame_pixels is not None and (
        method != "fast" or frame_pixels > ONNX_VIDEO_MAX_PIXELS or (shared_statistics and not has_shared_onnx(model))
    ):
        return "torch"
    runnable = adain_blocker is None if method == "adain" else shipped_copy
    if not (runnable and available()):
        return "torch"
    try:
        light_onnx_path("encoder.onnx") if method == "adain" else builtin_onnx_path(model or "builtin")
    except WeightsError:
        return "torch"
    return "onnxruntime"
