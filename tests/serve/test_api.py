"""The HTTP API through FastAPI's test client: answers, limits, refusals (always JSON, never a 500),
caching by content hash, and the page's files."""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from instyle.serve import ServeConfig, create_app

from .conftest import LOCAL, decode, image_bytes

DOCUMENTED = {400, 413, 415, 422, 429, 503}


def post(client, files=None, **data):
    files = {k: (k, v) for k, v in (files or {}).items()}
    return client.post("/api/stylize", files=files or None, data=data)


def assert_error(r, status, code=None):
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["status"] == status and body["message"] and "\n" not in body["message"]
    if code:
        assert body["code"] == code


# --------------------------------------------------------------------------- the basics


def test_health_and_styles(fast_client):
    from instyle.shipped import builtin_styles

    h = fast_client.get("/api/health").json()
    assert h["status"] == "ok" and h["adain"] == "off" and h["work"]["workers"] == 2
    s = fast_client.get("/api/styles").json()
    assert [x["name"] for x in s["styles"]] == list(builtin_styles())
    assert all(x["fast"] for x in s["styles"]) and s["adain"] is False
    assert s["limits"]["max_size"] == 512 and s["sizes"] == [256, 384, 512]
    assert s["formats"] == ["png", "jpeg", "webp"]


def test_thumbnail(fast_client):
    r = fast_client.get("/api/styles/candy/thumbnail.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert decode(r.content).size == (128, 128)
    assert fast_client.get("/api/styles/candy/thumbnail.png").content == r.content  # rendered once
    assert_error(fast_client.get("/api/styles/nope/thumbnail.png"), 404, "not_found")


def test_stylize_builtin_style_matches_the_library(fast_client):
    from instyle import FastStylizer
    from instyle.imageio import read_array

    photo = image_bytes(60, 40)
    r = post(fast_client, {"image": photo}, style=["candy:0.7", "wave:0.3"], size="48")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["x-image-id"] == hashlib.sha256(photo).hexdigest()
    assert r.headers["x-method"] == "fast" and r.headers["x-size"] == "48x32"
    got = np.asarray(decode(r.content), dtype=np.float32) / 255
    # computed at 4 x 48 by the network whose brush fits (the brush of a 1024-px picture, at most
    # 4x the output: FastStylizer.brush)
    net, side = FastStylizer().brush(48)
    assert side == 192
    big = net(read_array(photo, size=192).to_tensors().rgb, ["candy", "wave"], weights=[0.7, 0.3])
    assert np.abs(got - decode_resized(big[0].permute(1, 2, 0).numpy(), (48, 32))).max() <= 1.5 / 255


def test_stroke_sets_the_brush_and_keeps_the_size(fast_client):
    from instyle import FastStylizer
    from instyle.imageio import read_array
    from instyle.sizes import stroke_side

    photo = image_bytes(64, 48, seed=5)
    r = post(fast_client, {"image": photo}, style="candy", size="64", stroke="8")
    assert r.status_code == 200 and r.headers["x-size"] == "64x48"
    got = np.asarray(decode(r.content), dtype=np.float32) / 255
    assert got.shape == (48, 64, 3)
    # the network whose brush fits ran at its reference side / 8 (stroke 1: at 4 x 64, the most
    # for a 64-px output), the result resampled down
    main = FastStylizer()
    net, side = main.brush(64, 8)
    assert side == stroke_side(64, 8, net.stroke_reference) < 4 * 64
    big = net(read_array(photo, size=side).to_tensors().rgb, "candy")[0].permute(1, 2, 0).numpy()
    down = decode_resized(big, (64, 48))
    assert np.abs(got - down).max() <= 1.5 / 255
    plain = np.asarray(decode(post(fast_client, image_id=r.headers["x-image-id"], style="candy", size="64").content))
    assert np.abs(plain / 255 - got).mean() > 0.01
    s = fast_client.get("/api/styles").json()["stroke"]
    assert s == {"default": 1.0, "min": 0.125, "max": 8.0, "reference": {"fast": main.stroke_reference, "adain": 1024}}
    for bad in ("0", "9", "x", "nan"):
        assert_error(post(fast_client, image_id=r.headers["x-image-id"], style="candy", stroke=bad), 422)


def test_a_tiny_photo_computes_within_the_upscaling_budget():
    from fastapi.testclient import TestClient

    from instyle import FastStylizer
    from instyle.imageio import read_array
    from instyle.serve import ServeConfig, create_app

    # 8x6 px asking for 512 with a fine brush: the brush rule would compute at twice the network's
    # reference side, the budget (4x the photo, at least 512 px) keeps the work at 512, so the result
    # is the output at 512 of the network the brush rule chose
    photo = image_bytes(8, 6, seed=3)
    with TestClient(create_app(ServeConfig(workers=1, adain=False, max_size=2048)), base_url=LOCAL) as client:
        r = post(client, {"image": photo}, style="candy", size="512", stroke="0.5")
    assert r.status_code == 200 and r.headers["x-size"] == "512x384"
    got = np.asarray(decode(r.content), dtype=np.float32) / 255
    net, _ = FastStylizer().brush(512, 0.5)
    want = net(read_array(photo, size=512).to_tensors().rgb, "candy")[0].permute(1, 2, 0).numpy()
    assert np.abs(got - want).max() <= 1.5 / 255


def decode_resized(rgb: np.ndarray, wh: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) float -> (H, W, 3) float at ``wh``, resampled as the server writes it (8 bits, Lanczos)."""
    from PIL import Image

    im = Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)).resize(wh, Image.Resampling.LANCZOS)
    return np.asarray(im, dtype=np.float32) / 255


def test_the_photo_is_sent_once(fast_client):
    photo = image_bytes(40, 30, seed=3)
    first = post(fast_client, {"image": photo}, style="mosaic")
    again = post(fast_client, image_id=first.headers["x-image-id"], style="mosaic")
    assert again.status_code == 200 and again.content == first.content
    other = post(fast_client, image_id=first.headers["x-image-id"], style="mosaic", size="20")
    assert decode(other.content).size == (20, 15)
    assert_error(post(fast_client, image_id="0" * 64, style="mosaic"), 422, "unknown_image")


def test_default_size_is_the_photos_up_to_the_default(fast_client):
    assert decode(post(fast_client, {"image": image_bytes(40, 30)}, style="candy").content).size == (40, 30)
    big = post(fast_client, {"image": image_bytes(600, 300)}, style="candy")
    assert decode(big.content).size == (256, 128)  # default_size of the fixture


@pytest.mark.parametrize("fmt,mime,pil", [("jpeg", "image/jpeg", "JPEG"), ("webp", "image/webp", "WEBP")])
def test_formats(fast_client, fmt, mime, pil):
    r = post(fast_client, {"image": image_bytes()}, style="wave", format=fmt, quality="70")
    assert r.headers["content-type"] == mime and decode(r.content).format == pil


def test_transparency_is_kept_in_png(fast_client):
    r = post(fast_client, {"image": image_bytes(32, 24, mode="RGBA")}, style="wave")
    out = decode(r.content)
    assert out.mode == "RGBA" and np.asarray(out)[..., 3].min() < 50


def test_keep_colours(fast_client):
    plain = post(fast_client, {"image": image_bytes()}, style="candy")
    kept = post(fast_client, {"image": image_bytes()}, style="candy", color="luminance")
    assert kept.status_code == 200 and kept.content != plain.content


def test_page_is_self_contained(fast_client):
    page = fast_client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    files = (("app.js", "javascript"), ("local.js", "javascript"), ("app.css", "css"), ("favicon.svg", "svg"))
    for name, mime in files:
        r = fast_client.get(f"/static/{name}")
        assert r.status_code == 200 and mime in r.headers["content-type"]
        # no CDN, nothing from elsewhere: works offline (modules are imported from this server only)
        assert not re.search(r"(src|href)=\"(https?:)?//", r.text)
        assert not re.search(r"(import\(|from)\s*[\"'](https?:)?//", r.text)
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)
    for bad in ("index.html", "..%2Fapp.py", "%2e%2e/%2e%2e/pyproject.toml", "app.py"):
        assert fast_client.get(f"/static/{bad}").status_code == 404


def test_openapi(fast_client):
    spec = fast_client.get("/openapi.json").json()
    body = spec["paths"]["/api/stylize"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body
    for code in ("400", "413", "415", "422", "429", "503"):
        assert code in spec["paths"]["/api/stylize"]["post"]["responses"]
    assert fast_client.get("/docs").status_code == 200


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "data,status,code",
    [
        ({"style": "nope"}, 422, "invalid"),
        ({"style": "../../etc/passwd"}, 422, "invalid"),
        ({"style": "/etc/hostname"}, 422, "invalid"),
        ({"style": "candy:nan"}, 422, "invalid"),
        ({"style": "candy:-1"}, 422, "invalid"),
        ({"style": ["candy:0", "wave:0"]}, 422, "invalid"),
        ({"style": ["candy"] * 9}, 422, "invalid"),
        ({}, 422, "invalid"),
        ({"style": "candy", "alpha": "nan"}, 422, "invalid"),
        ({"style": "candy", "alpha": "1.5"}, 422, "invalid"),
        ({"style": "candy", "size": "8"}, 422, "invalid"),
        ({"style": "candy", "size": "99999"}, 422, "invalid"),
        ({"style": "candy", "size": "1e3"}, 422, "invalid"),
        ({"style": "candy", "color": "sepia"}, 422, "invalid"),
        ({"style": "candy", "format": "gif"}, 422, "invalid"),
        ({"style": "candy", "quality": "0"}, 422, "invalid"),
        ({"style": "candy", "style_image_weight": "0.5"}, 422, "invalid"),
        ({"style": "candy", "image_id": "../../x"}, 422, "invalid"),
        ({"style": "candy", "alpha": "0.5"}, 503, "unavailable"),  # AdaIN is off here
    ],
)
def test_bad_fields(fast_client, data, status, code):
    assert_error(post(fast_client, {"image": image_bytes()}, **data), status, code)


def test_bad_images(fast_client):
    png = image_bytes()
    assert_error(post(fast_client, {"image": b""}, style="candy"), 400, "bad_image")
    assert_error(post(fast_client, {"image": png[: len(png) // 2]}, style="candy"), 400, "bad_image")
    assert_error(post(fast_client, {"image": b"GIF89a" + b"\0" * 40}, style="candy"), 400, "bad_image")
    assert_error(post(fast_client, {"image": "a shopping list ✓".encode()}, style="candy"), 415, "unsupported_type")
    assert_error(post(fast_client, {"image": b"%PDF-1.4 ..."}, style="candy"), 415)
    ico = io.BytesIO()
    decode(png).save(ico, "ICO")  # Pillow reads it, the server does not take it
    assert_error(post(fast_client, {"image": ico.getvalue()}, style="candy"), 415)
    assert_error(post(fast_client, None, style="candy"), 422)
    first = post(fast_client, {"image": png}, style="candy")
    assert_error(post(fast_client, {"image": png}, style="candy", image_id=first.headers["x-image-id"]), 422)


def test_a_png_named_jpg_is_a_png(fast_client):
    r = fast_client.post(
        "/api/stylize", files={"image": ("photo.jpg", image_bytes(), "image/jpeg")}, data={"style": "wave"}
    )
    assert r.status_code == 200


def test_limits():
    config = ServeConfig(workers=1, adain=False, max_upload_bytes=20_000, max_pixels=10_000)
    with TestClient(create_app(config), base_url=LOCAL) as client:
        assert_error(post(client, {"image": image_bytes(120, 90)}, style="candy"), 413, "too_large")  # pixels
        noise = image_bytes(110, 90, seed=1)  # under the pixel limit, random noise: large file
        noise = noise + b"\0" * (25_000 - len(noise))
        assert_error(post(client, {"image": noise}, style="candy"), 413, "too_large")  # bytes
        body = b"x" * (config.max_request_bytes + 10)
        r = client.post("/api/stylize", content=body, headers={"content-type": "multipart/form-data; boundary=b"})
        assert_error(r, 413, "too_large")  # from Content-Length, before reading
        from tests.fuzz.corpus import build_corpus

        bomb = next(e for e in build_corpus() if e.id == "bomb-png")
        assert_error(post(client, {"image": bomb.data}, style="candy"), 413)
        assert post(client, {"image": image_bytes(50, 40)}, style="candy").status_code == 200
        assert client.get("/api/health").json()["work"]["in_progress"] == 0


def test_a_flat_picture_declaring_many_pixels_in_few_bytes_is_refused_before_decoding(fast_client, monkeypatch):
    from PIL import Image

    from instyle.serve import engine, limits

    def png(w, h, color=(200, 30, 30)) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (w, h), color).save(buf, "PNG", optimize=True)
        return buf.getvalue()

    from instyle.imageio import read_array

    decoded = []

    def spy(*args, **kw):
        decoded.append(kw)
        return read_array(*args, **kw)

    monkeypatch.setattr(engine, "read_array", spy)

    flat = png(6000, 4000)  # ~80 KB for 24 MP: a decompression bomb within --max-megapixels
    assert len(flat) * limits.PIXELS_PER_BYTE < 24_000_000
    r = post(fast_client, {"image": flat}, style="candy")
    assert_error(r, 413, "too_large")
    assert (
        "6000x4000 pixels in" in r.json()["error"]["message"] and "decompression bomb" in r.json()["error"]["message"]
    )
    assert decoded and all(kw["max_pixels"] < 24_000_000 for kw in decoded)  # refused from the header
    # under the floor, a flat picture is fine (cheap to decode), and so is a dense one over it
    assert post(fast_client, {"image": png(1600, 1200)}, style="candy", size="64").status_code == 200
    r = post(fast_client, {"image": png(9000, 9000)}, style="candy")  # over the server's own limit: that message
    assert_error(r, 413, "too_large")
    assert "decompression bomb" not in r.json()["error"]["message"]


# --------------------------------------------------------------------------- load: 429 and 503


class _Gate:
    """Holds every stylize job until released (a slow model, on demand)."""

    def __init__(self, engine):
        self.engine, self.release, self.entered = engine, threading.Event(), threading.Semaphore(0)
        self.real = engine.stylize
        engine.stylize = self.run

    def run(self, job):
        self.entered.release()
        self.release.wait(30)
        return self.real(job)


def test_busy_is_429_and_health_still_answers():
    with TestClient(create_app(ServeConfig(workers=1, queue=1, adain=False)), base_url=LOCAL) as client:
        gate = _Gate(client.app.state.engine)
        results = []
        threads = [
            threading.Thread(target=lambda: results.append(post(client, {"image": image_bytes()}, style="candy")))
            for _ in range(2)
        ]
        for t in threads:
            t.start()
        assert gate.entered.acquire(timeout=30)  # one runs, one waits: both slots taken
        deadline = time.monotonic() + 30
        while client.get("/api/health").json()["work"]["in_progress"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        r = post(client, {"image": image_bytes()}, style="candy")
        assert_error(r, 429, "busy")
        assert r.headers["retry-after"] == "1"
        health = client.get("/api/health").json()
        assert health["status"] == "ok" and health["work"]["refused"] == 1
        gate.release.set()
        for t in threads:
            t.join(30)
        assert [x.status_code for x in results] == [200, 200]
        assert client.get("/api/health").json()["work"]["in_progress"] == 0


def test_time_out_is_503_and_the_slot_returns_when_the_job_ends():
    with TestClient(create_app(ServeConfig(workers=1, queue=0, timeout=0.5, adain=False)), base_url=LOCAL) as client:
        gate = _Gate(client.app.state.engine)
        assert_error(post(client, {"image": image_bytes()}, style="candy"), 503, "timeout")
        # the job still runs: its slot is taken until it ends
        assert client.get("/api/health").json()["work"]["in_progress"] == 1
        assert_error(post(client, {"image": image_bytes()}, style="candy"), 429)
        gate.release.set()
        deadline = time.monotonic() + 30
        while client.get("/api/health").json()["work"]["in_progress"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.get("/api/health").json()["work"]["timed_out"] == 1
        gate.engine.stylize = gate.real
        assert post(client, {"image": image_bytes()}, style="candy").status_code == 200


def test_uploads_leave_no_files(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with TestClient(create_app(ServeConfig(workers=1, adain=False, max_size=64)), base_url=LOCAL) as client:
        big = image_bytes(1200, 900, seed=5)  # over Starlette's 1 MiB in-memory spool: a temporary file
        assert len(big) > 2**20
        assert post(client, {"image": big}, style="candy").status_code == 200
        assert post(client, {"image": b"not an image" * 200_000}, style="candy").status_code == 415
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- live mode


def frame_bytes(w=64, h=48, seed=0) -> bytes:
    return image_bytes(w, h, fmt="JPEG", seed=seed)


def test_live_frames(fast_client):
    with fast_client.websocket_connect(LOCAL.replace("http", "ws") + "/api/live") as ws:
        ws.send_text(json.dumps({"style": ["candy:0.5", "wave"], "stabilize": "stats"}))
        settings = json.loads(ws.receive_text())["settings"]
        assert settings["style"] == ["candy", "wave"] and settings["weights"] == [0.5, 0.5]
        outs = []
        for i in range(3):
            ws.send_bytes(frame_bytes(seed=i))
            outs.append(decode(ws.receive_bytes()))
        assert all(o.format == "JPEG" and o.size == (64, 48) for o in outs)
        ws.send_text(json.dumps({"style": ["nope"]}))
        assert "nope" in json.loads(ws.receive_text())["error"]
        ws.send_text(json.dumps({"color": "match"}))  # not a fast network's mode
        assert "error" in json.loads(ws.receive_text())
        ws.send_text("{not json")
        assert "error" in json.loads(ws.receive_text())
        ws.send_bytes(b"garbage")
        msg = json.loads(ws.receive_text())
        assert msg["dropped"] == 1 and "not an image" in msg["error"]
        ws.send_bytes(frame_bytes())  # still alive after all that
        assert decode(ws.receive_bytes()).size == (64, 48)


def test_live_connections_are_bounded():
    from starlette.websockets import WebSocketDisconnect

    with TestClient(create_app(ServeConfig(workers=1, adain=False, live_connections=0)), base_url=LOCAL) as client:
        with pytest.raises(WebSocketDisconnect) as info:
            with client.websocket_connect(LOCAL.replace("http", "ws") + "/api/live") as ws:
                ws.receive_text()
        assert info.value.code == 1013


# --------------------------------------------------------------------------- AdaIN


@pytest.fixture(scope="module")
def adain_client():
    with TestClient(
        create_app(ServeConfig(workers=2, max_size=256, default_size=64, style_size=64)), base_url=LOCAL
    ) as client:
        yield client


@pytest.mark.slow
def test_adain_controls(adain_client):
    photo, style = image_bytes(48, 32), image_bytes(40, 40, seed=9)
    styles = adain_client.get("/api/styles").json()["styles"]
    assert any(not s["fast"] and s["preset"] for s in styles)  # presets the network does not have
    fast = next(s["name"] for s in styles if s["method"] == "fast")  # the network, as people preferred
    full = post(adain_client, {"image": photo}, style=fast)
    soft = post(adain_client, {"image": photo}, style=fast, alpha="0.5")
    assert full.headers["x-method"] == "fast" and soft.headers["x-method"] == "adain"
    assert soft.status_code == 200 and soft.content != full.content
    up = post(adain_client, {"image": photo, "style_image": style}, style="wave", style_image_weight="0.7")
    assert up.status_code == 200 and up.headers["x-style-image-id"] == hashlib.sha256(style).hexdigest()
    again = post(adain_client, image_id=up.headers["x-image-id"], style_image_id=up.headers["x-style-image-id"])
    assert again.status_code == 200 and again.content != up.content  # the image alone, not the blend
    match = post(adain_client, {"image": photo, "style_image": style}, color="match")
    assert match.status_code == 200
    assert_error(post(adain_client, {"image": photo}, style=fast, color="match"), 422)
    preset_only = next(s["name"] for s in styles if not s["fast"])
    assert post(adain_client, {"image": photo}, style=preset_only).headers["x-method"] == "adain"
    assert adain_client.get(f"/api/styles/{preset_only}/thumbnail.png").status_code == 200
    assert_error(post(adain_client, {"image": photo, "style_image": b"plain text"}), 415)


@pytest.mark.slow
def test_a_style_image_alone_comes_back_in_its_palette(adain_client):
    from PIL import Image

    photo, style = image_bytes(48, 32), image_bytes(40, 40, seed=9)
    read = lambda r: np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"), np.float32) / 255  # noqa: E731
    auto = post(adain_client, {"image": photo, "style_image": style})
    none = post(adain_client, {"image": photo, "style_image": style}, color="none")
    assert auto.status_code == none.status_code == 200 and auto.content != none.content
    painting = np.asarray(Image.open(io.BytesIO(style)).convert("RGB"), np.float32) / 255
    # the painting's colours, closer: the gap between the brightness quantiles of result and painting
    q = np.linspace(0, 1, 21)
    gap = lambda img: np.abs(np.quantile(img.mean(-1), q) - np.quantile(painting.mean(-1), q)).mean()  # noqa: E731
    assert gap(read(auto)) < 0.5 * gap(read(none)), (gap(read(auto)), gap(read(none)))
    # a blend with a built-in style keeps the network's colours (no single palette), unless asked
    blend = post(adain_client, {"image": photo, "style_image": style}, style="wave", style_image_weight="0.7")
    plain = post(
        adain_client, {"image": photo, "style_image": style}, style="wave", style_image_weight="0.7", color="none"
    )
    assert blend.content == plain.content
    assert_error(post(adain_client, {"image": photo, "style_image": style}, style="wave", color="palette"), 422)


@pytest.mark.slow
def test_styles_people_preferred_as_adain_run_adain_where_the_server_has_it(adain_client, fast_client, tmp_path):
    from instyle import shipped

    defaults = tmp_path / shipped.STYLE_DEFAULTS
    defaults.write_text('{"methods": {"candy": "adain", "wave": "fast"}}')
    with shipped.use_assets({shipped.STYLE_DEFAULTS: defaults}):
        _preferred_styles_run_adain(adain_client, fast_client)


def _preferred_styles_run_adain(adain_client, fast_client):
    photo = image_bytes(48, 32, seed=4)
    assert post(adain_client, {"image": photo}, style="candy").headers["x-method"] == "adain"
    assert post(adain_client, {"image": photo}, style="wave").headers["x-method"] == "fast"
    listed = {s["name"]: s["method"] for s in adain_client.get("/api/styles").json()["styles"]}
    assert listed["candy"] == "adain" and listed["wave"] == "fast"
    # a server without AdaIN runs the network for it, and says so to the page
    assert post(fast_client, {"image": photo}, style="candy").headers["x-method"] == "fast"
    assert {s["name"]: s["method"] for s in fast_client.get("/api/styles").json()["styles"]}["candy"] == "fast"


def test_onnxruntime_backend_agrees_with_torch(fast_client):
    photo = image_bytes(40, 30, seed=7)
    torch_png = post(fast_client, {"image": photo}, style=["candy:0.5", "wave"]).content
    with TestClient(create_app(ServeConfig(workers=1, adain=False, backend="onnxruntime")), base_url=LOCAL) as client:
        onnx_png = post(client, {"image": photo}, style=["candy:0.5", "wave"]).content
    a, b = (np.asarray(decode(x), dtype=np.int16) for x in (torch_png, onnx_png))
    assert a.shape == b.shape and np.abs(a - b).max() <= 2
