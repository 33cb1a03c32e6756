"""ONNX export of instyle's networks, for onnxruntime and other runtimes.

* **A fast network** (the built-in one, or any trained Johnson or texture net): one graph,
  ``image`` (N, 3, H, W) RGB in [0, 1] -> ``stylized`` (N, 3, H, W) in [0, 1]. A multi-style
  network takes ``style_weights`` (S,) (blends work: CIN γ, β mixed inside the graph), a texture
  net its noise ``z0`` … ``z{K-1}``. ``--color luminance`` is the runtime's, after the graph
  (:func:`instyle.luma.combine_luminance_array`; format 1 files took a ``keep_colors`` input and
  computed it in the graph, a cost on every call: docs/benchmarks.md). H and W are dynamic but must be
  what :func:`instyle.sizes.padded_side` gives (multiples of 4, at least 16): the runtime pads and crops,
  so no reflection pad ever meets a map smaller than itself, and no shape rule is baked in.
* **AdaIN** (VGG-19 and its decoder, or the light network): two graphs. ``encoder.onnx``:
  ``image`` (N, 3, H, W), H, W >= 16 -> ``features`` (N, C, ⌈H/8⌉, ⌈W/8⌉) (C: 512 for VGG-19,
  128 for the light encoder) and their per-channel ``mean`` and ``std`` (a style's statistics).
  ``decoder.onnx``: ``features``, ``style_mean`` and ``style_std``
  (N, C, 1, 1) and ``alpha`` () -> ``stylized`` (N, 3, 8h, 8w) in [0, 1], AdaIN inside. Style
  statistics are an input, so presets and blends (mixed statistics) work as with torch.

Instance norm is written as one ``InstanceNormalization`` node (there are no running statistics to
freeze: the statistics are the sample's own). With ``shared_statistics`` (``--shared-statistics``)
a Johnson network's graph is the one video needs: each norm layer's statistics are mixed with a
past average given as input, and each layer's own come out (:class:`SharedStatisticsGraph`). Every graph
takes a batch of any size (N, …), traced at 2 so that no size is baked in.
Every file carries its kind, config, styles and format version in the ONNX metadata, and is
checked with ``onnx.checker`` before it is written (atomically). Needs the ``onnx`` package
(``pip install instyle[export]``); running the files needs only onnxruntime.

Example:
    >>> from instyle.export import export_fast
    >>> export_fast("builtin", "styles.onnx")                       # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch
from torch import Tensor, nn

from . import shipped
from .atomic import write_bytes
from .blend import moving_average
from .checkpoint import config_to_dict, load_model, model_kind
from .choices import DEFAULT_ADAIN_ARCH
from .errors import InstyleError, UsageError, exists_error
from .models import AdaINDecoder, JohnsonNet, LightAdaIN, TextureNet
from .models.adain import ENCODER_LAYER, make_encoder
from .models.inference import for_inference
from .nn.functional import Stats, adain, alpha_blend, calc_mean_std
from .nn.stats_filter import statistics_filter
from .onnx_runtime import ONNX_FORMAT, ONNX_FORMAT_VERSION
from .presets import ENCODER_ID as VGG_ENCODER_ID
from .shipped import resolve_model
from .sizes import MIN_SIDE, STROKE_REFERENCE, STROKE_REFERENCE_KEY, stroke_reference
from .version import __version__
from .video.stabilize import exposure_gate

if TYPE_CHECKING:
    from .models.light import LightEncoder
    from .vgg import VGG19Encoder

#: Lowest opset written (LayerNormalization-era ops; ReflectionPad as Pad mode=reflect).
MIN_OPSET = 17
#: What each graph is traced at: a padded size that is not square and a batch of 2, so no axis is
#: taken for another or baked in as 1.
_TRACE_HW = (64, 96)
_TRACE_BATCH = 2


class FastGraph(nn.Module):
    """What a fast network's ONNX file computes: the net, clamped."""

    def __init__(self, net: JohnsonNet | TextureNet):
        super().__init__()
        self.net = for_inference(net.eval())
        self.multi = bool(net.config.styles)
        self.texture = isinstance(net, TextureNet)

    def forward(self, image: Tensor, style_weights: Tensor | None, *noise: Tensor) -> Tensor:
        style = style_weights if self.multi else None
        out = self.net(image, style, z=list(noise)) if self.texture else self.net(image, style)
        return out.clamp(0.0, 1.0)  # (N, 3, H, W)


class SharedStatisticsGraph(nn.Module):
    """A Johnson network's ONNX graph for video with shared statistics
    (:class:`instyle.video.stabilize.StatisticsEMA`): every instance norm k normalizes with
    ``momentum · past_k + (1 − momentum) · own_k`` (:func:`instyle.blend.moving_average`) for its
    per-channel mean and std (the first less so as an exposure change moves them:
    :func:`instyle.video.stabilize.exposure_gate`), and the graph returns each layer's own, which the
    runtime folds into the average. ``momentum`` 0 gives the plain network.

    Inputs: ``image``, ``style_weights`` as :class:`FastGraph`; ``momentum`` (1,);
    ``past_mean_k``, ``past_std_k`` (N, C_k, 1, 1) for the K layers in call order. Outputs:
    ``stylized``, then ``mean_k``, ``std_k`` (N, C_k, 1, 1)."""

    def __init__(self, net: JohnsonNet):
        super().__init__()
        self.graph = FastGraph(net)
        self.layers = _normalized_layers(self.graph)  # [(key, channels)] in call order

    def forward(self, image: Tensor, style_weights: Tensor | None, momentum: Tensor, *past: Tensor):
        index = {id(key): k for k, (key, _) in enumerate(self.layers)}
        own: list[Tensor | None] = [None] * (2 * len(self.layers))

        def shared(key, mean: Tensor, std: Tensor) -> Stats:
            k = index[id(key)]
            own[2 * k], own[2 * k + 1] = mean, std
            m = momentum
            if k == 0:  # exposure changes: the first layer leaves the average (exposure_gate)
                m = momentum * exposure_gate(mean, std, past[0], past[1])  # (N, 1, 1, 1)
            return moving_average(past[2 * k], mean, m), moving_average(past[2 * k + 1], std, m)

        with statistics_filter(shared):
            stylized = self.graph(image, style_weights)
        return (stylized, *own)


def _normalized_layers(graph: FastGraph) -> list[tuple[object, int]]:
    """The statistics-filtered norm layers of ``graph``'s network as (key, channels), in call order."""
    found: list[tuple[object, int]] = []

    def record(key, mean: Tensor, std: Tensor) -> Stats:
        found.append((key, int(mean.shape[1])))
        return mean, std

    image = torch.rand(1, 3, MIN_SIDE, MIN_SIDE, generator=torch.Generator().manual_seed(0))
    styles = graph.net.config.styles
    with torch.no_grad(), statistics_filter(record):
        graph(image, torch.full((len(styles),), 1.0 / len(styles)) if styles else None)
    return found


class AdaINDecoderGraph(nn.Module):
    """AdaIN (Huang & Belongie 2017, eq. 8) with given style statistics, α, then the decoder."""

    def __init__(self, decoder: AdaINDecoder):
        super().__init__()
        self.decoder = decoder.eval()

    def forward(self, features: Tensor, style_mean: Tensor, style_std: Tensor, alpha: Tensor) -> Tensor:
        t = alpha_blend(adain(features, (style_mean, style_std)), features, alpha)  # (N, 512, h, w)
        return self.decoder(t).clamp(0.0, 1.0)  # (N, 3, 8h, 8w)


class EncoderGraph(nn.Module):
    """The AdaIN encoder (VGG-19 or the light one) to relu4_1, and the features' per-channel
    (mean, std), which a style image is reduced to."""

    def __init__(self, encoder: VGG19Encoder | LightEncoder):
        super().__init__()
        self.encoder = encoder.eval()

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        features = self.encoder.encode(image, ENCODER_LAYER)  # (N, C, h, w)
        return (features, *calc_mean_std(features))  # + (N, C, 1, 1) twice


def _check_opset(opset: int) -> int:
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < MIN_OPSET:
        raise UsageError(f"ONNX opset must be an integer >= {MIN_OPSET}, got {opset!r}")
    return opset


def _to_onnx(
    module: nn.Module,
    args: tuple,
    names: list[str],
    outputs: list[str],
    dynamic: dict[str, dict[int, str]],
    metadata: dict[str, str],
    opset: int,
) -> bytes:
    """Trace ``module`` at ``args`` to ONNX bytes with ``metadata``, checked by ``onnx.checker``."""
    try:
        import onnx
    except ImportError:
        raise InstyleError("exporting to ONNX needs the onnx package: pip install 'instyle[export]'") from None
    import warnings

    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's remarks on shape arithmetic; the graph is checked below
        torch.onnx.export(
            module,
            args,
            buf,  # type: ignore[arg-type]  # dynamo=False writes to a file object too; torch types f as a path
            input_names=names,
            output_names=outputs,
            dynamic_axes=dynamic,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    model = onnx.load_from_string(buf.getvalue())
    for key, value in {
        "format": ONNX_FORMAT,
        "format_version": str(ONNX_FORMAT_VERSION),
        "instyle_version": __version__,
        **metadata,
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def for_onnxruntime(data: bytes) -> bytes:
    """An ONNX model with onnxruntime's hardware-independent graph optimizations (constant folding,
    redundant nodes removed; level "extended") already applied, so a session loads it faster (the
    shipped file is made so; start-up: benchmarks/startup.py, docs/benchmarks.md). The hardware-
    specific layout optimizations still happen when it is loaded."""
    import tempfile

    from .onnx_runtime import ort_module

    ort = ort_module()

    with tempfile.TemporaryDirectory(prefix="instyle-ort-") as tmp:
        src, dst = Path(tmp) / "model.onnx", Path(tmp) / "optimized.onnx"
        src.write_bytes(data)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(dst)
        options.log_severity_level = 3
        ort.InferenceSession(str(src), options, providers=["CPUExecutionProvider"])
        return dst.read_bytes()


def export_fast(
    model: str | os.PathLike | nn.Module,
    path: str | os.PathLike,
    *,
    opset: int = MIN_OPSET,
    overwrite: bool = False,
    onnxruntime: bool = False,
    shared_statistics: bool = False,
) -> Path:
    """Write a fast network (a file, the name of a shipped one: :data:`instyle.shipped.SHIPPED_NETWORKS`,
    or the module) as ONNX; ``onnxruntime``: pre-optimized for it (:func:`for_onnxruntime`); ``shared_statistics``: the
    graph for video with statistics shared across frames (:class:`SharedStatisticsGraph`; Johnson
    networks)."""
    opset = _check_opset(opset)
    reference = STROKE_REFERENCE
    if isinstance(model, nn.Module):
        net = model
    else:
        net, file_meta = load_model(resolve_model(model), device="cpu")
        reference = stroke_reference(file_meta)
    if not isinstance(net, (JohnsonNet, TextureNet)):
        raise UsageError(
            f"{model} is not a fast network (a Johnson or texture net); export an AdaIN decoder "
            "with `instyle export adain`"
        )
    if shared_statistics and not isinstance(net, JohnsonNet):
        raise UsageError(
            "only Johnson networks export with shared statistics (a texture net's noise differs per frame)"
        )
    # shared_statistics: net is a JohnsonNet (checked above)
    graph = SharedStatisticsGraph(cast(JohnsonNet, net).float()) if shared_statistics else FastGraph(net.float())
    h, w = _TRACE_HW
    image = torch.rand(_TRACE_BATCH, 3, h, w, generator=torch.Generator().manual_seed(0))
    styles = list(net.config.styles)
    weights = torch.full((len(styles),), 1.0 / len(styles)) if styles else None
    noise = net.noise(image, torch.Generator().manual_seed(0)) if isinstance(net, TextureNet) else []
    names = ["image"] + (["style_weights"] if styles else []) + [f"z{k}" for k in range(len(noise))]
    args = (image, weights, *noise)
    dynamic = {
        "image": {0: "batch", 2: "height", 3: "width"},
        "stylized": {0: "batch", 2: "height", 3: "width"},
        **{f"z{k}": {0: "batch", 2: f"height_{k}", 3: f"width_{k}"} for k in range(len(noise))},
    }
    outputs = ["stylized"]
    if shared_statistics:
        assert isinstance(graph, SharedStatisticsGraph)  # made so above
        layers = [c for _, c in graph.layers]
        stats = [(f"{what}_{k}", c) for k, c in enumerate(layers) for what in ("mean", "std")]
        names += ["momentum"] + [f"past_{name}" for name, _ in stats]
        outputs += [name for name, _ in stats]
        args += (torch.tensor([0.9]),) + tuple(torch.rand(_TRACE_BATCH, c, 1, 1) + 0.5 for _, c in stats)
        dynamic.update({name: {0: "batch"} for name, _ in stats})
        dynamic.update({f"past_{name}": {0: "batch"} for name, _ in stats})
    meta = {
        "kind": model_kind(net),
        "config": json.dumps(config_to_dict(net.config)),
        "styles": json.dumps(styles),
        "inputs": "image (N, 3, H, W) RGB in [0, 1], H and W from instyle.sizes.padded_side"
        + ("; style_weights (S,) summing to 1" if styles else "")
        + ("; z0..zK-1 U(0, 1) noise at each scale" if noise else "")
        + ("; momentum (1,), past_mean_k, past_std_k (N, C_k, 1, 1)" if shared_statistics else ""),
        STROKE_REFERENCE_KEY: str(reference),
    }
    if shared_statistics:
        meta["shared_statistics"] = json.dumps(layers)  # C_k of each layer
    data = _to_onnx(graph, args, names, outputs, dynamic, meta, opset)
    return write_bytes(path, for_onnxruntime(data) if onnxruntime else data, overwrite=overwrite, what="ONNX file")


def export_adain(
    folder: str | os.PathLike,
    decoder: str | os.PathLike | AdaINDecoder | LightAdaIN | None = None,
    *,
    arch: str = DEFAULT_ADAIN_ARCH,
    opset: int = MIN_OPSET,
    overwrite: bool = False,
    onnxruntime: bool = False,
) -> tuple[Path, Path]:
    """Write an AdaIN network's encoder and decoder as ``encoder.onnx`` and ``decoder.onnx`` in
    ``folder``: ``decoder`` (a VGG decoder or a light network, a file or module), or the shipped
    network of ``arch``; ``onnxruntime``: pre-optimized (:func:`for_onnxruntime`)."""
    opset = _check_opset(opset)
    if not isinstance(decoder, (AdaINDecoder, LightAdaIN)):
        loaded, _ = load_model(
            decoder if decoder is not None else shipped.default_decoder_path(arch),
            expect=("adain_decoder", "adain_light"),
            device="cpu",
        )
        decoder = cast("AdaINDecoder | LightAdaIN", loaded)  # expect= lets only these two kinds through
    encoder: VGG19Encoder | LightEncoder
    if isinstance(decoder, LightAdaIN):
        net = decoder.float()
        encoder, decoder, arch_meta = net.encoder, net.decoder, {"arch": "light", "encoder_id": net.encoder_id()}
    else:
        encoder, decoder = make_encoder(), decoder.float()
        arch_meta = {"arch": "vgg", "encoder_id": VGG_ENCODER_ID}
    channels = decoder.config.in_channels
    folder = Path(folder)
    enc_path, dec_path = folder / "encoder.onnx", folder / "decoder.onnx"
    for p in (enc_path, dec_path):
        if p.exists() and not overwrite:
            raise exists_error(f"{p} already exists")
    h, w = _TRACE_HW
    image = torch.rand(_TRACE_BATCH, 3, h, w, generator=torch.Generator().manual_seed(0))
    encoder_graph = EncoderGraph(encoder)
    with torch.no_grad():
        features = encoder_graph(image)[0]
    common = {
        **arch_meta,
        "config": json.dumps(config_to_dict(decoder.config)),
        "styles": "[]",
        "min_side": str(MIN_SIDE),
        "encoder_layer": ENCODER_LAYER,
    }
    enc = _to_onnx(
        encoder_graph,
        (image,),
        ["image"],
        ["features", "mean", "std"],
        {
            "image": {0: "batch", 2: "height", 3: "width"},
            "features": {0: "batch", 2: "fh", 3: "fw"},
            "mean": {0: "batch"},
            "std": {0: "batch"},
        },
        {"kind": "adain_encoder", **common, "inputs": f"image (N, 3, H, W) RGB in [0, 1], H, W >= {MIN_SIDE}"},
        opset,
    )
    stats = (torch.rand(_TRACE_BATCH, channels, 1, 1), torch.rand(_TRACE_BATCH, channels, 1, 1) + 0.5)
    dec = _to_onnx(
        AdaINDecoderGraph(decoder),
        (features, *stats, torch.tensor(1.0)),
        ["features", "style_mean", "style_std", "alpha"],
        ["stylized"],
        {
            "features": {0: "batch", 2: "fh", 3: "fw"},
            "style_mean": {0: "batch"},
            "style_std": {0: "batch"},
            "stylized": {0: "batch", 2: "height", 3: "width"},
        },
        {
            "kind": "adain_decoder",
            **common,
            "inputs": f"features (N, {channels}, h, w) relu4_1; style_mean, style_std (N, {channels}, 1, 1); "
            "alpha () in [0, 1]",
        },
        opset,
    )
    if onnxruntime:
        enc, dec = for_onnxruntime(enc), for_onnxruntime(dec)
    return (
        write_bytes(enc_path, enc, overwrite=overwrite, what="ONNX file"),
        write_bytes(dec_path, dec, overwrite=overwrite, what="ONNX file"),
    )
