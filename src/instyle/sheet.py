"""Labelled contact sheets: a grid of images with row and column headers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from .imageio import tensor_to_image

if TYPE_CHECKING:
    import numpy as np
    from torch import Tensor

    #: what a sheet shows: a (1, 3, H, W) tensor or an (H, W, 3) array in [0, 1], or None for blank
    Picture = Tensor | np.ndarray | None


def _fit(img: Image.Image, cell: int) -> Image.Image:
    # Scale so the longer side is `cell`, then centre on a white cell×cell tile.
    scale = cell / max(img.size)  # up or down, so every cell is filled the same way
    im = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.LANCZOS)
    tile = Image.new("RGB", (cell, cell), "white")
    tile.paste(im, ((cell - im.width) // 2, (cell - im.height) // 2))
    return tile


def _row_height(row: Sequence[Picture], cell: int) -> int:
    """The height of a row of pictures each drawn ``cell`` px wide."""
    sizes = [tuple(tensor_to_image(img).size) for img in row if img is not None]
    return max((max(1, round(h * cell / w)) for w, h in sizes), default=cell)


def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def contact_sheet(
    grid: Sequence[Sequence[Picture]],
    *,
    row_labels: Sequence[str] = (),
    col_labels: Sequence[str] = (),
    cell: int = 256,
    pad: int = 4,
    header: Sequence[Picture] | None = None,
    corner: str = "",
    captions: Sequence[Sequence[str]] | None = None,
    tight: bool = False,
) -> Image.Image:
    """Lay out ``grid[r][c]`` images ((1, 3, H, W) tensors or (H, W, 3) arrays in [0, 1], or None for
    blank) as an RGB sheet.

    ``header``, if given, is a row of images drawn above the grid (e.g. the style images), and
    the first column can hold the row's source (e.g. the content image) by putting it in the grid.
    ``captions[r][c]``, if given, is written under cell (r, c) of the grid.

    ``tight``: for pictures of one shape (a demo row): each row is as tall as its pictures at
    width ``cell`` (not square), the pictures sit right under the column labels, and the labels
    grow with ``cell`` so they stay legible when the sheet is shown shrunk.
    """
    rows = ([list(header)] if header is not None else []) + [list(r) for r in grid]
    n_cols = max(len(r) for r in rows)
    text = max(14, cell // 22) if tight else 14  # px: about 23 labels' height across a 512-px cell
    label_h = text + 8 if col_labels else 0
    label_w = 120 if row_labels else 0
    width = label_w + n_cols * (cell + pad) + pad
    cap_h = 18 if captions else 0
    heights = [_row_height(row, cell) if tight else cell for row in rows]
    tops = [label_h + pad + sum(h + pad + cap_h for h in heights[:r]) for r in range(len(rows))]
    height = label_h + sum(h + pad + cap_h for h in heights) + pad
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    label_font = font(text)
    for c, label in enumerate(col_labels):
        x = label_w + pad + c * (cell + pad)
        draw.text((x + 2, 3), label[:40], fill="black", font=label_font)
    labels = ([corner] if header is not None else []) + list(row_labels)
    for r, row in enumerate(rows):
        y, row_h = tops[r], heights[r]
        if r < len(labels) and labels[r]:
            draw.text((4, y + row_h // 2 - 7), labels[r][:16], fill="black", font=label_font)
        for c, img in enumerate(row):
            if img is None:
                continue
            pil = tensor_to_image(img)
            x = label_w + pad + c * (cell + pad)
            if tight:
                scale = cell / pil.width
                sheet.paste(pil.resize((cell, max(1, round(pil.height * scale))), Image.Resampling.LANCZOS), (x, y))
            else:
                sheet.paste(_fit(pil, cell), (x, y))
            g = r - (1 if header is not None else 0)
            if captions and 0 <= g < len(captions) and c < len(captions[g]) and captions[g][c]:
                draw.text((x + 2, y + row_h + 2), captions[g][c][: max(4, cell // 7)], fill="black", font=label_font)
    return sheet


def stack_tensors(images: Sequence[Tensor]) -> Tensor:
    """Side by side, same height: (1, 3, H, ΣW)."""
    import torch

    from .resize import resize_to

    h = min(i.shape[-2] for i in images)
    resized = [resize_to(i, (h, round(i.shape[-1] * h / i.shape[-2]))) for i in images]
    return torch.cat(resized, dim=3)
