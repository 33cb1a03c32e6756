"""instyle: neural style transfer built around instance normalization.

The public API, in one place::

    from instyle import GatysOptimizer, OptimizeConfig, load_image, save_image
    out = GatysOptimizer(OptimizeConfig(steps=300))(load_image("photo.jpg", size=512),
                                                    [load_image("starry.jpg", size=512)])
    save_image("out.png", out)
"""

from .errors import InstyleError, UsageError, WeightsError
from .evaluate import Evaluator
from .imageio import ImageData, load_image, read_image, save_image
from .losses import LossWeights
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
from .vgg import VGG19Encoder

__version__ = "0.1.0"

__all__ = [
    "AdaIN",
    "ConditionalInstanceNorm2d",
    "Evaluator",
    "GatysOptimizer",
    "ImageData",
    "InstanceNorm2d",
    "InstyleError",
    "LossWeights",
    "OptimizeConfig",
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
    "load_image",
    "read_image",
    "save_image",
    "__version__",
]
