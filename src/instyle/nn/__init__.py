"""Normalization layers and the stateless tensor math behind them."""

from .adabn import adapt_batchnorm
from .functional import (
    adain,
    adain_regions,
    calc_mean_std,
    gram_matrix,
    instance_norm,
    masked_mean_std,
    mix_stats,
    total_variation,
)
from .norm import (
    NORM_LAYER_NAMES,
    AdaIN,
    ConditionalInstanceNorm2d,
    InstanceNorm2d,
    VirtualBatchNorm2d,
    create_norm_layer,
    get_norm_layer,
    record_reference,
)

__all__ = [
    "NORM_LAYER_NAMES",
    "AdaIN",
    "ConditionalInstanceNorm2d",
    "InstanceNorm2d",
    "VirtualBatchNorm2d",
    "adain",
    "adain_regions",
    "adapt_batchnorm",
    "calc_mean_std",
    "create_norm_layer",
    "get_norm_layer",
    "gram_matrix",
    "instance_norm",
    "masked_mean_std",
    "mix_stats",
    "record_reference",
    "total_variation",
]
