"""AdaBN (Li et al. 2016, "Revisiting Batch Normalization For Practical Domain Adaptation").

Re-estimate every batch-norm layer's running mean/variance on unlabeled images of a new
domain; all learned weights stay as they are. The paper's statistics are the target domain's
own: the mean and variance of each channel over every pixel of every image, each layer seeing
the layers before it already adapted (as the network will run). That is what ``exact=True``
computes, layer by layer, with the sums merged in float64 over batches (so the batch size does
not change the result). ``exact=False`` is PyTorch's cumulative average of per-batch statistics
in one pass (deeper layers see batch-normalized inputs): cheaper, and the same only for one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from torch.nn.modules.batchnorm import _BatchNorm  # the base of every class in _BN_TYPES

_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def batchnorm_layers(model: nn.Module) -> list[_BatchNorm]:
    """The batch-norm layers of ``model`` that AdaBN adapts: those with running statistics (a layer
    built with ``track_running_stats=False`` always normalizes with its batch's own; nothing to adapt)."""
    return [m for m in model.modules() if isinstance(m, _BN_TYPES) and m.track_running_stats]


class _Reached(Exception):
    """Raised by a hook to stop a forward pass once the layer being measured has seen its input."""


@torch.no_grad()
def adapt_batchnorm(
    model: nn.Module,
    images: Tensor | Iterable[Tensor],
    *,
    batch_size: int = 16,
    forward: Callable[[nn.Module, Tensor], object] | None = None,
    exact: bool = True,
) -> nn.Module:
    """Replace the statistics of every BN layer in ``model`` by those of ``images``.

    Args:
        model: any module with batch-norm layers.
        images: a (N, C, H, W) tensor, split into batches of ``batch_size``, or an iterable of
            such batches (e.g. a DataLoader). With ``exact`` it is read once per BN layer (a
            one-shot iterator is kept in memory for that).
        forward: optional callable ``forward(model, batch)`` for models that need extra inputs.
        exact: the domain's own statistics (see the module docstring): per channel, the mean
            and the unbiased variance over all N·H·W values, each layer's input computed with
            the layers before it adapted. False: the mean of per-batch statistics, one pass.

    Returns:
        ``model``, in the train/eval mode it had before. Raises ``ValueError`` if the model
        has no batch-norm layer with running statistics or no images are given; the old
        statistics are then kept.
    """
    bns = batchnorm_layers(model)
    if not bns:
        raise ValueError("adapt_batchnorm: the model has no batch-norm layers with running statistics")
    if isinstance(images, Tensor) and images.shape[0] == 0:
        raise ValueError("adapt_batchnorm: no images given")
    batches = images.split(batch_size) if isinstance(images, Tensor) else images
    if exact and isinstance(batches, Iterator):
        batches = list(batches)  # read once per layer
    run = (lambda batch: forward(model, batch)) if forward is not None else model
    was_training = {m: m.training for m in model.modules()}
    # Kept so that a failed call (an error, or no images) leaves the old statistics in place.
    saved_stats = {bn: [b.clone() for b in bn.buffers(recurse=False)] for bn in bns}
    saved_momentum = {bn: bn.momentum for bn in bns}
    try:
        if exact:
            _adapt_exact(model, bns, batches, run)
        else:
            _adapt_cumulative(model, bns, batches, run)
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


def _nonempty(batches: Iterable[Tensor]) -> Iterator[Tensor]:
    # an empty batch would count as a batch with mean 0 in the cumulative average
    return (b for b in batches if not (isinstance(b, Tensor) and b.numel() == 0))


def _adapt_cumulative(model: nn.Module, bns: list[_BatchNorm], batches: Iterable[Tensor], run) -> None:
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average == the mean of the per-batch statistics
    model.eval()
    for bn in bns:
        bn.train()
    seen = 0
    for batch in _nonempty(batches):
        run(batch)
        seen += 1
    if seen == 0:
        raise ValueError("adapt_batchnorm: no images given")


def _adapt_exact(model: nn.Module, bns: list[_BatchNorm], batches: Iterable[Tensor], run) -> None:
    model.eval()  # every BN normalizes with its running statistics: adapted ones before the layer measured
    for bn in _execution_order(bns, batches, run):
        count, seen = 0, 0
        total: Tensor | None = None  # (C,) float64 sums of x and x² over every batch
        squares: Tensor | None = None

        def measure(module: nn.Module, inputs: tuple) -> None:
            nonlocal count, total, squares
            x = inputs[0].detach().double()  # (N, C, *spatial)
            x = x.transpose(0, 1).reshape(x.shape[1], -1)  # (C, N·spatial)
            count += x.shape[1]
            total = x.sum(1) if total is None else total + x.sum(1)
            squares = (x * x).sum(1) if squares is None else squares + (x * x).sum(1)
            raise _Reached

        handle = bn.register_forward_pre_hook(measure)
        try:
            for batch in _nonempty(batches):
                try:
                    run(batch)
                except _Reached:
                    pass
                seen += 1
        finally:
            handle.remove()
        if count == 0:
            raise ValueError("adapt_batchnorm: no images given")
        assert total is not None and squares is not None  # count > 0: measure ran and summed
        mean = total / count
        # unbiased, as BatchNorm's running_var; float64 sums keep E[x²] − E[x]² exact enough at any N
        var = (squares - count * mean * mean).clamp_min(0) / max(1, count - 1)
        # batchnorm_layers keeps only layers that track running statistics
        assert bn.running_mean is not None and bn.running_var is not None
        bn.running_mean.copy_(mean.to(bn.running_mean.dtype))
        bn.running_var.copy_(var.to(bn.running_var.dtype))
        if bn.num_batches_tracked is not None:
            bn.num_batches_tracked.fill_(seen)


def _execution_order(bns: list[_BatchNorm], batches: Iterable[Tensor], run) -> list[_BatchNorm]:
    """The BN layers in the order a forward pass reaches them (a layer's input depends only on the
    layers run before it), from one pass of the first batch; layers never reached are left out."""
    order: list[_BatchNorm] = []
    handles = [bn.register_forward_pre_hook(lambda m, _: order.append(m) if m not in order else None) for bn in bns]
    try:
        first = next(iter(_nonempty(batches)), None)
        if first is None:
            raise ValueError("adapt_batchnorm: no images given")
        run(first)
    finally:
        for h in handles:
            h.remove()
    return order
