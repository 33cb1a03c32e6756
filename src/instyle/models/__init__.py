"""Style transfer networks: the AdaIN decoder (arbitrary style) and the fast feed-forward nets
(Johnson's residual net, Ulyanov's texture net; with ``norm="conditional_instance"`` both are
multi-style networks).

``MODEL_KINDS`` maps the kind stored in model files to (config dataclass, model class).
"""

from .adain import AdaINConfig, AdaINDecoder, make_encoder
from .johnson import JohnsonConfig, JohnsonNet
from .texture_net import TextureNet, TextureNetConfig

MODEL_KINDS = {
    "adain_decoder": (AdaINConfig, AdaINDecoder),
    "johnson": (JohnsonConfig, JohnsonNet),
    "texture_net": (TextureNetConfig, TextureNet),
}

__all__ = [
    "MODEL_KINDS",
    "AdaINConfig",
    "AdaINDecoder",
    "JohnsonConfig",
    "JohnsonNet",
    "TextureNet",
    "TextureNetConfig",
    "make_encoder",
]
