"""Style transfer networks: the AdaIN decoder (arbitrary style) and the fast feed-forward nets.

``MODEL_KINDS`` maps the kind stored in model files to (config dataclass, model class).
"""

from .adain import AdaINConfig, AdaINDecoder, AdaINModel, make_encoder

MODEL_KINDS = {
    "adain_decoder": (AdaINConfig, AdaINDecoder),
}

__all__ = ["MODEL_KINDS", "AdaINConfig", "AdaINDecoder", "AdaINModel", "make_encoder"]
