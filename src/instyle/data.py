"""Training data: unpaired folders of images, random crops, a deterministic order that resumes.

Every sample a run draws has a global number k = 0, 1, 2, … . For each named stream (e.g.
``content`` and ``style``), sample k is the image at position k mod n of a permutation that
depends only on (seed, stream, epoch = k // n), cropped with a seed derived from (seed, stream,
image, crop id). So the data order is a pure function of the step: resuming at step s replays
exactly what an uninterrupted run would have drawn, on any number of processes, with no sampler
state to save. With ``crops_per_image = K``, an image's crop cycles through K fixed crops
(crop id = epoch mod K), which lets frozen-encoder features be cached.

Unreadable files are skipped (the next image of the folder takes their place) and reported,
never fatal: one bad JPEG must not end a two-day run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import cast

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .errors import InstyleError, UsageError
from .imageio import list_images, read_image
from .resize import resize_to


def _seed(*parts: object) -> int:
    """A stable 63-bit seed from any parts (Python's hash() is salted per process)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


@dataclass(frozen=True)
class CropSpec:
    """How training images are prepared: shorter side resized to ``image_size`` (up or down),
    then a random ``crop``×``crop`` square taken."""

    image_size: int = 512
    crop: int = 256

    def __post_init__(self) -> None:
        if self.crop < 16:
            raise ValueError(f"crop must be at least 16 px, got {self.crop}")
        if self.image_size < self.crop:
            raise ValueError(f"image size ({self.image_size}) must be at least the crop size ({self.crop})")


class ImageFolder:
    """The images of one folder (recursively), read and cropped on demand.

    Example:
        >>> folder = ImageFolder("photos/", CropSpec(512, 256))   # doctest: +SKIP
        >>> img, used = folder.crop(0, seed=1)                     # (3, 256, 256), index read
    """

    def __init__(self, root: str | Path, spec: CropSpec, *, name: str = "image"):
        self.root, self.spec, self.name = Path(root), spec, name
        self.files: list[Path] = list_images(root, recursive=True)

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int) -> Tensor:
        """(3, H, W) float32 in [0, 1], shorter side = ``image_size``; raises InstyleError."""
        img = read_image(self.files[index]).rgb  # (1, 3, H, W)
        h, w = img.shape[-2:]
        s = self.spec.image_size / min(h, w)
        size = (max(self.spec.crop, round(h * s)), max(self.spec.crop, round(w * s)))
        return resize_to(img, size)[0].clamp_(0.0, 1.0)

    def preview(self, n: int, size: int | None = None) -> list[Tensor]:
        """Up to ``n`` images spread evenly over the folder (first and last included), longer side
        ``size`` (default: the training image size, at most 256), for sample grids; unreadable ones
        are left out. Each (1, 3, h, w)."""
        size = size or min(256, self.spec.image_size)
        count = len(self.files)
        picked = sorted({round(i * (count - 1) / max(1, n - 1)) for i in range(n)})
        out = []
        for i in picked:
            try:
                out.append(read_image(self.files[i], size=size).rgb)
            except InstyleError:
                continue
        return out

    def crop(self, index: int, seed: int) -> tuple[Tensor, int, list[str]]:
        """A random crop of image ``index``; if it cannot be read, of the next readable one.

        Returns ``(crop (3, c, c), index actually used, [skipped "file: reason", ...])``.
        """
        skipped: list[str] = []
        for attempt in range(len(self.files)):
            i = (index + attempt) % len(self.files)
            try:
                img = self.load(i)
            except InstyleError as exc:
                skipped.append(str(exc))
                continue
            g = torch.Generator().manual_seed(seed)
            c = self.spec.crop
            top = int(torch.randint(0, img.shape[1] - c + 1, (1,), generator=g))
            left = int(torch.randint(0, img.shape[2] - c + 1, (1,), generator=g))
            return img[:, top : top + c, left : left + c].contiguous(), i, skipped
        raise InstyleError(
            f"none of the {len(self.files)} {self.name} images in {self.root} can be read "
            f"(first: {skipped[0] if skipped else '?'})"
        )


@lru_cache(maxsize=64)
def _permutation(seed: int, n: int) -> tuple[int, ...]:
    return tuple(torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist())


class TrainingData(Dataset):
    """Sample k -> ``{stream: (3, c, c) crop, stream + "_key": (image, crop id), "sample": k, "skipped": [...]}``.

    Args:
        streams: named folders, e.g. ``{"content": ImageFolder(...), "style": ImageFolder(...)}``.
        seed: the run's seed.
        crops_per_image: cycle through this many fixed crops per image (enables feature
            caching); None draws a fresh crop every epoch.
    """

    def __init__(self, streams: Mapping[str, ImageFolder], *, seed: int = 0, crops_per_image: int | None = None):
        if crops_per_image is not None and crops_per_image < 1:
            raise UsageError(f"crops per image must be >= 1, got {crops_per_image}")
        self.streams = dict(streams)
        self.seed, self.crops_per_image = seed, crops_per_image

    def key(self, stream: str, k: int) -> tuple[int, int]:
        """(image index, crop id) of sample ``k`` of ``stream``, before skipping unreadable files."""
        n = len(self.streams[stream])
        epoch, pos = divmod(k, n)
        image = _permutation(_seed(self.seed, stream, "epoch", epoch), n)[pos]
        crop_id = epoch % self.crops_per_image if self.crops_per_image else epoch
        return image, crop_id

    def __getitem__(self, k: int) -> dict[str, object]:
        item: dict[str, object] = {"skipped": [], "sample": k}
        for name, folder in self.streams.items():
            image, crop_id = self.key(name, k)
            crop, used, skipped = folder.crop(image, _seed(self.seed, name, "crop", image, crop_id))
            if used != image:  # a substitute image: its own crop, so cached keys stay consistent
                crop, used, more = folder.crop(used, _seed(self.seed, name, "crop", used, crop_id))
                skipped += more
            item[name] = crop
            item[name + "_key"] = (used, crop_id)
            item["skipped"] += skipped  # type: ignore[operator]
        return item

    def __len__(self) -> int:  # not used for sampling (the stream is endless); the longest folder
        return max(len(f) for f in self.streams.values())


def collate(items: Sequence[dict[str, object]]) -> dict[str, object]:
    """Stack crops to (B, 3, c, c), keys to (B, 2) and sample numbers to (B,) LongTensors, concatenate
    skip reports."""
    # every item's "skipped" is the list TrainingData.__getitem__ starts it as
    out: dict[str, object] = {"skipped": [s for it in items for s in cast(list, it["skipped"])]}
    for name in items[0]:
        if name == "skipped":
            continue
        if name.endswith("_key") or name == "sample":
            out[name] = torch.tensor([it[name] for it in items], dtype=torch.long)
        else:
            out[name] = torch.stack([it[name] for it in items])  # type: ignore[misc]
    return out


@dataclass
class BatchOrder:
    """Endless batches of sample numbers for one process, starting at ``start_step``.

    Micro-batch m (= step·accum + j) of rank r holds samples ((m·world + r)·B + i), i < B: the
    ranks split each step's samples, and the order does not depend on how many steps ran before.
    """

    batch_size: int
    start_step: int = 0
    grad_accum: int = 1
    rank: int = 0
    world: int = 1

    def __iter__(self) -> Iterator[list[int]]:
        m = self.start_step * self.grad_accum
        while True:
            base = (m * self.world + self.rank) * self.batch_size
            yield list(range(base, base + self.batch_size))
            m += 1
