"""instyle: neural style transfer built around instance normalization.

The public API, in one place::

    from instyle import FastStylizer, Stylizer, load_image, save_image
    out = FastStylizer()(load_image("photo.jpg", size=512), "starry_night")        # a built-in style
    out = Stylizer()(load_image("photo.jpg", size=512), load_image("starry.jpg"), alpha=0.8)  # any style
    save_image("out.png", out)

    from instyle import GatysOptimizer, OptimizeConfig          # optimization (slow, any style)
    from instyle import AdaINTask, AdaINTrainConfig, TrainConfig, train   # train your own decoder
    from instyle import FastTask, FastTrainConfig                           # ... or fast networks
    from instyle import DistillTask, DistillConfig      # ... and a smaller, faster copy of one
"""

from .checkpoint import load_model, save_model
from .errors import InstyleError, UsageError, WeightsError
from .evaluate import Evaluator
from .feedforward import FastStylizer
from .imageio import ImageData, load_image, read_image, save_image
from .losses import LossWeights
from .models import AdaINConfig, AdaINDecoder, JohnsonConfig, JohnsonNet, TextureNet, TextureNetConfig
from .nn import (
    AdaIN,
    ConditionalInstanceNorm2d,
    InstanceNorm2d,
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
from .stylize import Stylizer
from .train import (AdaINTask, AdaINTrainConfig, DistillConfig, DistillTask, FastTask, FastTrainConfig, TrainConfig,
                    train)
from .vgg import VGG19Encoder

__version__ = "0.1.0"

__all__ = [
    "AdaIN",
    "AdaINConfig",
    "AdaINDecoder",
    "AdaINTask",
    "AdaINTrainConfig",
    "ConditionalInstanceNorm2d",
    "DistillConfig",
    "DistillTask",
    "Evaluator",
    "FastStylizer",
    "FastTask",
    "FastTrainConfig",
    "GatysOptimizer",
    "ImageData",
    "InstanceNorm2d",
    "InstyleError",
    "JohnsonConfig",
    "JohnsonNet",
    "LossWeights",
    "OptimizeConfig",
    "Stylizer",
    "TextureNet",
    "TextureNetConfig",
    "TrainConfig",
    "UsageError",
    "VGG19Encoder",
    "WeightsError",
    "adain",
    "adapt_batchnorm",
    "calc_mean_std",
    "create_norm_layer",
    "get_norm_layer",
    "gram_matrix",
    "instance_norm",
    "list_presets",
    "load_image",
    "load_model",
    "load_preset",
    "read_image",
    "save_image",
    "save_model",
    "save_preset",
    "train",
    "__version__",
]
