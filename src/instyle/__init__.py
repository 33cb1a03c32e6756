"""instyle: neural style transfer built around instance normalization."""

__version__ = "0.1.0"
