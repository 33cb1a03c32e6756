"""Tests for instyle.data: crops, the deterministic (resumable) data order, skipping bad files.

Images are 100x80 PNGs resized to a 48 px shorter side and cropped to 32 px.
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from helpers import write_images
from instyle.data import BatchOrder, CropSpec, ImageFolder, TrainingData, collate
from instyle.errors import InstyleError, UsageError

pytestmark = pytest.mark.usefixtures("one_thread")

SPEC = CropSpec(image_size=48, crop=32)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_images(root / "content", 5, seed=1)
    write_images(root / "style", 3, size=(80, 100), seed=2)  # portrait
    return root


def _data(folders, *, seed=0, crops_per_image=None):
    streams = {
        "content": ImageFolder(folders / "content", SPEC, name="content"),
        "style": ImageFolder(folders / "style", SPEC, name="style"),
    }
    return TrainingData(streams, seed=seed, crops_per_image=crops_per_image)


def _keys(data, stream, n):
    return [data.key(stream, k) for k in range(n)]


# --------------------------------------------------------------------------- CropSpec


@pytest.mark.parametrize("image_size, crop", [(48, 8), (48, 15), (32, 48), (0, 16)])
def test_crop_spec_rejects_bad_sizes(image_size, crop):
    with pytest.raises(ValueError, match="crop|image size"):
        CropSpec(image_size=image_size, crop=crop)


def test_crop_spec_accepts_equal_sizes():
    assert CropSpec(16, 16).crop == 16


# --------------------------------------------------------------------------- ImageFolder and crops


def test_load_resizes_the_shorter_side(folders):
    folder = ImageFolder(folders / "content", SPEC)
    img = folder.load(0)
    assert img.shape == (3, 48, 60)  # 100x80 -> shorter side 48
    assert ImageFolder(folders / "style", SPEC).load(0).shape == (3, 60, 48)


def test_crops_have_the_right_shape_and_range(folders):
    data = _data(folders)
    for k in range(7):
        item = data[k]
        for name in ("content", "style"):
            crop = item[name]
            assert crop.shape == (3, 32, 32) and crop.dtype == torch.float32
            assert crop.min() >= 0.0 and crop.max() <= 1.0 and crop.std() > 0
            image, crop_id = item[name + "_key"]
            assert (image, crop_id) == data.key(name, k)
        assert item["skipped"] == []


def test_same_seed_same_crop_other_seed_other_crop(folders):
    folder = ImageFolder(folders / "content", SPEC)
    a, used, skipped = folder.crop(2, seed=7)
    b, _, _ = folder.crop(2, seed=7)
    c, _, _ = folder.crop(2, seed=8)
    assert used == 2 and skipped == []
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_collate_stacks_crops_and_keys(folders):
    data = _data(folders)
    batch = collate([data[k] for k in range(3)])
    assert batch["content"].shape == (3, 3, 32, 32) and batch["style"].shape == (3, 3, 32, 32)
    assert batch["content_key"].dtype == torch.long and batch["content_key"].shape == (3, 2)
    assert batch["content_key"].tolist() == [list(data.key("content", k)) for k in range(3)]
    assert batch["skipped"] == []


# --------------------------------------------------------------------------- the data order


def test_order_is_deterministic_for_a_seed_and_differs_for_another(folders):
    a, b, c = _data(folders, seed=0), _data(folders, seed=0), _data(folders, seed=1)
    assert _keys(a, "content", 30) == _keys(b, "content", 30)
    assert _keys(a, "content", 30) != _keys(c, "content", 30)
    # the same sample, drawn twice (e.g. in a fresh process after a resume), is the same crop
    assert torch.equal(a[11]["content"], b[11]["content"]) and torch.equal(a[11]["style"], b[11]["style"])
    assert not torch.equal(a[11]["content"], c[11]["content"])


def test_each_epoch_is_a_permutation_and_epochs_differ(folders):
    data = _data(folders)
    n = len(data.streams["content"])
    epochs = [[data.key("content", e * n + i)[0] for i in range(n)] for e in range(4)]
    for e, images in enumerate(epochs):
        assert sorted(images) == list(range(n))  # every image once per epoch
        assert {data.key("content", e * n + i)[1] for i in range(n)} == {e}  # crop id = epoch
    assert len({tuple(images) for images in epochs}) > 1  # reshuffled between epochs
    assert len(data) == 5


def test_crops_per_image_cycles_crop_ids(folders):
    data = _data(folders, crops_per_image=2)
    n = len(data.streams["style"])  # 3
    ids = [data.key("style", k)[1] for k in range(6 * n)]
    assert ids == [(k // n) % 2 for k in range(6 * n)]
    # so (image, crop id) pairs repeat, and a repeated pair is exactly the same crop (cacheable)
    counts = Counter(data.key("style", k) for k in range(6 * n))
    assert set(counts.values()) == {3} and len(counts) == 2 * n
    first = {}
    for k in range(6 * n):
        key = data.key("style", k)
        if key in first:
            assert torch.equal(data[k]["style"], data[first[key]]["style"])
        else:
            first[key] = k
    # without crops_per_image every epoch draws a fresh crop id
    assert [_data(folders).key("style", k)[1] for k in range(2 * n)] == [0] * n + [1] * n


def test_training_data_rejects_bad_crops_per_image(folders):
    with pytest.raises(UsageError, match="crops per image"):
        _data(folders, crops_per_image=0)


# --------------------------------------------------------------------------- BatchOrder


def _take(order, n):
    it = iter(order)
    return [next(it) for _ in range(n)]


def test_batch_order_single_process():
    assert _take(BatchOrder(3), 3) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


@pytest.mark.parametrize("world, accum", [(2, 1), (3, 2)])
def test_ranks_split_samples_without_overlap(world, accum):
    steps, b = 5, 2
    per_rank = [_take(BatchOrder(b, 0, accum, rank, world), steps * accum) for rank in range(world)]
    drawn = [s for batches in per_rank for batch in batches for s in batch]
    assert len(drawn) == len(set(drawn))  # no sample on two ranks (or twice on one)
    assert sorted(drawn) == list(range(steps * accum * world * b))  # and none left out
    for batches in per_rank:
        assert all(len(batch) == b for batch in batches)


@pytest.mark.parametrize("world, accum", [(1, 1), (2, 1), (2, 3)])
def test_resuming_at_a_step_replays_the_uninterrupted_batches(world, accum):
    for rank in range(world):
        straight = _take(BatchOrder(2, 0, accum, rank, world), 8 * accum)
        for s in (1, 3, 6):
            resumed = _take(BatchOrder(2, s, accum, rank, world), (8 - s) * accum)
            assert resumed == straight[s * accum :]


# --------------------------------------------------------------------------- unreadable files


@pytest.fixture
def with_bad_file(tmp_path):
    folder = tmp_path / "content"
    write_images(folder, 3, seed=3)
    (folder / "bad.jpg").write_bytes(b"\x00garbage, not a JPEG\xff" * 20)  # sorted last: index 3
    return folder


def test_unreadable_file_is_skipped_and_reported(with_bad_file):
    folder = ImageFolder(with_bad_file, SPEC, name="content")
    assert len(folder) == 4 and folder.files[3].name == "bad.jpg"
    crop, used, skipped = folder.crop(3, seed=0)
    assert used == 0 and crop.shape == (3, 32, 32)  # the next readable image, wrapping around
    assert len(skipped) == 1 and "bad.jpg" in skipped[0]

    data = TrainingData({"content": folder}, seed=0)
    ks = [k for k in range(8) if data.key("content", k)[0] == 3]
    assert ks, "the bad image is drawn once per epoch"
    item = data[ks[0]]
    assert item["content"].shape == (3, 32, 32)
    assert item["content_key"] == (0, data.key("content", ks[0])[1])  # the substitute's key
    assert len(item["skipped"]) == 1 and "bad.jpg" in item["skipped"][0]
    # the substitute gets its own crop for that crop id, as if it had been drawn itself
    same_image = [k for k in range(8) if data.key("content", k) == item["content_key"]]
    if same_image:
        assert torch.equal(data[same_image[0]]["content"], item["content"])
    batch = collate([data[k] for k in range(8)])
    assert len(batch["skipped"]) == len(ks) and batch["content"].shape == (8, 3, 32, 32)


def test_folder_of_unreadable_images_raises(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    for name in ("a.jpg", "b.png"):
        (folder / name).write_bytes(b"not an image at all" * 10)
    imgs = ImageFolder(folder, SPEC, name="style")
    with pytest.raises(InstyleError, match="none of the 2 style images") as exc:
        imgs.crop(0, seed=0)
    assert "\n" not in str(exc.value)
    with pytest.raises(InstyleError, match="can be read"):
        TrainingData({"style": imgs})[0]


def test_folder_errors(tmp_path):
    with pytest.raises(InstyleError, match="does not exist"):
        ImageFolder(tmp_path / "missing", SPEC)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(InstyleError, match="no images"):
        ImageFolder(tmp_path / "empty", SPEC)
