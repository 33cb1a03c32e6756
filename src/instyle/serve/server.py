"""Listening: ``instyle serve`` (:func:`serve`) and a server in a background thread for tests and
benchmarks (:func:`running`).

The socket is bound here, before uvicorn starts, so that a port in use or a host that does not
resolve is one clear error, and port 0 picks a free port whose number is then printed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

from ..errors import InstyleError, UsageError, one_line
from .config import ServeConfig


def check_installed() -> None:
    """An :class:`~instyle.errors.InstyleError` naming the fix when the web stack is missing."""
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn", "multipart") if importlib.util.find_spec(m) is None]
    if missing:
        raise InstyleError(
            f"instyle serve needs {', '.join(missing)} (python-multipart for 'multipart'): pip install 'instyle[serve]'"
        )


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port``; one-line errors for a bad host or a taken port."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise UsageError(f"cannot listen on host {host!r}: {one_line(exc)}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or one_line(exc)
        raise InstyleError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock


def _server(config: ServeConfig, access_log: bool, log_level: str):
    import uvicorn

    from .app import create_app

    app = create_app(config)
    uv = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=access_log,
        ws_max_size=16 * 2**20,
        timeout_graceful_shutdown=5,
        ws="websockets-sansio" if _has_websockets_sansio() else "auto",
    )
    return uvicorn.Server(uv)


def _has_websockets_sansio() -> bool:
    try:
        import uvicorn.protocols.websockets.websockets_sansio_impl  # noqa: F401
    except ImportError:
        return False
    return True


def serve(
    config: ServeConfig,
    *,
    access_log: bool = False,
    log_level: str = "warning",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run the app on ``config.host``:``config.port`` until interrupted (Ctrl-C or SIGTERM);
    ``on_ready(url)`` once it listens."""
    check_installed()
    sock = bind(config.host, config.port)
    port = sock.getsockname()[1]
    server = _server(config, access_log, log_level)
    if on_ready is not None:
        original = server.startup

        async def startup(sockets=None):
            await original(sockets=sockets)
            on_ready(config.url(port))

        server.startup = startup
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if server.should_exit:
        # Stopped by a signal. uvicorn raises it again once it has shut down, but a SIGINT raised
        # while its last coroutine returns only cancels asyncio's finished task and is lost (the
        # CLI then exited 0, not 130: seen once in a CI run): Ctrl-C is an interruption.
        raise KeyboardInterrupt


@contextlib.contextmanager
def running(config: ServeConfig, *, timeout: float = 120.0) -> Iterator[tuple[str, object]]:
    """A server on ``config.host`` and a free port in a background thread: yields ``(url, server)``
    once it answers, and stops it after the block.

    Example:
        >>> with running(ServeConfig(adain=False)) as (url, _):     # doctest: +SKIP
        ...     urllib.request.urlopen(url + "api/health").read()
    """
    check_installed()
    sock = bind(config.host, 0)
    port = sock.getsockname()[1]
    server = _server(config, access_log=False, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="instyle-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise InstyleError("the server did not start")
        time.sleep(0.05)
    try:
        yield config.url(port), server
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
