"""The version of instyle, in one place (read by the package, model files and pyproject.toml)."""

__version__ = "0.1.0"
