"""Tests for instyle.video.chroma: 4:2:0 frames whose colour does not shimmer as the scene moves."""

from __future__ import annotations

import numpy as np
import pytest

av = pytest.importorskip("av")
pytest.importorskip("cv2")
from instyle.video.chroma import rgb_to_yuv420  # noqa: E402


def _photo(w=96, h=64):
    import cv2
    import skimage.data

    return cv2.resize(skimage.data.astronaut(), (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def _decoded(yuv: np.ndarray) -> np.ndarray:
    return av.VideoFrame.from_ndarray(yuv, format="yuv420p").to_ndarray(format="rgb24").astype(np.float32) / 255


def test_colours_decode_as_ffmpegs_own_conversion_does():
    """Same matrix and range as swscale's: flat colours come back within a step; a photo without
    the low-pass within 1/255 of FFmpeg's own conversion on average."""
    flat = np.zeros((16, 16, 3), np.float32) + np.array([0.9, 0.2, 0.4], np.float32)
    np.testing.assert_allclose(_decoded(rgb_to_yuv420(flat)), flat, atol=2.5 / 255)
    photo = _photo()
    ffmpeg = av.VideoFrame.from_ndarray(np.round(photo * 255).astype(np.uint8), format="rgb24")
    ffmpeg = ffmpeg.reformat(format="yuv420p").to_ndarray(format="rgb24").astype(np.float32) / 255
    assert np.abs(_decoded(rgb_to_yuv420(photo, sigma=0)) - ffmpeg).mean() < 1 / 255
    assert rgb_to_yuv420(photo).shape == (96, 96) and rgb_to_yuv420(photo).dtype == np.uint8


def test_a_picture_moved_by_one_pixel_keeps_its_colours():
    """The point of the low-pass: fine colour texture moved by an odd number of pixels decodes to
    nearly the same colours, where FFmpeg's conversion aliases."""
    photo = _photo()

    def shimmer(convert) -> float:
        a, b = _decoded(convert(photo)), _decoded(convert(np.roll(photo, 1, axis=1)))
        return float(np.abs(np.roll(a, 1, axis=1) - b)[:, 4:-4].mean())

    def ffmpeg(rgb):
        frame = av.VideoFrame.from_ndarray(np.round(rgb * 255).astype(np.uint8), format="rgb24")
        return frame.reformat(format="yuv420p").to_ndarray()

    assert shimmer(rgb_to_yuv420) < 0.7 * shimmer(ffmpeg)


def test_odd_sides_are_refused():
    with pytest.raises(ValueError, match="even sides"):
        rgb_to_yuv420(np.zeros((5, 8, 3), np.float32))
