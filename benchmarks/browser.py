#!/usr/bin/env python
"""The page's networks on the visitor's device (issue 36), end to end in headless Chromium with
WebAssembly: the real server (``python -m instyle serve``) serving the page, nothing computed on it.

Measures, with Chromium's fake camera and generated pictures:

* ``weight``: bytes the page loads before its first picture on the device (page, ONNX Runtime Web,
  the built-in network), and the time from opening the page to that picture (first use).
* ``photo``: a 512² photo with a style image (the light AdaIN network in the page): from choosing
  the file to the picture, and with a built-in style.
* ``live``: live mode on the device at 320×240 and 640×480, frames per second over ``--live-seconds``
  (the network for video with shared statistics).

The POST and WebSocket counts must be 0: no picture reaches the server.

Usage (from the repository root; ``python -m benchmarks.browser`` works too)::

    python benchmarks/browser.py
    python benchmarks/browser.py --smoke
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import the benchmarks package from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from benchmarks import runner
from benchmarks.serve import Server

SMOKE = {"live_seconds": 2.0, "sizes": ["320x240"]}
TARGETS = {
    "first_use_s": 3.0,
    "weight_mb": 15.0,
    "adain_512_s": 1.5,
    "live_320x240_fps": 20.0,
    "live_640x480_fps": 10.0,
}


def parse_args(argv: Sequence[str] | None = None):
    p = runner.parser("browser", "The page's networks in headless Chromium: page weight, photo and live speed.")
    p.add_argument("--live-seconds", type=float, default=10.0, help="length of each live measurement")
    p.add_argument("--sizes", nargs="+", default=["320x240", "640x480"], help="live camera sizes")
    p.add_argument("--max-upload-mb", type=float, default=16.0, help=argparse_hide())
    p.add_argument("--workers", type=int, default=None, help=argparse_hide())
    p.add_argument("--queue", type=int, default=None, help=argparse_hide())
    runner.add_run_args(p, smoke=SMOKE, threads="OMP/MKL threads of the server (it computes nothing here)")
    return runner.parse_args(p, argv, "browser", SMOKE)


def argparse_hide() -> str:
    import argparse

    return argparse.SUPPRESS


def _pictures(folder: Path) -> dict[str, Path]:
    import numpy as np
    from PIL import Image

    yy, xx = np.mgrid[0:512, 0:512]
    photo = np.stack([xx // 2, yy // 2, (xx + yy) // 4], 2).astype(np.uint8)
    rng = np.random.default_rng(0)
    style = np.clip(rng.normal(120, 60, (384, 512, 3)), 0, 255).astype(np.uint8)
    out = {"photo": folder / "photo.png", "style": folder / "style.png"}
    Image.fromarray(photo).save(out["photo"])
    Image.fromarray(style).save(out["style"])
    return out


def _result_after(page, previous: str | None, timeout: float = 120) -> float:
    """Seconds until #after shows a new picture."""
    t0 = time.perf_counter()
    page.wait_for_function(
        "(prev) => { const s = document.getElementById('after').getAttribute('src'); return s && s !== prev; }",
        arg=previous,
        timeout=timeout * 1000,
    )
    return time.perf_counter() - t0


def measure(args, pictures) -> dict[str, Any]:
    import httpx
    from playwright.sync_api import sync_playwright

    from instyle.serve.browser import CHROMIUM_FLAGS, find_chromium

    chromium = find_chromium()
    if chromium is None:
        return {"skipped": "no chromium (Debian: apt-get install chromium)"}
    server = Server(args, "auto", ["--no-adain"])
    try:
        with httpx.Client() as client:
            server.wait_ready(client)
        with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
            ctx = None
            for _ in range(2):  # a launch beside other browsers on a loaded machine can fail once
                try:
                    ctx = pw.chromium.launch_persistent_context(
                        profile, executable_path=chromium, headless=True, args=list(CHROMIUM_FLAGS)
                    )
                    break
                except Exception as exc:  # said in the report as a skip, not a number
                    error = f"chromium did not start here ({type(exc).__name__})"
                    time.sleep(2)
            if ctx is None:
                return {"skipped": error}
            loaded, uploads = [], []
            ctx.on("response", lambda r: loaded.append(int(r.headers.get("content-length", 0) or 0)))
            ctx.on("request", lambda r: uploads.append(r.url) if r.method == "POST" else None)
            page = ctx.new_page()
            sockets = []
            page.on("websocket", lambda ws: sockets.append(ws.url))
            t0 = time.perf_counter()
            page.goto(server.url)
            page.wait_for_selector("#gallery input")
            page.check("#local")
            page.select_option("#size", "512")
            page.set_input_files("#photo-file", str(pictures["photo"]))
            _result_after(page, None)
            first_use = time.perf_counter() - t0
            weight = sum(loaded) / 1e6
            builtin_src = page.get_attribute("#after", "src")
            page.focus("#gallery input:checked")
            page.keyboard.press("ArrowRight")
            builtin = _result_after(page, builtin_src)
            adain_src = page.get_attribute("#after", "src")
            page.set_input_files("#style-file", str(pictures["style"]))
            adain = _result_after(page, adain_src)
            timing = page.inner_text("#timing")
            live = {}
            for size in args.sizes:
                w, h = (int(v) for v in size.split("x"))
                page.evaluate(
                    """([w, h]) => { const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
                        navigator.mediaDevices.getUserMedia = () => gum({ video: { width: w, height: h } }); }""",
                    [w, h],
                )
                page.click("#tab-live")
                page.select_option("#live-size", str(w))  # the page paints frames this wide
                page.click("#live-start")
                page.wait_for_function(
                    "() => Number(document.getElementById('fps').dataset.frames || 0) >= 5", timeout=120_000
                )
                f0, t1 = int(page.get_attribute("#fps", "data-frames")), time.perf_counter()
                time.sleep(args.live_seconds)
                f1 = int(page.get_attribute("#fps", "data-frames"))
                live[size] = (f1 - f0) / (time.perf_counter() - t1)
                page.click("#live-stop")
                page.evaluate("() => { document.getElementById('fps').dataset.frames = '0'; }")
                page.click("#tab-photo")
            threads = page.evaluate("() => self.crossOriginIsolated ? 'threads' : 'one thread'")
            ctx.close()
        return {
            "weight_mb": weight,
            "first_use_s": first_use,
            "builtin_512_s": builtin,
            "adain_512_s": adain,
            "page_timing": timing,
            "live_fps": live,
            "posts": len(uploads),
            "websockets": len(sockets),
            "wasm": threads,
        }
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = runner.new_report(
        "browser",
        "Does the page run instyle's networks on the device fast enough (issue 36's targets), with nothing uploaded?",
        settings={"smoke": args.smoke, "live_seconds": args.live_seconds, "sizes": args.sizes},
        results={},
    )
    with tempfile.TemporaryDirectory(prefix="instyle-bench-browser-") as tmp:
        pictures = _pictures(Path(tmp))
        r = runner.run_job("page", "headless Chromium, WebAssembly", lambda: measure(args, pictures), lambda r: "done")
    report["results"] = r
    ok = "error" not in r
    if "skipped" in r:
        print(
            runner.format_table(
                [{"what": "the page on the device", "value": "skipped: " + r["skipped"]}],
                [("what", "what"), ("value", "measured")],
            )
        )
    elif ok:
        rows = [
            {
                "what": "page weight before the first picture (MB)",
                "value": r["weight_mb"],
                "target": TARGETS["weight_mb"],
            },
            {
                "what": "first use: open to first 512² picture (s)",
                "value": r["first_use_s"],
                "target": TARGETS["first_use_s"],
            },
            {"what": "a built-in style on a 512² photo (s)", "value": r["builtin_512_s"], "target": None},
            {"what": "a style image on a 512² photo (s)", "value": r["adain_512_s"], "target": TARGETS["adain_512_s"]},
        ]
        rows += [
            {
                "what": f"live, camera {size} (painted {size.split('x')[0]} px wide), fps",
                "value": fps,
                "target": TARGETS.get(f"live_{size}_fps"),
            }
            for size, fps in r["live_fps"].items()
        ]
        print(f"\nThe page's networks on the device ({r['wasm']}; POSTs {r['posts']}, WebSockets {r['websockets']}):\n")
        print(
            runner.format_table(
                rows,
                [
                    ("what", "what"),
                    ("value", "measured", ".2f"),
                    ("target", "target", lambda v: "" if v is None else f"{v:g}"),
                ],
            )
        )
        ok = r["posts"] == 0 and r["websockets"] == 0
    runner.finish_report(report, args.json, complete=ok)
    runner.print_notes(report["notes"], args.json)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
