"""Every set of names a user picks from, defined once, without importing torch.

Layer sets, colour modes, precisions, style losses, methods, norm layers, schedules: the library
validates against these, and the command line offers them as choices and defaults, so ``instyle
--help`` stays fast and no list is spelled out twice.
"""

from __future__ import annotations

from collections.abc import Iterable

# --------------------------------------------------------------------------- VGG-19 layers

#: Convs per block of VGG-19 (Simonyan & Zisserman 2015).
VGG19_BLOCKS = (2, 2, 4, 4, 4)
#: Layer names in order: conv1_1, relu1_1, conv1_2, relu1_2, pool1, …, relu5_4 (no pool5: nothing
#: after relu5_4 is used).
VGG19_LAYERS = tuple(
    name
    for b, n in enumerate(VGG19_BLOCKS, start=1)
    for name in [x for i in range(1, n + 1) for x in (f"conv{b}_{i}", f"relu{b}_{i}")] + [f"pool{b}"]
)[:-1]
RELU_LAYERS = tuple(n for n in VGG19_LAYERS if n.startswith("relu"))
#: Gram style layers of Gatys et al. 2016 and Johnson et al. 2016: relu1_1 … relu5_1.
GRAM_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: Mean/std style layers of AdaIN (Huang & Belongie 2017): relu1_1 … relu4_1.
ADAIN_STYLE_LAYERS = GRAM_STYLE_LAYERS[:4]
#: AdaIN's encoder output and content layer.
ADAIN_LAYER = "relu4_1"
#: AdaIN networks: the light distilled encoder and decoder (models/light.py), or VGG-19 and its
#: mirrored decoder (the paper's).
ADAIN_ARCHS = ("light", "vgg")
#: The AdaIN network used when none is named.
DEFAULT_ADAIN_ARCH = "light"

# --------------------------------------------------------------------------- options

#: Colour preservation: none, match (recolour the style to the photo first, CORAL), luminance.
COLOR_MODES = ("none", "match", "luminance")
#: The modes a fast network supports (a trained style has no image to recolour).
FAST_COLOR_MODES = ("none", "luminance")
#: ``stylize`` and the web API: the modes above, ``palette`` (the result recoloured to the style
#: images' own colours, :mod:`instyle.palette`) and ``auto`` (palette for AdaIN with style images,
#: else none: :func:`instyle.method.choose_color`).
STYLIZE_COLOR_MODES = ("auto", "none", "palette", "match", "luminance")
#: Inference precisions; ``auto`` = bf16 where the hardware has native bf16, else fp32.
PRECISIONS = ("auto", "fp32", "bf16")
#: Training precisions (fp16 with loss scaling, CUDA only).
TRAIN_PRECISIONS = PRECISIONS + ("fp16",)
#: Style losses of the optimizer (Gram = MMD with a 2nd-order polynomial kernel, Li et al. 2017).
STYLE_LOSSES = ("gram", "mean_std", "mmd_linear", "mmd_poly2", "mmd_gaussian")
#: One-pass methods of ``stylize``: the built-in network, AdaIN, or the library's choice.
METHODS = ("auto", "fast", "adain")
#: Norm layers of the factory (``instyle.nn.get_norm_layer``).
NORM_LAYERS = ("instance", "batch", "layer", "group", "none", "virtual_batch", "conditional_instance")
#: Norm layers a single-style fast network may be trained with (several styles use conditional IN).
SINGLE_STYLE_NORMS = NORM_LAYERS[:-1]
#: Fast feed-forward generators: Johnson et al.'s residual net, Ulyanov et al.'s texture net.
FAST_MODELS = ("johnson", "texture_net")
#: PNG compression (0-9) of files written: 1 is zlib's run-length mode (instyle.imageio.save),
#: on stylized pictures as small as Pillow's default deflate level 6 in far less time
#: (docs/benchmarks.md; benchmarks/startup.py's folder case writes them); 2-9 are deflate's levels.
DEFAULT_PNG_COMPRESS = 1
#: Video codecs ``instyle video --codec`` writes (H.264, MPEG-4 part 2, VP9).
VIDEO_CODECS = ("libx264", "mpeg4", "libvpx-vp9")
#: Video files ``instyle video`` writes: suffix -> the codecs that container holds, its default
#: first (FFmpeg's muxers refuse the others: WebM takes VP9 only, QuickTime no VP9).
VIDEO_CONTAINERS = {
    ".mp4": ("libx264", "mpeg4", "libvpx-vp9"),
    ".mkv": ("libx264", "mpeg4", "libvpx-vp9"),
    ".mov": ("libx264", "mpeg4"),
    ".webm": ("libvpx-vp9",),
    ".avi": ("mpeg4", "libx264", "libvpx-vp9"),
}
#: Audio a video output carries over: suffix -> (codecs copied packet for packet, None: any; the
#: codec everything else is re-encoded to). WebM holds only Opus and Vorbis.
CONTAINER_AUDIO = {
    ".mp4": (("aac", "mp3", "alac", "opus", "ac3", "eac3", "flac"), "aac"),
    ".mov": (("aac", "mp3", "alac", "ac3", "eac3"), "aac"),
    ".mkv": (None, "aac"),
    ".webm": (("opus", "vorbis"), "libopus"),
    ".avi": (("mp3", "ac3", "pcm_s16le"), "mp3"),
}
#: Subtitle tracks a video output carries over, copied packet for packet: suffix -> the codecs it
#: takes (None: any). MP4 and MOV hold only MPEG-4 timed text, WebM only WebVTT, AVI none.
CONTAINER_SUBTITLES = {
    ".mp4": ("mov_text",),
    ".mov": ("mov_text",),
    ".mkv": None,
    ".webm": ("webvtt",),
    ".avi": (),
}
#: Pixel formats ``instyle video --pix-fmt`` writes: 4:2:0 (what players expect) or 4:4:4 (full-
#: resolution colour, for editing: a stylized clip's fine colour texture shimmers on 4:2:0's 2-px
#: chroma grid as the scene moves; libx264 and libvpx-vp9 only).
VIDEO_PIXEL_FORMATS = ("yuv420p", "yuv444p")
#: The default of ``instyle video --pix-fmt``.
DEFAULT_VIDEO_PIXEL_FORMAT = VIDEO_PIXEL_FORMATS[0]
#: ``instyle video --flow-check``: how the optical flow's validity is told (instyle.video.stabilize.
#: MotionEstimator): color (the previous frame, brought over by the flow, matches the current one;
#: the flow is also fused with the camera's motion) or both-ways (the forward-backward check of
#: Ruder et al. 2016: a second flow a frame, so slower; docs/video.md).
FLOW_CHECKS = ("color", "both-ways")
#: --stabilize: full (shared statistics and optical flow), stats, flow, none (plain per-frame).
STABILIZE_MODES = ("full", "stats", "flow", "none")
#: Default weight of the previous output warped along the flow where it matches the new frame's
#: output (it falls off with their difference: :data:`DEFAULT_VIDEO_TOLERANCE`, steeply: see
#: instyle.video.stabilize.blend_warped): a high weight holds texture that moved with the scene,
#: and the steep fall-off keeps it from smearing what the flow got wrong; chosen against lower
#: weights and a near-fixed blend by benchmarks/video_blend.py (docs/video.md).
DEFAULT_VIDEO_BLEND = 0.95
#: Difference (mean absolute, 0-1 RGB) between the warped previous output and the new frame's at
#: which the blend's weight has fallen to 1/e: texture that moved with the scene is kept steady,
#: what the flow got wrong (an occlusion, a new object) is not smeared.
DEFAULT_VIDEO_TOLERANCE = 0.13
#: Runtimes of the one-pass methods: torch, or onnxruntime for exported networks (no torch).
BACKENDS = ("auto", "torch", "onnxruntime")
#: Learning-rate schedules of the training loop.
SCHEDULES = ("inverse", "cosine", "constant")
#: How AdaIN training weighs its VGG-19 loss terms: ``raw`` (the paper's sum of per-layer MSEs; on
#: an unnormalised VGG-19 almost all relu4_1) or ``energy`` (each term divided by its target's
#: energy and the style layers averaged, instyle.losses.balanced_mean_std_loss: every layer counts).
LOSS_BALANCES = ("raw", "energy")
#: Distances of a distilled student's output to its teacher's.
DISTILL_LOSSES = ("l1", "mse")
#: Optimizers of image optimization (Gatys): L-BFGS (fewest steps) or Adam (least memory).
OPTIMIZERS = ("lbfgs", "adam")
#: VGG-19 pooling (max as trained; average, Gatys et al.'s choice for synthesis).
VGG_POOLING = ("max", "avg")
#: Upsampling of the AdaIN decoders' ×2 stages: nearest (the paper's; files made before this option)
#: or bilinear (no block grid: nearest ×2 then a 3×3 conv leaves a period-8 lattice in the light
#: network's output, visible on flat areas; docs/quality.md).
UPSAMPLINGS = ("nearest", "bilinear")
#: Padding of 3×3 convs: zero (VGG-19 as trained; the light AdaIN network: onnxruntime fuses it
#: into the conv) or reflect (the AdaIN decoder and fast generators as trained: no dark borders).
PADDINGS = ("zero", "reflect")
#: Image formats ``instyle serve`` returns (``format`` of ``POST /api/stylize``): PNG keeps an alpha
#: channel, JPEG and WebP are smaller.
WEB_FORMATS = ("png", "jpeg", "webp")
#: Output sizes (longer side, px) the web page offers; the API takes any size up to its limit.
WEB_PAGE_SIZES = (256, 384, 512, 768, 1024)


#: Spellings an option's value had before options settled on one (US "color", as ``--color``):
#: still accepted wherever the new spelling is a choice, by :func:`check` and :func:`respell`.
OLD_SPELLINGS = {"colour": "color"}


def respell(value: str) -> str:
    """``value`` in the spelling options use now (``"colour"`` → ``"color"``); others unchanged."""
    return OLD_SPELLINGS.get(value, value)


def check(value: object, options: Iterable[str], what: str, error: type[Exception] = ValueError) -> str:
    """``value`` if it is one of ``options`` (an old spelling of one: that option), else
    ``error("<what> must be one of …, got …")``."""
    options = tuple(options)
    if isinstance(value, str) and respell(value) in options:
        value = respell(value)
    if value not in options:
        raise error(f"{what} must be one of {', '.join(options)}, got {value!r}")
    return value
