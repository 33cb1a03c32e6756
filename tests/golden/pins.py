"""What the shipped networks output, computed the one way the pins and their test share.

Every pin is a fixed input through a shipped network in fp32: the built-in network (all 16
styles, a blend, colour kept), the large built-in network, the built-in network for video (all
16 styles, and ``instyle video``'s default stabilization on three frames of a pan), AdaIN with the VGG decoder (two
presets, a style image, α 0.5, colour kept) and with the light network (two presets, a style
image, α 0.5, a blend). Each records the output's per-channel means, a few pixels at fixed places,
and its ``Evaluator`` scores (at 64 px). Inputs are scikit-image's bundled photos, read with
instyle's own loader: chelsea (the cat) is the content, coffee the style image.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import torch

PINS = Path(__file__).with_name("pins.json")
CONTENT_SIZE = 96  # longer side of the content photo
EVAL_SIZE = 64
PIXELS = [(0, 0), (17, 40), (40, 91), (63, 5)]  # (y, x) in the 64x96 output


def skimage_photo(name: str) -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None:
        raise FileNotFoundError("scikit-image is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


def cases() -> dict[str, Callable[[], torch.Tensor]]:
    """Pin name -> the call that makes its output (1, 3, H, W)."""
    from instyle import AdaINStylizer, FastStylizer, load_image
    from instyle.errors import WeightsError

    photo = load_image(skimage_photo("chelsea.png"), size=CONTENT_SIZE)
    style = load_image(skimage_photo("coffee.png"))
    fast, large = FastStylizer(precision="fp32"), FastStylizer("builtin-large", precision="fp32")
    adain = AdaINStylizer(arch="vgg", precision="fp32")
    out: dict[str, Callable[[], torch.Tensor]] = {
        f"builtin/{name}": (lambda n=name: fast(photo, n)) for name in fast.styles
    }
    out["builtin/blend starry_night+wave"] = lambda: fast(photo, ["starry_night", "wave"], weights=[0.3, 0.7])
    out["builtin/candy luminance"] = lambda: fast(photo, "candy", color="luminance")
    for name in ("starry_night", "candy", "mosaic"):
        out[f"builtin-large/{name}"] = lambda n=name: large(photo, n)
    try:  # the built-in network's companion for outputs up to 512 px
        half = FastStylizer("builtin-512", precision="fp32")
    except WeightsError:  # not shipped
        pass
    else:
        for name in half.styles:
            out[f"builtin-512/{name}"] = lambda n=name: half(photo, n)
    try:
        video = FastStylizer("builtin-video", precision="fp32")
    except WeightsError:  # no video network shipped
        pass
    else:
        for name in video.styles:
            out[f"builtin-video/{name}"] = lambda n=name: video(photo, n)
        out["builtin-video/stabilized, third frame of a pan, candy"] = lambda: _stabilized(video, photo)
    out["adain/preset wave"] = lambda: adain(photo, "wave")
    out["adain/preset candy, alpha 0.5"] = lambda: adain(photo, "candy", alpha=0.5)
    out["adain/style image"] = lambda: adain(photo, style)
    out["adain/style image, luminance"] = lambda: adain(photo, style, color="luminance")
    try:
        light = AdaINStylizer(arch="light", precision="fp32")
    except WeightsError:  # no light network shipped
        return out
    out["light/preset wave"] = lambda: light(photo, "wave")
    out["light/preset candy, alpha 0.5"] = lambda: light(photo, "candy", alpha=0.5)
    out["light/style image"] = lambda: light(photo, style)
    out["light/style image blend"] = lambda: light(photo, [style, "starry_night"], weights=[0.6, 0.4])
    return out


def _stabilized(net, photo: torch.Tensor) -> torch.Tensor:
    """``instyle video``'s default stabilization on three frames of a pan (64×72 windows of the
    photo moving 3 px right to left a frame, nearest the photo's left edge last): the third output,
    as (1, 3, 64, 72) (padded back to the photo's 96 px width with zeros so every pin is 64×96)."""
    from instyle.video import StabilizeConfig, VideoStylizer, on_arrays

    rgb = photo[0].permute(1, 2, 0).numpy()
    frames = [rgb[:, 24 - 3 * t : 96 - 3 * t].copy() for t in range(3)]
    video = VideoStylizer(on_arrays(lambda x: net(x, "candy")), StabilizeConfig(), grid=net.grid)
    last = list(video(frames))[-1]  # (64, 72, 3)
    out = torch.zeros_like(photo)
    out[0, :, :, :72] = torch.from_numpy(last).permute(2, 0, 1)
    return out


def measure(output: torch.Tensor, evaluator, photo, style) -> dict[str, list[float]]:
    """The pinned numbers of one output."""
    return {
        "means": output.mean(dim=(0, 2, 3)).tolist(),
        "pixels": [output[0, :, y, x].tolist() for y, x in PIXELS],
        "scores": list(evaluator(output, photo, style).values()),
    }


def compute() -> dict[str, dict[str, list[float]]]:
    from instyle import Evaluator, load_image

    photo = load_image(skimage_photo("chelsea.png"), size=CONTENT_SIZE)
    style = load_image(skimage_photo("coffee.png"))
    evaluator = Evaluator(size=EVAL_SIZE)
    return {name: measure(make(), evaluator, photo, style) for name, make in cases().items()}
