"""Style transfer networks: the AdaIN decoder and the light AdaIN network (arbitrary style), and
the fast feed-forward nets (Johnson's residual net, Ulyanov's texture net; with ``norm="conditional_instance"`` both are
multi-style networks).

``MODEL_KINDS`` maps the kind stored in model files to (config dataclass, model class).
"""

from torch import nn

from .adain import AdaINConfig, AdaINDecoder, make_encoder
from .johnson import JohnsonConfig, JohnsonNet
from .light import LightAdaIN, LightAdaINConfig
from .texture_net import TextureNet, TextureNetConfig

MODEL_KINDS: dict[str, tuple[type, type[nn.Module]]] = {
    "adain_decoder": (AdaINConfig, AdaINDecoder),
    "adain_light": (LightAdaINConfig, LightAdaIN),
    "johnson": (JohnsonConfig, JohnsonNet),
    "texture_net": (TextureNetConfig, TextureNet),
}

__all__ = [
    "MODEL_KINDS",
    "AdaINConfig",
    "AdaINDecoder",
    "JohnsonConfig",
    "JohnsonNet",
    "LightAdaIN",
    "LightAdaINConfig",
    "TextureNet",
    "TextureNetConfig",
    "make_encoder",
]
