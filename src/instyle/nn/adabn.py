"""AdaBN (Li et al. 2016, "Revisiting Batch Normalization For Practical Domain Adaptation").

Re-estimate every batch-norm layer's running mean/variance on unlabeled images of a new
domain; all learned weights stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


@torch.no_grad()
def adapt_batchnorm(
    model: nn.Module, images: Tensor | Iterable[Tensor], *, batch_size: int = 16, forward=None
) -> nn.Module:
    """Replace the statistics of every BN layer in ``model`` by those of ``images``.

    Args:
        model: any module; its BN layers get new ``running_mean``/``running_var`` computed as
            the exact (cumulative) average over all batches, not an exponential average.
        images: a (N, C, H, W) tensor, split into batches of ``batch_size``, or an iterable of
            such batches (e.g. a DataLoader).
        forward: optional callable ``forward(model, batch)`` for models that need extra inputs.

    Returns:
        ``model``, in the train/eval mode it had before. Raises ``ValueError`` if the model
        has no batch-norm layer or no images are given.
    """
    bns = [m for m in model.modules() if isinstance(m, _BN_TYPES)]
    if not bns:
        raise ValueError("adapt_batchnorm: the model has no batch-norm layers")
    if isinstance(images, Tensor) and images.shape[0] == 0:
        raise ValueError("adapt_batchnorm: no images given")
    batches = images.split(batch_size) if isinstance(images, Tensor) else images
    was_training = {m: m.training for m in model.modules()}
    # Kept so that a failed call (an error, or no images) leaves the old statistics in place.
    saved_stats = {bn: [b.clone() for b in bn.buffers(recurse=False)] for bn in bns}
    saved_momentum = {bn: bn.momentum for bn in bns}
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average == exact mean over batches
    model.eval()
    for bn in bns:
        bn.train()
    seen = 0
    try:
        for batch in batches:
            if isinstance(batch, Tensor) and batch.numel() == 0:
                continue  # an empty batch would count as a batch with mean 0 in the average
            forward(model, batch) if forward is not None else model(batch)
            seen += 1
        if seen == 0:
            raise ValueError("adapt_batchnorm: no images given")
    except BaseException:
        for bn, saved in saved_stats.items():
            for buf, old in zip(bn.buffers(recurse=False), saved):
                buf.copy_(old)
        raise
    finally:
        for m, mode in was_training.items():
            m.train(mode)
        for bn, mom in saved_momentum.items():
            bn.momentum = mom
    return model
