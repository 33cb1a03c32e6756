"""AdaBN for a fast network: re-estimate its batch-norm statistics on a folder of photos of a new
domain (night shots, sketches, a colour cast…), so a ``--norm batch`` network normalizes them as
it normalized its training photos (Li et al. 2016). The weights stay as trained; only the running
means and variances change (:func:`instyle.nn.adapt_batchnorm`, exact whole-domain statistics).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn

from .checkpoint import load_model
from .errors import NORM_BATCH, InstyleError, UsageError
from .feedforward import forward
from .models import JohnsonNet, TextureNet
from .nn import adapt_batchnorm
from .nn.adabn import batchnorm_layers


def load_batchnorm_network(path: str | os.PathLike) -> nn.Module:
    """A fast network with batch-norm layers, loaded for adaptation (float32, eval mode)."""
    net, _ = load_model(path, expect=("johnson", "texture_net"))
    if not batchnorm_layers(net):
        raise UsageError(
            f"{os.fspath(path)} has no batch-norm layers (norm {getattr(net.config, 'norm', '?')!r}); only networks "
            "trained with {batch} have statistics to adapt (instance norm adapts to each image by itself)",
            batch=NORM_BATCH,
        )
    return net


def adapt_network(
    net: nn.Module,
    images: Sequence[str | os.PathLike],
    *,
    size: int = 256,
    on_image: Callable[[], None] | None = None,
) -> tuple[nn.Module, int]:
    """``net`` (a :class:`JohnsonNet` or :class:`TextureNet` with BN layers) with the statistics of
    ``images``, each read with its longer side ``size`` px, one at a time (so any mix of shapes);
    returns the network and how many images were read. Unreadable images are an error naming them."""
    from .imageio import load_image

    if not isinstance(net, (JohnsonNet, TextureNet)):
        raise TypeError(f"expected a JohnsonNet or TextureNet, got {type(net).__name__}")
    if not images:
        raise UsageError("no images to adapt to")
    read = 0

    def batches() -> Iterator[torch.Tensor]:
        nonlocal read
        read = 0
        for path in images:
            try:
                img = load_image(path, size=size)  # (1, 3, h, w)
            except InstyleError as exc:
                raise InstyleError(f"cannot adapt to {os.fspath(path)}: {exc}") from None
            read += 1
            if on_image is not None:
                on_image()
            yield img

    class Reiterable:  # read again for each BN layer (exact statistics), never all in memory
        def __iter__(self) -> Iterator[torch.Tensor]:
            return batches()

    adapt_batchnorm(net, Reiterable(), forward=lambda m, x: forward(m, x))
    return net, read
