"""instyle: neural style transfer built around instance normalization.

The public API, in one place::

    from instyle import FastStylizer, AdaINStylizer, load_image, save_image
    out = FastStylizer()(load_image("photo.jpg", size=512), "starry_night")        # a built-in style
    out = AdaINStylizer()(load_image("photo.jpg", size=512), load_image("starry.jpg"), alpha=0.8)  # any style
    save_image("out.png", out)

    from instyle import GatysOptimizer, OptimizeConfig          # optimization (slow, any style)
    from instyle import AdaINTask, AdaINTrainConfig, TrainConfig   # train your own decoder:
    instyle.train.train(AdaINTask("photos/", "paintings/"), TrainConfig(), "runs/adain")
    from instyle import FastTask, FastTrainConfig                           # ... or fast networks
    from instyle import DistillTask, DistillConfig      # ... and a smaller, faster copy of one
    from instyle import choose_method                   # "auto": the fast network or AdaIN?

Names are imported on first use (PEP 562), so ``import instyle`` and ``instyle --help`` do not
import torch; ``instyle.<name>`` and ``from instyle import <name>`` work as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

# public name -> the module of instyle that defines it
_API = {
    "load_model": "checkpoint",
    "save_model": "checkpoint",
    "InstyleError": "errors",
    "UsageError": "errors",
    "WeightsError": "errors",
    "Evaluator": "evaluate",
    "FastStylizer": "feedforward",
    "ImageData": "imageio",
    "load_image": "imageio",
    "read_image": "imageio",
    "save_image": "imageio",
    "LossWeights": "losses",
    "choose_method": "method",
    "AdaINConfig": "models",
    "AdaINDecoder": "models",
    "JohnsonConfig": "models",
    "JohnsonNet": "models",
    "TextureNet": "models",
    "TextureNetConfig": "models",
    "AdaIN": "nn",
    "ConditionalInstanceNorm2d": "nn",
    "InstanceNorm2d": "nn",
    "VirtualBatchNorm2d": "nn",
    "adain": "nn",
    "adapt_batchnorm": "nn",
    "calc_mean_std": "nn",
    "create_norm_layer": "nn",
    "get_norm_layer": "nn",
    "gram_matrix": "nn",
    "instance_norm": "nn",
    "GatysOptimizer": "optimize",
    "OptimizeConfig": "optimize",
    "list_presets": "presets",
    "load_preset": "presets",
    "save_preset": "presets",
    "AdaINStylizer": "stylize",
    "Stylizer": "stylize",  # the old name of AdaINStylizer
    "AdaINTask": "train",
    "AdaINTrainConfig": "train",
    "DistillConfig": "train",
    "DistillTask": "train",
    "FastTask": "train",
    "FastTrainConfig": "train",
    "TrainConfig": "train",
    "VGG19Encoder": "vgg",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'instyle' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # static analysers see the names without importing anything at run time
    from .checkpoint import load_model, save_model
    from .errors import InstyleError, UsageError, WeightsError
    from .evaluate import Evaluator
    from .feedforward import FastStylizer
    from .imageio import ImageData, load_image, read_image, save_image
    from .losses import LossWeights
    from .method import choose_method
    from .models import AdaINConfig, AdaINDecoder, JohnsonConfig, JohnsonNet, TextureNet, TextureNetConfig
    from .nn import (
        AdaIN,
        ConditionalInstanceNorm2d,
        InstanceNorm2d,
        VirtualBatchNorm2d,
        adain,
        adapt_batchnorm,
        calc_mean_std,
        create_norm_layer,
        get_norm_layer,
        gram_matrix,
        instance_norm,
    )
    from .optimize import GatysOptimizer, OptimizeConfig
    from .presets import list_presets, load_preset, save_preset
    from .stylize import AdaINStylizer, Stylizer
    from .train import AdaINTask, AdaINTrainConfig, DistillConfig, DistillTask, FastTask, FastTrainConfig, TrainConfig
    from .vgg import VGG19Encoder
