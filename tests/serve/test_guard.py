"""The server under abuse (issue 31): uploads read before admission under a rate floor, live frames
and requests taking turns, work dropped when its client leaves, Host and Origin checks, security
headers, and live mode's idle timeout and parse errors. The whole-server figures (20 slow clients,
4 cameras) are measured by benchmarks/serve_abuse.py on a real server."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from fastapi.testclient import TestClient

from instyle.serve import ServeConfig, create_app
from instyle.serve.work import LIVE, REQUEST, Gone, WorkPool

from .conftest import LOCAL, image_bytes

WS = LOCAL.replace("http", "ws") + "/api/live"


# --------------------------------------------------------------------------- the pool


def test_live_frames_and_requests_take_turns():
    pool = WorkPool(workers=1, queue=4, timeout=10)
    gate, order = threading.Event(), []
    try:
        pool.submit(gate.wait)  # the one worker is busy
        time.sleep(0.05)
        futures = [pool.submit(order.append, f"live{i}", priority=LIVE) for i in range(6)]
        futures.append(pool.submit(order.append, "request", priority=REQUEST))
        gate.set()
        for f in futures:
            f.result(timeout=5)
    finally:
        pool.close()
    # before: every live frame first, the request last (4 cameras kept a photo waiting 24 s)
    assert order.index("request") <= 1, order


def test_a_job_whose_client_left_is_dropped():
    pool = WorkPool(workers=1, queue=4, timeout=10)
    gate, ran = threading.Event(), []
    try:
        pool.submit(gate.wait)

        async def request():
            ticket = pool.admit("10.0.0.1")
            task = asyncio.ensure_future(pool.run(ticket, ran.append, "work"))
            await asyncio.sleep(0.05)
            assert pool.status()["waiting"] == 1
            ticket.cancel()  # the client closed its connection
            with pytest.raises(Gone):
                await task
            assert pool.status()["waiting"] == 0  # cancelled jobs are not counted as waiting
            ticket.release()

        asyncio.run(request())
        gate.set()
        time.sleep(0.1)
    finally:
        pool.close()
    assert ran == [] and pool.counts["cancelled"] == 1


def test_one_client_cannot_take_every_slot():
    pool = WorkPool(workers=1, queue=8, timeout=10, per_client=2)
    try:
        a, b = pool.admit("10.0.0.1"), pool.admit("10.0.0.1")
        with pytest.raises(Exception, match="2 requests of yours"):
            pool.admit("10.0.0.1")
        pool.admit("10.0.0.2").release()  # another client still gets in
        a.release()
        pool.admit("10.0.0.1").release()
        b.release()
    finally:
        pool.close()


# --------------------------------------------------------------------------- uploads


def _post_app(app, chunks, delay, headers=()):
    """POST /api/stylize to ``app`` at the ASGI level, the body in ``chunks`` ``delay`` s apart:
    (status, body, seconds)."""

    async def call():
        sent = []
        queue = list(chunks)

        async def receive():
            if not queue:
                await asyncio.sleep(3600)
            await asyncio.sleep(delay)
            chunk = queue.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(queue)}

        async def send(message):
            sent.append(message)

        length = sum(len(c) for c in chunks)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/stylize",
            "raw_path": b"/api/stylize",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), (b"content-length", str(length).encode()), *headers],
            "client": ("10.0.0.9", 5000),
            "server": ("127.0.0.1", 8000),
            "app": app,
        }
        t0 = time.monotonic()
        await app(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return status, body, time.monotonic() - t0

    return asyncio.run(call())


def test_a_slow_upload_is_cut_off_without_holding_a_work_slot():
    config = ServeConfig(workers=1, queue=0, adain=False, min_upload_rate=1000, upload_grace=0.3, timeout=20)
    with TestClient(create_app(config), base_url=LOCAL) as client:
        app = client.app
        slow = threading.Thread(target=lambda: out.append(_post_app(app, [b"x"] * 40, 0.05)))
        out = []
        slow.start()
        time.sleep(0.15)
        # while the slow body trickles in, the one work slot is free: a real request is answered
        files = {"image": ("p.png", image_bytes(48, 32), "image/png")}
        r = client.post("/api/stylize", files=files, data={"style": "candy"})
        assert r.status_code == 200, r.text
        slow.join(timeout=30)
    status, body, seconds = out[0]
    assert status == 408 and b"too slow" in body and seconds < 3, (status, body, seconds)


def test_the_upload_buffer_is_bounded():
    config = ServeConfig(workers=1, adain=False, upload_buffer_bytes=1000, max_upload_bytes=4000)
    with TestClient(create_app(config), base_url=LOCAL) as client:
        app = client.app
        out = []
        first = threading.Thread(target=lambda: out.append(_post_app(app, [b"x" * 600] * 2, 0.3)))
        first.start()
        time.sleep(0.1)  # the first body (1,200 bytes by its Content-Length) is being read
        status, body, _ = _post_app(app, [b"y" * 700], 0)
        first.join(timeout=30)
    assert status == 429 and b"too many uploads" in body, body


# --------------------------------------------------------------------------- hosts and origins


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(ServeConfig(workers=1, adain=False)), base_url=LOCAL) as c:
        yield c


def _post(client, **headers):
    files = {"image": ("p.png", image_bytes(32, 24), "image/png")}
    return client.post("/api/stylize", files=files, data={"style": "candy"}, headers=headers)


def test_a_rebound_host_name_is_refused(client):
    r = client.get("/api/health", headers={"host": "evil.example:8000"})
    assert r.status_code == 400 and "allowed-hosts" in r.json()["error"]["message"]
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"):
        assert client.get("/api/health", headers={"host": host}).status_code == 200, host


def test_other_sites_cannot_post_work(client):
    r = _post(client, origin="http://evil.example")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert _post(client, origin="http://127.0.0.1").status_code == 200  # the page itself
    assert _post(client).status_code == 200  # curl, scripts: no Origin
    assert client.get("/api/health", headers={"origin": "http://evil.example"}).status_code == 200


def test_allowed_hosts_and_origins_are_configurable():
    config = ServeConfig(workers=1, adain=False, allowed_hosts="studio.lan", allowed_origins="https://app.example")
    with TestClient(create_app(config), base_url="http://studio.lan") as c:
        assert _post(c, origin="https://app.example").status_code == 200
        assert _post(c, origin="https://other.example").status_code == 403
        assert c.get("/api/health", headers={"host": "127.0.0.1"}).status_code == 400


def test_security_headers(client):
    page = client.get("/")
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "ws://127.0.0.1" in csp
    r = _post(client)
    assert r.headers["cache-control"] == "no-store" and r.headers["x-content-type-options"] == "nosniff"


def test_live_mode_from_another_site_is_refused(client):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect(WS, headers={"origin": "http://evil.example"}) as ws:
            ws.receive_text()
    assert info.value.code == 1008
    with client.websocket_connect(WS, headers={"origin": "http://127.0.0.1"}) as ws:
        ws.send_text(json.dumps({"style": ["candy"]}))
        assert "settings" in json.loads(ws.receive_text())


# --------------------------------------------------------------------------- live mode


def test_live_mode_survives_nesting_and_closes_when_idle():
    from starlette.websockets import WebSocketDisconnect

    with TestClient(create_app(ServeConfig(workers=1, adain=False, live_idle=0.5)), base_url=LOCAL) as c:
        with c.websocket_connect(WS) as ws:
            ws.send_text("[" * 200_000)  # killed the connection with no close code
            assert "bad settings" in json.loads(ws.receive_text())["error"]
            ws.send_text(json.dumps({"style": ["candy"]}))
            assert "settings" in json.loads(ws.receive_text())
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_text()  # nothing more is sent: closed after 0.5 s of silence
            assert info.value.code == 1000


# --------------------------------------------------------------------------- texts


def test_the_api_reference_works_offline(client):
    r = client.get("/api")
    assert r.status_code == 200 and "POST /api/stylize" in r.text and "style_image_weight" in r.text
    assert "cdn" not in r.text.lower() and "<script" not in r.text
    assert 'href="api"' in client.get("/").text  # the page's API link


def test_errors_name_the_field_and_the_form(client):
    files = {"image": ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "image/png")}
    err = client.post("/api/stylize", files=files, data={"style": "candy"}).json()["error"]
    assert err["code"] == "bad_image" and "(the image upload)" in err["message"] and "<bytes>" not in err["message"]
    broken = client.post(
        "/api/stylize",
        content=b"--x\r\nContent-Disposition: form-data",
        headers={"content-type": "multipart/form-data"},
    )
    assert broken.status_code in (400, 422) and broken.json()["error"]["code"] != "bad_image"


def test_a_tiny_upload_does_not_buy_a_large_result(client):
    files = {"image": ("p.png", image_bytes(4, 3), "image/png")}
    r = client.post("/api/stylize", files=files, data={"style": "candy", "size": "2048"})
    assert r.status_code == 200 and r.headers["x-size"] == "512x384" and "4x the photo" in r.headers["x-note"]


def test_the_pool_runs_its_idle_hook_once_after_work():
    calls = []
    pool = WorkPool(workers=1, queue=1, timeout=10, on_idle=lambda: calls.append(time.monotonic()))
    pool.idle_after = 0.2
    try:
        time.sleep(0.5)
        assert calls == []  # nothing done yet: nothing to give back
        pool.submit(sum, [1, 2]).result(timeout=5)
        time.sleep(0.8)
        assert len(calls) == 1  # once, not every 0.2 s
    finally:
        pool.close()


def test_the_page_can_run_the_network_on_the_device(client):
    import onnxruntime as ort

    page = client.get("/")
    assert page.headers["cross-origin-embedder-policy"] == "require-corp"
    assert "'wasm-unsafe-eval'" in page.headers["content-security-policy"]
    wasm = client.get("/static/ort/ort-wasm-simd-threaded.wasm")
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    assert wasm.headers["cross-origin-embedder-policy"] == "require-corp"  # its worker needs it too
    # gzipped for browsers that take it (a quarter of the bytes), as it is for the others
    from importlib import resources

    raw = (resources.files("instyle.serve") / "static" / "ort" / "ort-wasm-simd-threaded.wasm").read_bytes()
    assert wasm.headers["content-encoding"] == "gzip" and int(wasm.headers["content-length"]) < len(raw) / 2
    assert wasm.content == raw  # (the client decodes it)
    plain = client.get("/static/ort/ort-wasm-simd-threaded.wasm", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == raw
    assert client.get("/static/ort/../app.py").status_code == 404
    local = client.get("/api/styles").json()["local"]
    model = client.get(local["model"])
    session = ort.InferenceSession(model.content, providers=["CPUExecutionProvider"])
    # the page maps style names to the network's inputs by this order
    assert json.loads(session.get_modelmeta().custom_metadata_map["styles"]) == local["styles"]
    assert client.get("/models/other.onnx").status_code == 404
