#!/usr/bin/env python
"""``instyle serve`` under load, end to end: the real server (``python -m instyle serve``) on
127.0.0.1, driven over HTTP and WebSocket from this process.

Runs, each against a fresh server:

* ``idle``: single 512² built-in-style requests one after another (photo upload, decode, the
  network, PNG encode, download), per ``--backends`` runtime of the built-in network: p50/p95.
  This is how the server's default runtime was chosen.
* ``burst``: ``--concurrency`` requests at once: built-in styles (each photo re-encoded, so no
  cache hit), style-image uploads (AdaIN) and oversized uploads (over ``--max-upload-mb``, and a
  header-only pixel bomb). Only 200, 413, 429 and 503 may come back. ``/api/health`` is polled
  every 0.1 s throughout and must always answer; the server's peak RSS (``VmHWM``) is read at the
  end, and the server must be idle and healthy afterwards.
* ``live``: 320×240 JPEG frames over the ``/api/live`` WebSocket with two in flight (as the page
  does) for ``--live-seconds``: frames per second back and latency, end to end.
* ``browser`` (where Playwright and Debian's chromium are installed): the page itself in headless
  Chromium with the fake camera, live mode, its own fps reading.
* ``soak``: ``--soak-requests`` mixed requests (built-in styles and style images, sizes 256 to
  1024, JPEG/PNG/WebP out), two at a time, on one server with AdaIN: the server's RSS every 50
  requests, its peak, and its RSS once idle: the memory an operator should plan for.
* ``abuse``: single requests while ``--slow-clients`` raw sockets each upload a body at 1 byte/s
  (reconnecting whenever cut off), then while ``--live-clients`` WebSocket clients send frames at
  full rate (two in flight each, as the page does); each against the idle latency of the same
  server. The targets of issue 31: slow uploads at most 2x idle latency, live clients at most 1 s.

Inputs: a photo from ``../shared/images/content`` and a painting from ``../shared/images/style``;
scikit-image's cat and a generated painting without them.

Usage (from the repository root; ``python -m benchmarks.serve`` works too)::

    python benchmarks/serve.py                       # docs/serve.md's numbers
    python benchmarks/serve.py --runs burst --concurrency 100
    python benchmarks/serve.py --smoke               # seconds
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import inputs, runner

RUNS = ("idle", "burst", "live", "browser", "abuse", "soak", "cost")
BACKENDS = ("torch", "onnxruntime")
DEFAULT_CONTENT = "adain_golden_gate.jpg"
DEFAULT_PAINTING = "jcfast_starry_night_crop.jpg"
STYLES = ("candy", "mosaic", "wave", "starry_night", "udnie")
ALLOWED = {200, 413, 429, 503}
SMOKE = {
    "runs": ["idle", "burst", "live", "abuse", "soak", "cost"],
    "backends": ["torch"],
    "size": 64,
    "idle_requests": 3,
    "concurrency": 8,
    "live_seconds": 2.0,
    "max_upload_mb": 1.0,
    "slow_clients": 4,
    "live_clients": 2,
    "soak_requests": 20,
}


def parse_args(argv: Sequence[str] | None = None):
    p = runner.parser("serve", "instyle serve end to end: latency, a burst of concurrent requests, live-mode fps.")
    p.add_argument("--runs", nargs="+", choices=RUNS, action=runner.Unique, default=list(RUNS))
    p.add_argument("--backends", nargs="+", choices=BACKENDS, action=runner.Unique, default=list(BACKENDS))
    p.add_argument("--size", type=int, default=512, help="photo and output size (px, square) of the requests")
    p.add_argument("--idle-requests", type=int, default=20, help="requests of the idle run (after one warm-up)")
    p.add_argument("--concurrency", type=int, default=50, help="requests sent at once in the burst")
    p.add_argument("--live-seconds", type=float, default=10.0, help="length of each live run")
    p.add_argument("--workers", type=int, default=None, help="server worker threads (default: its own, one per core)")
    p.add_argument("--queue", type=int, default=None, help="server queue (default: its own)")
    p.add_argument("--max-upload-mb", type=float, default=16.0, help="the server's upload limit")
    p.add_argument("--slow-clients", type=int, default=20, help="abuse: clients uploading at 1 byte/s")
    p.add_argument("--live-clients", type=int, default=4, help="abuse: live clients at full rate")
    p.add_argument("--soak-requests", type=int, default=1000, help="soak: mixed requests sent")
    runner.add_run_args(p, smoke=SMOKE, threads="OMP/MKL threads of the server (default: its own choice)")
    return runner.parse_args(p, argv, "serve", SMOKE, positive=("size", "idle_requests", "concurrency"))


# --------------------------------------------------------------------------- the server


class Server:
    """``python -m instyle serve --port 0`` in a child process; its URL from the line it prints."""

    def __init__(self, args, backend: str = "auto", extra: Sequence[str] = ()):
        cmd = [sys.executable, "-m", "instyle", "serve", "--port", "0", "--backend", backend]
        cmd += ["--max-upload-mb", str(args.max_upload_mb), *extra]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        if args.queue is not None:
            cmd += ["--queue", str(args.queue)]
        env = runner.worker_env(args.threads)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(runner.REPO_ROOT / "src"), env.get("PYTHONPATH")]))
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        m = re.search(r"(http://\S+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"the server did not start: {line}{self.proc.stderr.read()[-2000:]}")
        self.url = m.group(1)
        self.started_s = time.perf_counter() - self.t0

    def wait_ready(self, client, timeout: float = 300) -> dict[str, Any]:
        """Until /api/health says AdaIN has loaded (or is off)."""
        deadline = time.monotonic() + timeout
        while True:
            health = client.get(self.url + "api/health").json()
            if health["adain"] != "loading" or time.monotonic() > deadline:
                return health
            time.sleep(0.2)

    def memory_mb(self) -> dict[str, float | None]:
        """VmRSS and VmHWM (peak) of the server process, MiB."""
        out: dict[str, float | None] = {"rss_mb": None, "peak_rss_mb": None}
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out["rss_mb"] = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    out["peak_rss_mb"] = int(line.split()[1]) / 1024
        except OSError:
            pass
        return out

    def stop(self) -> dict[str, Any]:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return {"exit": self.proc.returncode, "stderr_tail": err[-2000:] if err else ""}


# --------------------------------------------------------------------------- inputs


def load_inputs(args, tmp: Path) -> dict[str, Any]:
    """Photo variants (JPEG, each re-encoded: no two share a hash), a painting, live frames."""
    from PIL import Image, ImageOps

    photo = inputs.find_image(inputs.SHARED_IMAGES / "content", DEFAULT_CONTENT)
    painting = inputs.find_image(inputs.SHARED_IMAGES / "style", DEFAULT_PAINTING)
    if photo is None and not args.smoke:
        print("note: ../shared/images missing: scikit-image's cat stands in", file=sys.stderr)
    photo = photo or inputs.sample_photos(1, tmp)[0]
    painting = painting or inputs.sample_paintings(1, tmp)[0]
    with Image.open(photo) as im:
        base = ImageOps.exif_transpose(im).convert("RGB")
    square = ImageOps.fit(base, (args.size, args.size), Image.Resampling.LANCZOS)

    def jpeg(img, quality: int) -> bytes:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        return buf.getvalue()

    n = max(args.idle_requests + 1, args.concurrency)
    variants = [jpeg(square, 80 + i % 16) if i < 16 else jpeg(square.rotate(i % 4 * 90), 80 + i % 16) for i in range(n)]
    with Image.open(painting) as im:
        style_img = im.convert("RGB")
        style_img.thumbnail((512, 512))
    # live: a slow pan across the photo, 320x240 JPEGs as the page sends them
    wide = ImageOps.fit(base, (480, 240), Image.Resampling.LANCZOS)
    frames = [jpeg(wide.crop((x, 0, x + 320, 240)), 80) for x in range(0, 160, 4)]
    return {
        "photo": str(photo),
        "painting": str(painting),
        "variants": variants,
        "style": jpeg(style_img, 90),
        "frames": frames,
        "oversized": b"\x89PNG\r\n\x1a\n" + os.urandom(int(args.max_upload_mb * 2**20) + 4096),
    }


def pixel_bomb() -> bytes:
    """A PNG header declaring 100,000 × 100,000 pixels (no data)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


# --------------------------------------------------------------------------- runs


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_s": None, "p95_s": None, "max_s": None}
    v = sorted(values)
    return {"p50_s": runner.median(v), "p95_s": v[min(len(v) - 1, round(0.95 * (len(v) - 1)))], "max_s": v[-1]}


def post(client, url: str, files: dict[str, bytes], data: dict[str, Any]) -> dict[str, Any]:
    t = time.perf_counter()
    try:
        r = client.post(url + "api/stylize", files={k: (k, v) for k, v in files.items()}, data=data, timeout=120)
        status, note = r.status_code, (r.json()["error"]["message"] if r.status_code != 200 else None)
        if r.status_code == 200:
            from PIL import Image

            Image.open(io.BytesIO(r.content)).load()  # a decodable image
    except Exception as exc:
        status, note = None, f"{type(exc).__name__}: {exc}"
    return {"status": status, "seconds": time.perf_counter() - t, "note": note}


def run_idle(args, data, backend: str) -> dict[str, Any]:
    import httpx

    server = Server(args, backend, ["--no-adain"])
    try:
        with httpx.Client() as client:
            server.wait_ready(client)
            form = {"style": "candy", "size": str(args.size)}
            post(client, server.url, {"image": data["variants"][0]}, form)  # warm-up
            results = [
                post(client, server.url, {"image": v}, form) for v in data["variants"][1 : args.idle_requests + 1]
            ]
        ok = [r["seconds"] for r in results if r["status"] == 200]
        return {
            "backend": backend,
            "requests": len(results),
            "ok": len(ok),
            **percentiles(ok),
            "server_start_s": server.started_s,
            **server.memory_mb(),
            "statuses": sorted({str(r["status"]) for r in results}),
        }
    finally:
        server.stop()


def run_burst(args, data) -> dict[str, Any]:
    import httpx

    server = Server(args)
    try:
        limits = httpx.Limits(max_connections=args.concurrency + 8, max_keepalive_connections=args.concurrency + 8)
        with httpx.Client(limits=limits) as client:
            server.wait_ready(client)
            post(client, server.url, {"image": data["variants"][0]}, {"style": "candy", "size": str(args.size)})
            post(
                client,
                server.url,
                {"image": data["variants"][0], "style_image": data["style"]},
                {"size": str(args.size)},
            )
            jobs = []
            n = args.concurrency
            n_style, n_big = max(1, n // 5), max(1, n // 5)
            for i in range(n):
                photo = data["variants"][i % len(data["variants"])]
                if i < n_big - 1:
                    jobs.append(("oversized", {"image": data["oversized"]}, {"style": "candy"}))
                elif i == n_big - 1:
                    jobs.append(("oversized", {"image": pixel_bomb()}, {"style": "candy"}))
                elif i < n_big + n_style:
                    jobs.append(
                        ("style_upload", {"image": photo, "style_image": data["style"]}, {"size": str(args.size)})
                    )
                else:
                    form = {"style": STYLES[i % len(STYLES)], "size": str(args.size)}
                    jobs.append(("builtin", {"image": photo}, form))
            # /api/health every 0.1 s, and the server's memory, while the burst runs
            health: list[dict[str, Any]] = []
            stop = threading.Event()

            def poll() -> None:
                with httpx.Client() as hc:
                    while not stop.is_set():
                        t = time.perf_counter()
                        try:
                            ok = hc.get(server.url + "api/health", timeout=5).status_code == 200
                        except Exception:
                            ok = False
                        health.append({"ok": ok, "seconds": time.perf_counter() - t, **server.memory_mb()})
                        stop.wait(0.1)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            start = threading.Barrier(n)

            def one(job):
                kind, files, form = job
                start.wait()
                return {"kind": kind, **post(client, server.url, files, form)}

            t0 = time.perf_counter()
            with ThreadPoolExecutor(n) as pool:
                results = list(pool.map(one, jobs))
            wall = time.perf_counter() - t0
            stop.set()
            poller.join()
            after = client.get(server.url + "api/health").json()
            memory = server.memory_mb()
            again = post(client, server.url, {"image": data["variants"][1]}, {"style": "wave", "size": str(args.size)})
            time.sleep(3.5)  # idle: the server gives freed memory back after 2 s without work
            idle_memory = server.memory_mb()
        rows = []
        for kind in ("builtin", "style_upload", "oversized"):
            rs = [r for r in results if r["kind"] == kind]
            counts = {
                str(s): sum(1 for r in rs if r["status"] == s) for s in sorted({r["status"] for r in rs}, key=str)
            }
            ok = [r["seconds"] for r in rs if r["status"] == 200]
            rows.append({"kind": kind, "sent": len(rs), "statuses": counts, **percentiles(ok)})
        bad = [r for r in results if r["status"] not in ALLOWED]
        ok_all = [r for r in results if r["status"] == 200]
        return {
            "concurrency": n,
            "wall_s": wall,
            "throughput_rps": len(ok_all) / wall if wall else None,
            "rows": rows,
            "statuses": {str(s): sum(1 for r in results if r["status"] == s) for s in {r["status"] for r in results}},
            "unexpected": [{k: r[k] for k in ("kind", "status", "note")} for r in bad],
            "health_polls": len(health),
            "health_failures": sum(1 for h in health if not h["ok"]),
            "health_p95_s": percentiles([h["seconds"] for h in health])["p95_s"],
            "health_max_s": max((h["seconds"] for h in health), default=None),
            "peak_rss_mb": memory["peak_rss_mb"],
            "rss_after_mb": memory["rss_mb"],
            "rss_idle_mb": idle_memory["rss_mb"],
            "healthy_after": after["status"] == "ok" and after["work"]["in_progress"] == 0,
            "works_after": again["status"] == 200,
            "work_after": after["work"],
        }
    finally:
        server.stop()


def run_live(args, data) -> dict[str, Any]:
    import httpx
    from websockets.sync.client import connect

    server = Server(args, "auto", ["--no-adain"])
    try:
        with httpx.Client() as client:
            server.wait_ready(client)
        ws_url = server.url.replace("http://", "ws://") + "api/live"
        frames = data["frames"]
        with connect(ws_url, max_size=16 * 2**20) as ws:
            ws.send(json.dumps({"style": ["candy"], "stabilize": "full"}))
            json.loads(ws.recv())
            sent: list[float] = []
            latencies: list[float] = []
            got = dropped = 0
            k = 0

            def send() -> None:
                nonlocal k
                sent.append(time.perf_counter())
                ws.send(frames[k % len(frames)])
                k += 1

            send()  # a warm-up frame
            ws.recv()
            sent.clear()
            t0 = time.perf_counter()
            send()
            send()  # two in flight, as the page keeps them
            while time.perf_counter() - t0 < args.live_seconds:
                msg = ws.recv()
                if isinstance(msg, str):
                    dropped += json.loads(msg).get("dropped", 0)
                    sent.pop(0)
                else:
                    got += 1
                    latencies.append(time.perf_counter() - sent.pop(0))
                send()
            seconds = time.perf_counter() - t0
        lat = percentiles(latencies)
        return {
            "size": "320x240",
            "frames": got,
            "dropped": dropped,
            "seconds": seconds,
            "fps": got / seconds,
            "latency_p50_s": lat["p50_s"],
            "latency_p95_s": lat["p95_s"],
            "stabilize": "full",
        }
    finally:
        server.stop()


def run_abuse(args, data) -> dict[str, Any]:
    import socket

    import httpx
    from websockets.sync.client import connect

    server = Server(args, "auto", ["--no-adain"])
    host, port = server.url.split("//")[1].rstrip("/").rsplit(":", 1)
    stop = threading.Event()
    form = {"style": "candy", "size": str(args.size)}
    photos = iter(data["variants"][1:] * 4)

    def requests(client, n: int = 5) -> list[dict[str, Any]]:
        return [post(client, server.url, {"image": next(photos)}, form) for _ in range(n)]

    def slow_upload() -> None:  # slowloris on the body: 1 byte a second, forever
        while not stop.is_set():
            try:
                with socket.create_connection((host, int(port)), timeout=5) as sock:
                    sock.sendall(
                        b"POST /api/stylize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
                        b"boundary=x\r\nContent-Length: 100000\r\n\r\n"
                    )
                    while not stop.is_set():
                        sock.sendall(b"x")
                        stop.wait(1.0)
            except OSError:
                stop.wait(0.1)  # cut off: come back

    def live_client() -> None:
        with connect(server.url.replace("http://", "ws://") + "api/live", max_size=16 * 2**20) as ws:
            ws.send(json.dumps({"style": ["candy"]}))
            ws.recv()
            k = 0
            for _ in range(2):
                ws.send(data["frames"][k % len(data["frames"])])
                k += 1
            while not stop.is_set():
                ws.recv()
                ws.send(data["frames"][k % len(data["frames"])])
                k += 1

    def under(target, n: int) -> list[dict[str, Any]]:
        stop.clear()
        threads = [threading.Thread(target=target, daemon=True) for _ in range(n)]
        for t in threads:
            t.start()
        time.sleep(2.0)  # the attack is on
        try:
            with httpx.Client() as client:
                return requests(client)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=10)

    try:
        with httpx.Client() as client:
            server.wait_ready(client)
            requests(client, 1)  # warm-up
            idle = requests(client)
        slow = under(slow_upload, args.slow_clients)
        live = under(live_client, args.live_clients)
        rows = []
        idle_p50 = runner.median([r["seconds"] for r in idle if r["status"] == 200])
        for name, rs, target in (
            ("idle", idle, None),
            (f"{args.slow_clients} uploads at 1 B/s", slow, 2 * idle_p50),
            (f"{args.live_clients} live clients at full rate", live, 1.0),
        ):
            ok = [r["seconds"] for r in rs if r["status"] == 200]
            p = percentiles(ok)
            rows.append(
                {
                    "while": name,
                    "ok": f"{len(ok)}/{len(rs)}",
                    **p,
                    "target_s": target,
                    "met": None if target is None else bool(len(ok) == len(rs) and p["max_s"] <= target),
                    "statuses": sorted({str(r["status"]) for r in rs}),
                }
            )
        return {"rows": rows, **server.memory_mb()}
    finally:
        stop.set()
        server.stop()


def small_requests(data) -> list[tuple[str, dict[str, bytes], dict[str, Any]]]:
    """Requests of at most ~100 KB each (issue 31's "any single request"): (what, files, form). The
    ones an attacker would pick cost the most per byte: a JPEG header claiming 4890² with no data
    after it, a solid 6000×4000 PNG, a 1×1 PNG asking for 2048 px with a style image."""
    from PIL import Image

    def encoded(img, fmt: str, **kw) -> bytes:
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        return buf.getvalue()

    header_only = encoded(Image.new("RGB", (4890, 4890), (120, 90, 60)), "JPEG", quality=90)[:631]
    solid = encoded(Image.new("RGB", (6000, 4000), (200, 30, 30)), "PNG", optimize=True)
    dot = encoded(Image.new("RGB", (1, 1), (10, 200, 10)), "PNG")
    photo = data["variants"][-1]
    return [
        ("512² JPEG photo, built-in style, 512 px", {"image": photo}, {"style": "candy", "size": "512"}),
        ("the same photo asking for 1024 px", {"image": photo}, {"style": "candy", "size": "1024"}),
        ("512² photo + a style image (AdaIN), 512 px", {"image": photo, "style_image": data["style"]}, {"size": "512"}),
        ("631-byte JPEG header claiming 4890²", {"image": header_only}, {"style": "candy"}),
        (f"{len(solid) // 1024} KB solid 6000×4000 PNG", {"image": solid}, {"style": "candy"}),
        ("69-byte 1×1 PNG, 2048 px, a style image", {"image": dot, "style_image": data["style"]}, {"size": "2048"}),
    ]


def run_cost(args, data, backend: str) -> dict[str, Any]:
    """What one small request costs the server: CPU seconds (its process's utime + stime, all
    threads) and resident memory added, each request alone on a warm server, 3 times (the photo
    re-encoded each time, so no cache answers)."""
    import httpx
    from PIL import Image

    tick = os.sysconf("SC_CLK_TCK")

    def cpu_s() -> float:
        fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime, stime

    def fresh(files: dict[str, bytes], k: int) -> dict[str, bytes]:  # another file of the same picture
        if k == 0 or files["image"] is not data["variants"][-1]:
            return files
        with Image.open(io.BytesIO(files["image"])) as im:
            buf = io.BytesIO()
            im.convert("RGB").save(buf, "JPEG", quality=80 + k)
        return {**files, "image": buf.getvalue()}

    server = Server(args, backend, [])
    rows = []
    try:
        with httpx.Client() as client:
            server.wait_ready(client)
            post(client, server.url, {"image": data["variants"][0]}, {"style": "candy", "size": "512"})  # warm-up
            post(client, server.url, {"image": data["variants"][1], "style_image": data["style"]}, {"size": "512"})
            for what, files, form in small_requests(data):
                runs = []
                for k in range(3):
                    sent = fresh(files, k)
                    time.sleep(0.5)  # the last request's threads settle
                    c0, m0 = cpu_s(), server.memory_mb()["rss_mb"]
                    r = post(client, server.url, sent, form)
                    runs.append({**r, "cpu_s": cpu_s() - c0, "rss_added_mb": server.memory_mb()["rss_mb"] - m0})
                bytes_sent = sum(len(v) for v in files.values())
                rows.append(
                    {
                        "backend": backend,
                        "request": what,
                        "bytes": bytes_sent,
                        "statuses": sorted({str(r["status"]) for r in runs}),
                        "seconds": runner.median([r["seconds"] for r in runs]),
                        "cpu_s": max(r["cpu_s"] for r in runs),
                        "rss_added_mb": max(r["rss_added_mb"] for r in runs),
                        "met": bytes_sent > 100 * 1024
                        or all(r["cpu_s"] <= 0.5 and r["rss_added_mb"] <= 100 for r in runs),
                    }
                )
        return {"rows": rows, **server.memory_mb()}
    finally:
        server.stop()


def run_soak(args, data) -> dict[str, Any]:
    import httpx

    server = Server(args, "auto", [])
    sizes, formats, styles = ("256", "512", "768", "1024"), ("png", "jpeg", "webp"), STYLES
    try:
        with httpx.Client() as client:
            server.wait_ready(client)
            base = server.memory_mb()["rss_mb"]

            def one(i: int) -> dict[str, Any]:
                form = {"size": sizes[i % 4], "format": formats[i % 3], "style": styles[i % len(styles)]}
                files = {"image": data["variants"][i % len(data["variants"])]}
                if i % 5 == 4:  # a style image (AdaIN) every fifth request
                    files["style_image"] = data["style"]
                    form.pop("style")
                return post(client, server.url, files, form)

            samples, statuses = [], {}
            t0 = time.perf_counter()
            with ThreadPoolExecutor(2) as pool:
                for i, r in enumerate(pool.map(one, range(args.soak_requests))):
                    statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
                    if (i + 1) % 50 == 0:
                        samples.append({"requests": i + 1, **server.memory_mb()})
            wall = time.perf_counter() - t0
            end = server.memory_mb()
            time.sleep(3.5)
            idle = server.memory_mb()
        return {
            "requests": args.soak_requests,
            "statuses": statuses,
            "wall_s": wall,
            "rss_start_mb": base,
            "rss_end_mb": end["rss_mb"],
            "peak_rss_mb": end["peak_rss_mb"],
            "rss_idle_mb": idle["rss_mb"],
            "samples": samples,
        }
    finally:
        server.stop()


def run_browser(args) -> dict[str, Any]:
    from instyle.serve.browser import CHROMIUM_FLAGS, find_chromium

    chromium = find_chromium()
    if chromium is None:
        return {"skipped": "no chromium (Debian: apt-get install chromium)"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"skipped": "no Playwright for Python (pip install playwright)"}
    import httpx

    server = Server(args, "auto", ["--no-adain"])
    try:
        with httpx.Client() as client:
            server.wait_ready(client)
        with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                profile, executable_path=chromium, headless=True, args=list(CHROMIUM_FLAGS)
            )
            page = ctx.new_page()
            page.goto(server.url)
            page.wait_for_selector("#gallery input")
            page.click("#tab-live")
            page.click("#live-start")
            page.wait_for_function(
                "() => Number(document.getElementById('fps').dataset.frames || 0) >= 10", timeout=60_000
            )
            f0, t0 = int(page.get_attribute("#fps", "data-frames")), time.perf_counter()
            time.sleep(args.live_seconds)
            f1, seconds = int(page.get_attribute("#fps", "data-frames")), time.perf_counter() - t0
            shown = page.inner_text(".stats")
            ctx.close()
        return {
            "size": "320x240",
            "fps": (f1 - f0) / seconds,
            "page_reading": shown,
            "seconds": seconds,
            "camera": "Chromium's fake camera",
        }
    finally:
        server.stop()


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = runner.new_report(
        "serve",
        "Does instyle serve hold under load (only 200/413/429/503, health answered throughout), and how fast is it "
        "end to end (512² latency, throughput, live-mode fps)?",
        settings={
            "smoke": args.smoke,
            "runs": args.runs,
            "backends": args.backends,
            "size": args.size,
            "idle_requests": args.idle_requests,
            "concurrency": args.concurrency,
            "live_seconds": args.live_seconds,
            "workers": args.workers,
            "queue": args.queue,
            "max_upload_mb": args.max_upload_mb,
            "slow_clients": args.slow_clients,
            "soak_requests": args.soak_requests,
            "live_clients": args.live_clients,
            "threads": args.threads,
        },
        results={},
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="instyle-bench-serve-") as tmp:
        data = load_inputs(args, Path(tmp))
        report["inputs"] = {"photo": data["photo"], "painting": data["painting"]}
        results = report["results"]

        def per_backend(key: str, what: str, run, summary) -> list[dict[str, Any]]:
            """One run of ``run(args, data, backend)`` per --backends."""
            return [runner.run_job(key, f"{what}, {b}", lambda b=b: run(args, data, b), summary) for b in args.backends]

        if "idle" in args.runs:
            results["idle"] = per_backend(
                "idle", f"{args.idle_requests} single requests", run_idle, lambda r: f"p50 {r['p50_s']:.3f} s"
            )
        if "burst" in args.runs:
            results["burst"] = runner.run_job(
                "burst",
                f"{args.concurrency} requests at once",
                lambda: run_burst(args, data),
                lambda r: f"{r['statuses']}, {r['throughput_rps']:.2f} req/s",
            )
        if "live" in args.runs:
            results["live"] = runner.run_job(
                "live", "WebSocket client, 320x240", lambda: run_live(args, data), lambda r: f"{r['fps']:.1f} fps"
            )
        if "soak" in args.runs:
            results["soak"] = runner.run_job(
                "soak",
                f"{args.soak_requests} mixed requests",
                lambda: run_soak(args, data),
                lambda r: f"RSS {r['rss_end_mb']:.0f} MiB, {r['rss_idle_mb']:.0f} idle",
            )
        if "abuse" in args.runs:
            results["abuse"] = runner.run_job(
                "abuse",
                f"{args.slow_clients} slow uploads, then {args.live_clients} live clients",
                lambda: run_abuse(args, data),
                lambda r: " ".join(str(row["met"]) for row in r["rows"][1:]),
            )
        if "cost" in args.runs:
            results["cost"] = per_backend(
                "cost",
                "small requests, one at a time: CPU and memory each",
                run_cost,
                lambda r: " ".join("yes" if row["met"] else "NO" for row in r["rows"]),
            )
        if "browser" in args.runs:
            results["browser"] = runner.run_job(
                "browser",
                "headless Chromium, fake camera",
                lambda: run_browser(args),
                lambda r: r.get("skipped") or f"{r['fps']:.1f} fps",
            )

    results = report["results"]
    if results.get("idle"):
        print("\nSingle requests on an idle server (upload + decode + network + PNG + download):\n")
        print(
            runner.format_table(
                results["idle"],
                [
                    ("backend", "backend"),
                    ("ok", "ok"),
                    ("p50_s", "p50 s", ".3f"),
                    ("p95_s", "p95 s", ".3f"),
                    ("peak_rss_mb", "server peak RSS MiB", ".0f"),
                    ("server_start_s", "start s", ".2f"),
                ],
            )
        )
    burst = results.get("burst")
    if burst and "error" not in burst:
        print(
            f"\nBurst: {burst['concurrency']} requests at once, {burst['wall_s']:.2f} s, "
            f"{burst['throughput_rps']:.2f} stylized/s:\n"
        )
        print(
            runner.format_table(
                burst["rows"],
                [
                    ("kind", "kind"),
                    ("sent", "sent"),
                    ("statuses", "statuses", lambda v: " ".join(f"{k}:{n}" for k, n in v.items())),
                    ("p50_s", "p50 s (200s)", ".3f"),
                    ("p95_s", "p95 s", ".3f"),
                    ("max_s", "max s", ".3f"),
                ],
            )
        )
        print(
            f"\nhealth polls: {burst['health_polls']}, failed: {burst['health_failures']}, "
            f"slowest {burst['health_max_s']:.3f} s; server peak RSS {burst['peak_rss_mb']:.0f} MiB, "
            f"{burst['rss_after_mb']:.0f} right after, {burst['rss_idle_mb']:.0f} once idle; "
            f"healthy after: {burst['healthy_after']}; unexpected statuses: {len(burst['unexpected'])}"
        )
        ok &= not burst["unexpected"] and burst["health_failures"] == 0 and burst["healthy_after"]
    elif burst:
        ok = False
    live_rows = [
        {"client": name, **results[key]}
        for key, name in (("live", "Python WebSocket client"), ("browser", "headless Chromium page"))
        if key in results and "fps" in results[key]
    ]
    if live_rows:
        print("\nLive mode, 320x240, stabilized (full), end to end:\n")
        print(
            runner.format_table(
                live_rows,
                [
                    ("client", "client"),
                    ("fps", "fps", ".1f"),
                    ("latency_p50_s", "latency p50 s", ".3f"),
                    ("dropped", "dropped"),
                ],
            )
        )
    abuse = results.get("abuse")
    if abuse and "rows" in abuse:
        print(f"\nRequests of {args.size}² under abuse (one server; target: the slowest of 5 answers):\n")
        print(
            runner.format_table(
                abuse["rows"],
                [
                    ("while", "while"),
                    ("ok", "ok"),
                    ("p50_s", "p50 s", ".3f"),
                    ("max_s", "max s", ".3f"),
                    ("target_s", "target s", lambda v: "" if v is None else f"{v:.3f}"),
                    ("met", "met", lambda v: "" if v is None else "yes" if v else "NO"),
                ],
            )
        )
    soak = results.get("soak")
    if soak and "samples" in soak:
        print(
            f"\nSoak: {soak['requests']} mixed requests in {soak['wall_s']:.0f} s ({soak['statuses']}); server RSS "
            f"{soak['rss_start_mb']:.0f} MiB at start, {soak['rss_end_mb']:.0f} at the end, peak "
            f"{soak['peak_rss_mb']:.0f}, {soak['rss_idle_mb']:.0f} once idle:\n"
        )
        print(runner.format_table(soak["samples"], [("requests", "requests"), ("rss_mb", "RSS MiB", ".0f")]))
    cost_rows = [row for run in results.get("cost") or [] for row in run.get("rows", [])]
    if cost_rows:
        print("\nWhat one request costs the server (alone, warm; the most of 3; target ≤ 0.5 s CPU, ≤ 100 MB):\n")
        print(
            runner.format_table(
                cost_rows,
                [
                    ("backend", "backend"),
                    ("request", "request"),
                    ("bytes", "bytes"),
                    ("statuses", "status", " ".join),
                    ("seconds", "wall s", ".3f"),
                    ("cpu_s", "CPU s", ".2f"),
                    ("rss_added_mb", "RSS added MiB", ".0f"),
                    ("met", "met", lambda v: "yes" if v else "NO"),
                ],
            )
        )
    for key in ("idle", "live", "browser", "abuse", "soak", "cost"):
        items = results.get(key)
        for item in items if isinstance(items, list) else [items] if items else []:
            if "error" in item:
                ok = False
                print(f"error in {key}: {item['error'].splitlines()[0]}")
    if not ok:
        report["notes"].append("a run failed or the server answered outside 200/413/429/503")
    runner.finish_report(report, args.json, complete=ok)
    print()
    runner.print_notes(report["notes"], args.json)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
