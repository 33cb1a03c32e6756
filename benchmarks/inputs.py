"""The images a benchmark feeds: the project's shared photos and paintings, and stand-ins for them.

The shared images live in ``../shared/images`` next to the repository (``content/``, ``style/``,
``train/content``, ``train/style``); the environment variable ``INSTYLE_SHARED_IMAGES`` points
elsewhere. Without them, full runs skip what needs real photos (and say so), while ``--smoke``
runs use stand-ins: scikit-image's bundled photos (generated patterns where scikit-image is not
installed) and generated paintings. Nothing here imports torch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

from .runner import REPO_ROOT, size_label

SHARED_IMAGES = Path(os.environ.get("INSTYLE_SHARED_IMAGES") or REPO_ROOT.parent / "shared" / "images")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")  # RGB photos scikit-image ships


def find_image(folder: Path, name: str) -> Path | None:
    """``name`` as a path, else ``folder/name`` with or without an image suffix; None if absent."""
    if Path(name).is_file():
        return Path(name)
    return next((p for p in (folder / f"{name}{ext}" for ext in ("", *IMAGE_SUFFIXES)) if p.is_file()), None)


def synthetic_image(w: int, h: int, seed: int, kind: str):
    """A deterministic stand-in (a PIL image): a smooth ``"content"`` photo or a busy ``"style"``
    painting."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "content":
        r = 0.5 + 0.4 * np.sin(x / 37.0) * np.cos(y / 53.0)
        g = np.clip(y / max(1, h - 1), 0, 1)
        b = 0.5 + 0.4 * np.sin((x + y) / 91.0)
    else:
        r = 0.5 + 0.5 * np.sin(x / 7.0 + np.sin(y / 11.0) * 3 + seed)
        g = 0.5 + 0.5 * np.cos(y / 5.0 + np.sin(x / 13.0) * 2)
        b = 0.5 + 0.5 * np.sin((x - y) / 9.0)
    img = np.stack([r, g, b], -1) + rng.normal(0, 0.03, (h, w, 3))
    return Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")


def make_contents(source: Path | None, sizes: Sequence[tuple[int, int]], folder: Path) -> dict[str, str]:
    """One PNG per (h, w) size, resized (Lanczos) from ``source`` or synthetic: label -> path."""
    from PIL import Image, ImageOps

    out = {}
    base = None
    if source is not None:
        with Image.open(source) as im:
            base = ImageOps.exif_transpose(im).convert("RGB")
    for hw in sizes:
        label = size_label(hw)
        img = (
            base.resize((hw[1], hw[0]), Image.LANCZOS)
            if base is not None
            else synthetic_image(hw[1], hw[0], 0, "content")
        )
        path = folder / f"content_{label}.png"
        img.save(path, format="PNG", compress_level=1)
        out[label] = str(path)
    return out


def skimage_data() -> Path | None:
    """scikit-image's folder of bundled images (found without importing it), or None."""
    spec = find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return folder if folder.is_dir() else None


def sample_photos(n: int, folder: Path) -> list[Path]:
    """``n`` stand-in photos: scikit-image's (repeated past four), else generated into ``folder``."""
    data = skimage_data()
    if data is not None:
        return [data / SKIMAGE_PHOTOS[i % len(SKIMAGE_PHOTOS)] for i in range(n)]
    return _generated(n, folder, "content", 320, 240)


def sample_paintings(n: int, folder: Path) -> list[Path]:
    """``n`` generated stand-in paintings (each its own pattern), written into ``folder``."""
    return _generated(n, folder, "style", 512, 384)


def _generated(n: int, folder: Path, kind: str, w: int, h: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{kind}_{i:02d}.png" for i in range(n)]
    for i, path in enumerate(paths):
        synthetic_image(w, h, i, kind).save(path)
    return paths


def training_folder(folder: Path, n: int) -> Path:
    """A stand-in for ``shared/images/train``: ``folder/content`` with ``n`` photos and
    ``folder/style`` with ``n`` paintings (see :func:`sample_photos`, :func:`sample_paintings`)."""
    (folder / "content").mkdir(parents=True, exist_ok=True)
    for i, photo in enumerate(sample_photos(n, folder / "photos")):
        (folder / "content" / f"{i:02d}_{photo.name}").write_bytes(photo.read_bytes())
    sample_paintings(n, folder / "style")
    return folder
