"""Driving the page in a headless browser (the browser tests and ``benchmarks/serve.py``): where
Debian's Chromium is and the flags it runs with. No Playwright import here: callers bring it."""

from __future__ import annotations

import shutil

#: Headless, no network of its own, a fake camera that needs no permission prompt.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
)


def find_chromium() -> str | None:
    """The Chromium executable on PATH (Debian: ``apt-get install chromium``), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")
