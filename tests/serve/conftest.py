"""Fixtures of the web app's tests: photos made in memory, and apps on the shipped built-in network."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="instyle serve needs fastapi: pip install 'instyle[serve]'")
pytest.importorskip("multipart", reason="instyle serve needs python-multipart")


#: The test client's base URL: a loopback name, as a browser on this machine sends (the server
#: answers only those when bound to loopback; TestClient's own default, testserver, is refused).
LOCAL = "http://127.0.0.1"


def image_bytes(w: int = 48, h: int = 32, fmt: str = "PNG", mode: str = "RGB", seed: int = 0) -> bytes:
    """A small image with structure (gradients and noise), encoded as ``fmt``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1), (xx + yy) * 127 // max(1, w + h - 2)], 2)
    arr = np.clip(base + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    if mode == "RGBA":
        img.putalpha(Image.fromarray((xx * 255 // max(1, w - 1)).astype(np.uint8)))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


@pytest.fixture(scope="module")
def fast_client():
    """A TestClient of an app on the shipped built-in network, without AdaIN (nothing slow loads)."""
    from fastapi.testclient import TestClient

    from instyle.serve import ServeConfig, create_app

    with TestClient(
        create_app(ServeConfig(workers=2, adain=False, max_size=512, default_size=256)), base_url=LOCAL
    ) as client:
        yield client
