"""Score stylized images against their content and style images with fixed VGG-19 metrics.

Every method in instyle (and every peer in ``benchmarks/``) is compared with these numbers:

* ``content``: MSE of relu4_1 features, output vs content;
* ``style_mean_std``: Σ over relu1_1…relu4_1 of MSE(means) + MSE(stds) (AdaIN's style loss);
* ``style_gram``: Σ over relu1_1…relu5_1 of MSE of H·W-normalized Gram matrices.

All three images are resized so their longer side is ``size`` pixels (the output to exactly the
content's evaluation size), so scores are comparable across methods and output resolutions.
Features are those of the standard (max-pool, zero-pad) VGG-19 on Caffe-scale input, so the
numbers are large; lower is better. The encoder is the same for every method scored.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Sequence

import torch
from torch import Tensor

from .choices import ADAIN_LAYER, ADAIN_STYLE_LAYERS, GRAM_STYLE_LAYERS
from .device import resolve_device
from .losses import content_loss, gram_loss, mean_std_loss
from .nn.functional import calc_mean_std, gram_matrix
from .resize import resize_longer, resize_to
from .vgg import VGG19Encoder

EVAL_SIZE = 512
CONTENT_LAYER = ADAIN_LAYER  # relu4_1
MEAN_STD_LAYERS = ADAIN_STYLE_LAYERS  # relu1_1 … relu4_1
GRAM_LAYERS = GRAM_STYLE_LAYERS  # relu1_1 … relu5_1
METRICS = ("content", "style_mean_std", "style_gram")


class Evaluator:
    """Callable scorer: ``Evaluator()(output, content, style) -> {"content": …, ...}``.

    Example:
        >>> ev = Evaluator()                                                     # doctest: +SKIP
        >>> ev(load_image("out.png"), load_image("photo.jpg"), load_image("starry.jpg"))  # doctest: +SKIP
        {'content': 1234.5, 'style_mean_std': 678.9, 'style_gram': 1.2e+08}
    """

    def __init__(self, *, size: int = EVAL_SIZE, encoder: VGG19Encoder | None = None,
                 device: str | torch.device = "cpu"):
        if size < 16:
            raise ValueError(f"evaluation size must be >= 16, got {size}")
        self.size = size
        self.device = resolve_device(device)
        self.encoder = (encoder or VGG19Encoder(last_layer="relu5_1")).to(self.device)
        self._layers = sorted(set(GRAM_LAYERS) | set(MEAN_STD_LAYERS) | {CONTENT_LAYER})

    @torch.no_grad()
    def features(self, img: Tensor) -> Dict[str, Tensor]:
        return self.encoder(img.to(self.device).float(), self._layers)

    @torch.no_grad()
    def __call__(self, output: Tensor, content: Tensor, style: Tensor) -> Dict[str, float]:
        content = resize_longer(content, self.size)
        output = resize_to(output, content.shape[-2:])
        style = resize_longer(style, self.size)
        fo, fc, fs = self.features(output), self.features(content), self.features(style)
        return {
            "content": float(content_loss(fo[CONTENT_LAYER], fc[CONTENT_LAYER])),
            "style_mean_std": float(sum(mean_std_loss(fo[n], calc_mean_std(fs[n])) for n in MEAN_STD_LAYERS)),
            "style_gram": float(sum(gram_loss(fo[n], gram_matrix(fs[n])) for n in GRAM_LAYERS)),
        }


def summarize(rows: Sequence[Dict[str, float]]) -> Dict[str, float]:
    """Mean of each metric over rows."""
    if not rows:
        return {m: float("nan") for m in METRICS}
    return {m: sum(r[m] for r in rows) / len(rows) for m in METRICS}


def format_table(rows: Iterable[Dict[str, object]], columns: Sequence[str]) -> str:
    """A plain-text table; floats in 4 significant digits."""
    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    rows = list(rows)
    cells: List[List[str]] = [list(columns)] + [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
