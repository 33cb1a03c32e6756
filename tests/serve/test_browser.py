"""The page end to end in a real browser: Playwright for Python driving Debian's ``chromium``
(installed by ``.ci/run``; never ``playwright install``), against a real server on 127.0.0.1.

Skipped, with the reason, where Playwright or chromium is missing. ``INSTYLE_SCREENSHOTS=DIR``
keeps the screenshots as JPEGs (docs/serve.md's pictures: ``INSTYLE_SCREENSHOTS=docs``).
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from instyle.serve.browser import CHROMIUM_FLAGS, find_chromium
from instyle.video.stabilize import StabilizeConfig

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = find_chromium()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; .ci/run does it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="no Playwright for Python: pip install playwright")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=list(CHROMIUM_FLAGS),
            accept_downloads=True,
            viewport={"width": 1280, "height": 860},
        )
        yield context
        context.close()


@pytest.fixture(scope="module")
def server():
    from instyle.serve import ServeConfig
    from instyle.serve.server import running

    with running(ServeConfig(workers=2, max_size=1024)) as (url, _):
        yield url


def shot(page, name: str) -> None:
    folder = os.environ.get("INSTYLE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), type="jpeg", quality=80)


def result_bytes(page) -> bytes:
    """The result image's bytes, as the page holds them."""
    data = page.evaluate(
        """async () => {
            const r = await fetch(document.getElementById('after').src);
            return Array.from(new Uint8Array(await r.arrayBuffer()));
        }"""
    )
    return bytes(data)


def result_hash(page) -> str:
    return hashlib.sha256(result_bytes(page)).hexdigest()


def assert_close_to(page, want, *, mean: float = 2, most: float = 8, beyond: float = 0.0) -> None:
    """The page's result, decoded, within ``mean``/255 on average and ``most``/255 of ``want`` ((H, W,
    3) in [0, 255]) everywhere but a ``beyond`` share of the values."""
    import numpy as np

    got = np.asarray(Image.open(io.BytesIO(result_bytes(page))).convert("RGB"), dtype=np.float32)
    diff = np.abs(got - np.round(np.clip(want, 0, 255)))
    assert diff.mean() <= mean and (diff > most).mean() <= beyond, (diff.mean(), diff.max(), (diff > most).mean())


def wait_result(page, previous: str | None, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.get_attribute("#after", "src"):
            h = result_hash(page)
            if h != previous:
                return h
        time.sleep(0.1)
    raise AssertionError(f"the result did not change; status: {page.inner_text('#status')}")


def test_photo_style_alpha_download(browser, server, tmp_path):
    from skimage import data as skdata

    photo = tmp_path / "cat.png"
    Image.fromarray(skdata.chelsea()).save(photo)
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server)
    page.wait_for_selector("#gallery input")
    page.set_input_files("#photo-file", str(photo))
    first = wait_result(page, None)
    assert page.get_attribute("#download", "aria-disabled") == "false"

    # another style from the gallery, with the keyboard: the radio group moves with the arrow keys
    page.focus("#gallery input:checked")
    page.keyboard.press("ArrowRight")
    second = wait_result(page, first)

    # α down by four steps of 0.05, with the keyboard too: AdaIN
    page.focus("#alpha")
    for _ in range(4):
        page.keyboard.press("ArrowLeft")
    assert page.input_value("#alpha") == "0.8"
    third = wait_result(page, second)
    assert "AdaIN" in page.inner_text("#timing")
    page.evaluate(
        "() => { const s = document.getElementById('split'); s.value = 30; s.dispatchEvent(new Event('input')); }"
    )
    shot(page, "serve_photo.jpg")

    with page.expect_download() as info:
        page.click("#download")
    saved = tmp_path / "download.png"
    info.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == third
    img = Image.open(io.BytesIO(saved.read_bytes()))
    assert img.format == "PNG" and max(img.size) == 512
    assert not errors


def test_live_mode_with_the_fake_camera(browser, server):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server)
    page.wait_for_selector("#gallery input")
    page.click("#tab-live")
    page.click("#live-start")
    page.wait_for_function("() => Number(document.getElementById('fps').dataset.frames || 0) >= 20", timeout=60_000)
    fps = float(page.get_attribute("#fps", "data-fps"))
    assert fps > 0 and page.inner_text("#fps").endswith("fps")
    assert page.inner_text("#latency").endswith("ms")
    # the output canvas shows stylized frames (not a blank canvas)
    lit = page.evaluate(
        """() => { const c = document.getElementById('live-out');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i] + d[i + 1] + d[i + 2];
                   return s / (d.length / 4) / 765; }"""
    )
    assert lit > 0.05
    shot(page, "serve_live.jpg")
    page.click("#live-stop")
    assert not errors


@pytest.mark.parametrize("viewport", [(390, 844), (1280, 800)], ids=["phone", "desktop"])
def test_the_result_and_its_controls_are_in_view(browser, server, tmp_path, viewport):
    from skimage import data as skdata

    photo = tmp_path / "cat.png"
    Image.fromarray(skdata.chelsea()).save(photo)
    page = browser.new_page()
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server)
    page.wait_for_selector("#gallery input")
    page.select_option("#size", "512")
    page.set_input_files("#photo-file", str(photo))
    first = wait_result(page, None)
    time.sleep(0.8)  # the smooth scroll
    for sel in ("#after", "#download", "#split"):
        box = page.locator(sel).bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= viewport[1] + 1, (sel, box, viewport)
    shot(page, f"serve_{'phone' if viewport[0] < 500 else 'desktop'}.jpg")

    # the divider drags on the picture
    box = page.locator("#compare").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    page.mouse.up()
    assert abs(int(page.input_value("#split")) - 30) <= 1

    # a refused upload leaves no stale result and no stale download
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    page.set_input_files("#photo-file", str(bad))
    page.wait_for_function("() => document.getElementById('status').classList.contains('error')", timeout=30_000)
    assert page.get_attribute("#download", "aria-disabled") == "true"
    assert not page.get_attribute("#after", "src") and first
    assert not errors


def test_a_large_photo_is_shrunk_before_it_is_sent(browser, server, tmp_path):
    big = tmp_path / "big.jpg"
    Image.new("RGB", (6000, 4500), (90, 140, 60)).save(big, quality=95)
    page = browser.new_page()
    sizes = []
    page.on(
        "request", lambda r: sizes.append(len(r.post_data_buffer or b"")) if r.url.endswith("/api/stylize") else None
    )
    page.goto(server)
    page.wait_for_selector("#gallery input")
    page.set_input_files("#photo-file", str(big))
    wait_result(page, None)
    assert sizes and max(sizes) < big.stat().st_size  # shrunk to the server's largest output first


def test_photo_mode_on_the_device_matches_onnxruntime_and_uploads_nothing(browser, server, tmp_path):
    import numpy as np

    from instyle.onnx_runtime import OnnxFastStylizer

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:150, 0:200]
    arr = np.clip(np.stack([xx, yy, xx + yy], 2) + rng.integers(-30, 31, (150, 200, 3)), 0, 255).astype(np.uint8)
    photo = tmp_path / "p.png"
    Image.fromarray(arr).save(photo)
    page = browser.new_page()
    errors, posts = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(server)
    page.wait_for_selector("#gallery input")
    assert page.evaluate("() => self.crossOriginIsolated")  # COOP + COEP: WebAssembly threads
    page.check("#local")
    page.set_input_files("#photo-file", str(photo))
    wait_result(page, None)
    assert "on this device" in page.inner_text("#timing") and not posts, posts
    first = page.get_attribute("#gallery input:checked", "value")
    # the network whose brush fits the size asked (the photo is smaller: painted at its own size)
    net, _ = OnnxFastStylizer().brush(int(page.input_value("#size")))
    assert_close_to(page, net(arr.astype(np.float32) / 255, first) * 255)
    assert not errors


def test_brush_size_on_the_device_and_on_the_server(browser, server, tmp_path):
    """Brush size 3: the network runs on the photo at 1024/3 px, the result has the photo's size;
    the device and the server follow the same rule (instyle.sizes.stroke_side)."""
    import numpy as np

    from instyle.onnx_runtime import OnnxFastStylizer

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:300, 0:400]
    arr = np.clip(np.stack([xx // 2, yy // 2, yy], 2) + rng.integers(-30, 31, (300, 400, 3)), 0, 255).astype(np.uint8)
    photo = tmp_path / "p.png"
    Image.fromarray(arr).save(photo)
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server)
    page.wait_for_selector("#gallery input")
    page.select_option("#size", "256")
    page.set_input_files("#photo-file", str(photo))
    plain = wait_result(page, None)
    page.evaluate(
        "() => { const s = document.getElementById('stroke'); s.value = '3'; s.dispatchEvent(new Event('input')); }"
    )
    assert page.inner_text("#stroke-out") == "3.00"
    wait_result(page, plain)
    style = page.get_attribute("#gallery input:checked", "value")
    half = Image.fromarray(arr).resize((341, 256), Image.LANCZOS)  # 256 px asked, brush 3: computed at 1024/3
    small = OnnxFastStylizer()(np.asarray(half, np.float32) / 255, style)  # (256, 341, 3)
    want = np.asarray(Image.fromarray(np.round(small * 255).astype(np.uint8)).resize((256, 192), Image.LANCZOS))
    got = np.asarray(Image.open(io.BytesIO(result_bytes(page))).convert("RGB"), dtype=np.float32)
    assert got.shape == (192, 256, 3)
    assert np.abs(got - want).mean() < 6  # the server's result: the same rule (resampling aside)
    server_result = result_hash(page)
    page.check("#local")
    wait_result(page, server_result)
    got = np.asarray(Image.open(io.BytesIO(result_bytes(page))).convert("RGB"), dtype=np.float32)
    assert got.shape == (192, 256, 3) and "on this device" in page.inner_text("#timing")
    # the browser's canvas resamples (not Lanczos) and the strokes move with it: the device's result is
    # compared with brush 2's and brush 1's pictures, and must be the nearer to brush 2's
    full = Image.fromarray(arr).resize((256, 192), Image.LANCZOS)
    brush1 = OnnxFastStylizer()(np.asarray(full, np.float32) / 255, style) * 255
    assert np.abs(got - want).mean() < 0.75 * np.abs(got - brush1).mean()
    assert not errors


def test_the_device_paints_small_outputs_with_the_companion(browser, server, tmp_path):
    """A 512-px output on the device: the built-in network's companion at 512, as the server
    paints it (instyle.sizes.choose_brush); a 1024-px one: the built-in network."""
    import numpy as np

    from instyle.onnx_runtime import OnnxFastStylizer
    from instyle.shipped import BUILTIN_512_ONNX, asset_path

    if not asset_path(BUILTIN_512_ONNX).is_file():
        pytest.skip("this instyle ships no companion network")
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:600, 0:800]
    arr = np.clip(np.stack([xx // 4, yy // 3, (xx + yy) // 6], 2) + rng.integers(-20, 21, (600, 800, 3)), 0, 255)
    photo = tmp_path / "p.png"
    Image.fromarray(arr.astype(np.uint8)).save(photo)
    page = browser.new_page()
    models = []
    page.on("request", lambda r: models.append(r.url.rsplit("/", 1)[1]) if "/models/" in r.url else None)
    page.goto(server)
    page.wait_for_selector("#gallery input")
    page.check("#local")
    page.select_option("#size", "512")
    page.set_input_files("#photo-file", str(photo))
    wait_result(page, None)
    assert "on this device" in page.inner_text("#timing")
    assert BUILTIN_512_ONNX in models and "builtin_styles.onnx" not in models, models
    style = page.get_attribute("#gallery input:checked", "value")
    got = np.asarray(Image.open(io.BytesIO(result_bytes(page))).convert("RGB"), dtype=np.float32)
    at512 = np.asarray(Image.fromarray(arr.astype(np.uint8)).resize((512, 384), Image.LANCZOS), np.float32) / 255
    half = OnnxFastStylizer("builtin-512")(at512, style) * 255
    main = OnnxFastStylizer("builtin")(at512, style) * 255  # the built-in network at the same side
    assert got.shape == (384, 512, 3)
    assert np.abs(got - half).mean() < 0.75 * np.abs(got - main).mean()


def test_any_style_image_on_the_device_matches_onnxruntime(browser, server, tmp_path):
    import numpy as np

    from instyle.onnx_runtime import OnnxAdaIN
    from instyle.palette import match_palette

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:150, 0:200]
    photo_arr = np.clip(np.stack([xx, yy, xx + yy], 2) + rng.integers(-30, 31, (150, 200, 3)), 0, 255).astype(np.uint8)
    style_arr = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    style_arr[:, :, 0] = np.minimum(255, style_arr[:, :, 0] // 2 + 120)  # a reddish, noisy painting
    photo, style = tmp_path / "p.png", tmp_path / "s.png"
    Image.fromarray(photo_arr).save(photo)
    Image.fromarray(style_arr).save(style)
    page = browser.new_page()
    errors, posts = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(server)
    page.wait_for_selector("#gallery input")
    page.check("#local")
    page.set_input_files("#style-file", str(style))
    assert page.is_visible("#style-preview")  # the chosen painting is shown
    page.set_input_files("#photo-file", str(photo))
    first = wait_result(page, None)
    assert "AdaIN on this device" in page.inner_text("#timing") and not posts, posts
    net = OnnxAdaIN()
    plain = net(photo_arr.astype(np.float32) / 255, net.style_stats(style_arr.astype(np.float32) / 255))
    # by default in the painting's palette (instyle.palette, its copy in local.js), from the
    # network's picture as the page holds it (8 bits)
    # (the page's network differs from onnxruntime by a level here and there, by CPU; where the map is
    # steep a level comes out as several, so a few values may land further than ``most``)
    want = match_palette(np.round(plain * 255) / 255, [style_arr / np.float32(255)]) * 255
    assert_close_to(page, want, mean=1, most=16, beyond=0.001)
    page.select_option("#color", "none")  # the network's own colours
    wait_result(page, first)
    assert_close_to(page, plain * 255)
    assert not errors and not posts, posts


def test_live_mode_on_the_device_sends_no_frame(browser, server):
    page = browser.new_page()
    errors, sockets, posts = [], [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(server)
    page.wait_for_selector("#gallery input")
    page.check("#local")
    page.click("#tab-live")
    page.click("#live-start")
    page.wait_for_function("() => Number(document.getElementById('fps').dataset.frames || 0) >= 20", timeout=90_000)
    fps = float(page.get_attribute("#fps", "data-fps"))
    lit = page.evaluate(
        """() => { const c = document.getElementById('live-out');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i] + d[i + 1] + d[i + 2];
                   return s / (d.length / 4) / 765; }"""
    )
    page.click("#live-stop")
    assert fps > 0 and lit > 0.05 and "on this device" in page.inner_text("#status")
    # frames painted 640 px wide when asked (the control is fixed while the camera runs)
    page.evaluate("() => { document.getElementById('fps').dataset.frames = '0'; }")
    page.select_option("#live-size", "640")
    page.click("#live-start")
    page.wait_for_function("() => Number(document.getElementById('fps').dataset.frames || 0) >= 3", timeout=90_000)
    assert page.is_disabled("#live-size")
    width = page.evaluate("() => document.getElementById('live-out').width")
    page.click("#live-stop")
    assert width == 640 and not page.is_disabled("#live-size")
    assert not sockets and not posts, (sockets, posts)  # no frame left the browser
    assert not errors
    print(f"live on the device: {fps:.1f} fps")


@pytest.fixture(scope="module")
def static_site(tmp_path_factory):
    """`instyle web export` served by a plain `python -m http.server`: no Python of ours behind it."""
    import socket
    import subprocess
    import sys

    from instyle.serve.site import export_site

    site = export_site(tmp_path_factory.mktemp("web") / "site", say=lambda m: None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(site)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    yield url
    proc.kill()
    proc.wait()


def test_the_static_export_works_without_a_server_and_offline(browser, static_site, tmp_path):
    from skimage import data as skdata

    photo = tmp_path / "cat.png"
    Image.fromarray(skdata.chelsea()).save(photo)
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(static_site)
    page.wait_for_selector("#gallery input")
    assert page.is_checked("#local") and page.is_disabled("#local")
    page.set_input_files("#photo-file", str(photo))
    first = wait_result(page, None)
    assert "on this device" in page.inner_text("#timing")
    page.wait_for_function(
        "() => navigator.serviceWorker.controller !== null || navigator.serviceWorker.ready", timeout=30_000
    )
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    browser.set_offline(True)
    try:
        page.reload()
        page.wait_for_selector("#gallery input", timeout=30_000)
        page.focus("#gallery input:checked")
        page.keyboard.press("ArrowRight")
        page.set_input_files("#photo-file", str(photo))
        assert wait_result(page, first) != first  # another style, painted offline
    finally:
        browser.set_offline(False)
    assert not errors


def test_live_mode_shows_only_what_it_uses(browser, server):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server)
    page.wait_for_selector("#gallery input")
    presets = page.eval_on_selector_all("#gallery input", "els => els.map((e) => e.value)")
    fast = page.evaluate(
        "async () => (await (await fetch('api/styles')).json()).styles.filter((s) => s.fast).map((s) => s.name)"
    )
    preset_only = [n for n in presets if n not in fast]
    if preset_only:  # a preset chosen in photo mode is replaced, and said so, in live mode
        page.check(f"#gallery input[value={preset_only[0]}]")
    page.click("#tab-live")
    for sel in ("#photo-set", "#alpha", "#size", "#format", "#style-file"):
        assert not page.is_visible(sel), sel
    if preset_only:
        assert page.is_disabled(f"#gallery input[value={preset_only[0]}]")
        assert page.get_attribute("#gallery input:checked", "value") in fast
        assert "Live mode paints the built-in styles" in page.inner_text("#status")
    page.click("#tab-photo")
    assert page.is_visible("#photo-set") and page.is_visible("#alpha")
    assert not errors


def test_live_scene_cuts_in_the_page_follow_the_servers_rule(browser, server):
    """The page's live mode forgets its statistics' average at a new shot, told apart from motion
    as instyle.video.stabilize.SceneCuts does (64-px grey thumbnails, the server's threshold)."""
    page = browser.new_page()
    page.goto(server)
    page.wait_for_selector("#gallery input")
    threshold = page.evaluate("async () => (await (await fetch('api/styles')).json()).local.cut_threshold")
    assert threshold == pytest.approx(StabilizeConfig().cut_threshold)
    cuts = page.evaluate(
        """async (threshold) => {
             const m = await import('./static/local.js');
             const frame = (f) => { const c = new OffscreenCanvas(320, 240); const x = c.getContext('2d');
                                    f(x); return c; };
             const dark = frame((x) => { x.fillStyle = '#202020'; x.fillRect(0, 0, 320, 240); });
             const moved = frame((x) => { x.fillStyle = '#202020'; x.fillRect(0, 0, 320, 240);
                                          x.fillStyle = '#e0e0e0'; x.fillRect(150, 100, 20, 20); });
             const bright = frame((x) => { x.fillStyle = '#e8e8e8'; x.fillRect(0, 0, 320, 240); });
             const c = new m.SceneCuts(threshold);
             return [dark, dark, moved, bright, bright].map((f) => c.isCut(f, 320, 240)); }""",
        threshold,
    )
    assert cuts == [True, False, False, True, False]
