"""Labelled contact sheets: a grid of images with row and column headers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from .imageio import tensor_to_image

if TYPE_CHECKING:
    from torch import Tensor


def _fit(img: Image.Image, cell: int) -> Image.Image:
    # Scale so the longer side is `cell`, then centre on a white cell×cell tile.
    scale = cell / max(img.size)  # up or down, so every cell is filled the same way
    im = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)
    tile = Image.new("RGB", (cell, cell), "white")
    tile.paste(im, ((cell - im.width) // 2, (cell - im.height) // 2))
    return tile


def font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def contact_sheet(
    grid: Sequence[Sequence[Tensor | None]],
    *,
    row_labels: Sequence[str] = (),
    col_labels: Sequence[str] = (),
    cell: int = 256,
    pad: int = 4,
    header: Sequence[Tensor | None] | None = None,
    corner: str = "",
    captions: Sequence[Sequence[str]] | None = None,
) -> Image.Image:
    """Lay out ``grid[r][c]`` images ((1, 3, H, W) tensors or (H, W, 3) arrays in [0, 1], or None for
    blank) as an RGB sheet.

    ``header``, if given, is a row of images drawn above the grid (e.g. the style images), and
    the first column can hold the row's source (e.g. the content image) by putting it in the grid.
    ``captions[r][c]``, if given, is written under cell (r, c) of the grid.
    """
    rows = ([list(header)] if header is not None else []) + [list(r) for r in grid]
    n_cols = max(len(r) for r in rows)
    label_h = 22 if col_labels else 0
    label_w = 120 if row_labels else 0
    width = label_w + n_cols * (cell + pad) + pad
    cap_h = 18 if captions else 0
    row_h = cell + pad + cap_h
    height = label_h + len(rows) * row_h + pad
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    label_font = font(14)
    for c, text in enumerate(col_labels):
        x = label_w + pad + c * (cell + pad)
        draw.text((x + 2, 3), text[:40], fill="black", font=label_font)
    labels = ([corner] if header is not None else []) + list(row_labels)
    for r, row in enumerate(rows):
        y = label_h + pad + r * row_h
        if r < len(labels) and labels[r]:
            draw.text((4, y + cell // 2 - 7), labels[r][:16], fill="black", font=label_font)
        for c, img in enumerate(row):
            if img is None:
                continue
            pil = tensor_to_image(img)
            x = label_w + pad + c * (cell + pad)
            sheet.paste(_fit(pil, cell), (x, y))
            g = r - (1 if header is not None else 0)
            if captions and 0 <= g < len(captions) and c < len(captions[g]) and captions[g][c]:
                draw.text((x + 2, y + cell + 2), captions[g][c][: max(4, cell // 7)], fill="black", font=label_font)
    return sheet


def stack_tensors(images: Sequence[Tensor]) -> Tensor:
    """Side by side, same height: (1, 3, H, ΣW)."""
    import torch

    from .resize import resize_to

    h = min(i.shape[-2] for i in images)
    resized = [resize_to(i, (h, round(i.shape[-1] * h / i.shape[-2]))) for i in images]
    return torch.cat(resized, dim=3)
