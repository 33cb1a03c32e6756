"""The web API through the same corpus of odd inputs as the commands: every corpus file is uploaded
to ``POST /api/stylize`` (as the photo, and as a style image), and every answer must be 200 with a
decodable image of the right size, or a documented refusal (400, 413, 415, 422) as one line of JSON,
never a 500. A few odd field values go through it too.

Entries that are not bytes (a folder, a FIFO, a symlink loop, a missing file) cannot be uploaded;
the API never opens a path a request names, so they have no counterpart here.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from .corpus import build_corpus

LOCAL = "http://127.0.0.1"  # a loopback Host (tests/serve/conftest.py)

pytest.importorskip("fastapi", reason="instyle serve needs fastapi: pip install 'instyle[serve]'")
pytest.importorskip("multipart", reason="instyle serve needs python-multipart")

UPLOADS = [e for e in build_corpus() if e.bytes_only]
REFUSALS = {400, 413, 415, 422}


@pytest.fixture(scope="module")
def client():
    from fastapi.testclient import TestClient

    from instyle.serve import ServeConfig, create_app

    # small style size: AdaIN on every corpus file as a style stays quick
    with TestClient(create_app(ServeConfig(workers=2, style_size=32)), base_url=LOCAL) as c:
        yield c


def check(r, entry, size=None) -> None:
    assert r.status_code != 500, r.text
    if r.status_code == 200:
        assert entry.readable, f"{entry.id} should have been refused"
        img = Image.open(io.BytesIO(r.content))
        img.load()
        assert img.size == (size or entry.size)
        return
    assert r.status_code in REFUSALS, r.text
    error = r.json()["error"]
    assert error["status"] == r.status_code and error["message"] and "\n" not in error["message"]
    assert "Traceback" not in error["message"]
    assert not entry.readable, f"{entry.id} should have been stylized: {error['message']}"


@pytest.mark.parametrize("entry", UPLOADS, ids=[e.id for e in UPLOADS])
def test_photo(client, entry):
    r = client.post("/api/stylize", files={"image": (entry.name, entry.data)}, data={"style": "candy"})
    check(r, entry)
    if entry.id.startswith("bomb"):
        assert r.status_code == 413
    if entry.frames > 1:
        assert "first" in r.headers["x-note"]


@pytest.mark.slow  # AdaIN (VGG-19) once per entry
@pytest.mark.parametrize("entry", UPLOADS, ids=[e.id for e in UPLOADS])
def test_style_image(client, entry):
    photo = next(e for e in UPLOADS if e.id == "size-5x4")
    files = {"image": (photo.name, photo.data), "style_image": (entry.name, entry.data)}
    check(client.post("/api/stylize", files=files), entry, size=photo.size)


@pytest.mark.parametrize(
    "field,value",
    [
        (f, v)
        for f in ("alpha", "size", "quality", "style_image_weight")
        for v in ("nan", "inf", "-0", "1e308", "-1", "9" * 30, "", " ün ✓ ")
    ]
    + [("style", v) for v in ("", " ün ✓ ", "candy:inf", "candy:1e308", ":", "candy:", "/dev/zero", "C:\\x")]
    + [("image_id", v) for v in ("", "0" * 63, "Z" * 64, "../" * 21 + "x")],
)
def test_odd_values(client, field, value):
    photo = next(e for e in UPLOADS if e.id == "size-5x4")
    data = {"style": "candy", field: value} if field != "style" else {"style": value}
    files = {} if field == "image_id" and value else {"image": (photo.name, photo.data)}
    r = client.post("/api/stylize", files=files or None, data=data)
    assert r.status_code in {200} | REFUSALS | {503}, r.text
    if r.status_code != 200:
        assert "\n" not in r.json()["error"]["message"]
