"""``instyle serve``: the web app (a page with a style gallery, sliders, before/after and a live
webcam mode) and its HTTP API, on FastAPI and uvicorn.

Layout: :mod:`.config` (:class:`ServeConfig`, no heavy imports), :mod:`.work` (admission and the
worker threads), :mod:`.engine` (models, caches, the jobs), :mod:`.app` (routes, errors, live
WebSocket), :mod:`.server` (listening: ``instyle serve``, or a thread for tests), ``static/``
(the page: plain HTML, CSS and JavaScript, nothing fetched from elsewhere).

Example:
    >>> from instyle.serve import ServeConfig, create_app                   # doctest: +SKIP
    >>> app = create_app(ServeConfig(workers=2, queue=8))  # any ASGI server runs it  # doctest: +SKIP

Importing this package imports neither fastapi nor torch: :func:`create_app` does, when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .config import ServeConfig

__all__ = ["ServeConfig", "create_app"]


def create_app(config: ServeConfig | None = None, **kwargs: Any) -> FastAPI:
    """:func:`instyle.serve.app.create_app` (imports fastapi on first use)."""
    from .app import create_app as make

    return make(config, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "ServeConfig":  # imported on first use: ``instyle --help`` builds every parser
        from .config import ServeConfig

        return ServeConfig
    raise AttributeError(f"module 'instyle.serve' has no attribute {name!r}")
