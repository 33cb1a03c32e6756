"""How ``instyle serve`` runs: one frozen dataclass, checked when it is made (no fastapi, no torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..choices import BACKENDS, STABILIZE_MODES, check
from ..pipeline import cores
from . import limits

#: Names of this machine: a server bound to one of them answers only requests naming one of them.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ServeConfig:
    """Settings of the web app (:func:`instyle.serve.create_app`) and its server.

    Attributes:
        host, port: where ``instyle serve`` listens (127.0.0.1: this machine only).
        workers: inference threads (default: one per core); each runs torch and onnxruntime with
            ``cores // workers`` threads, so the pool never asks for more threads than cores.
        queue: requests admitted beyond those running; one more is refused with 429.
        timeout: seconds from a request's admission to its answer; later is 503.
        max_upload_bytes: largest file (photo or style image) of a request: 413 beyond.
        max_pixels: largest image (width × height, read from the header before decoding): 413.
        max_size: largest output (longer side, px) a request may ask for.
        default_size: output size when a request names none (the photo's own when smaller).
        style_size: style images are read at this longer side (as ``instyle stylize``).
        backend: runtime of the built-in network for ``POST /api/stylize``: ``auto`` is torch,
            measured faster in a warm server (docs/serve.md; :mod:`instyle.backends`' table);
            live mode always runs torch, whose statistics filter stabilizes frames.
        adain: load AdaIN (any style image, α, presets) at start-up; without it those requests
            get 422.
        cache_bytes: memory for decoded photos kept by content hash (least recently used out).
        style_cache: style statistics kept by content hash.
        min_upload_rate, upload_grace: a body must arrive at this average rate (bytes/s) after the
            grace (s), or the request ends with 408.
        upload_buffer_bytes: bytes of request bodies read at once (by Content-Length); more: 429.
        per_client: requests one client address may have admitted at once (0: no cap; None: 8,
            or no cap on a loopback address, where every client is this machine).
        allowed_hosts: Host header values (without port) the server answers, comma-separated; by
            default, bound to a loopback address, only the loopback names (so a DNS-rebinding page
            cannot read it); bound elsewhere, any ("*").
        allowed_origins: Origins (scheme://host[:port]) besides the server's own whose pages may post
            work to it or open live mode, comma-separated ("*": any).
        live_connections: live (webcam) connections at once; more are closed with code 1013.
        live_idle: seconds a live connection may stay silent before it is closed.
        live_max_size: live frames are shrunk to this longer side.
        live_stabilize: default stabilization of live frames (:data:`~instyle.choices.STABILIZE_MODES`).
        thumbnail_size: side of the square gallery thumbnails.

    Example:
        >>> ServeConfig(port=8080, workers=2).threads_per_worker in (1, 2, 4, 8)
        True
    """

    host: str = limits.HOST
    port: int = limits.PORT
    workers: int = 0
    queue: int = limits.QUEUE
    timeout: float = limits.TIMEOUT
    max_upload_bytes: int = limits.MAX_UPLOAD_BYTES
    max_pixels: int = limits.MAX_PIXELS
    max_size: int = limits.MAX_SIZE
    default_size: int = limits.DEFAULT_SIZE
    style_size: int = 512
    backend: str = "auto"
    adain: bool = True
    cache_bytes: int = limits.CACHE_BYTES
    style_cache: int = 64
    min_upload_rate: int = limits.MIN_UPLOAD_RATE
    upload_grace: float = limits.UPLOAD_GRACE
    upload_buffer_bytes: int = limits.UPLOAD_BUFFER_BYTES
    per_client: int | None = None
    allowed_hosts: str = ""
    allowed_origins: str = ""
    live_connections: int = limits.LIVE_CONNECTIONS
    live_idle: float = limits.LIVE_IDLE
    live_max_size: int = 640
    live_stabilize: str = limits.LIVE_STABILIZE
    thumbnail_size: int = 128

    def __post_init__(self) -> None:
        check(self.backend, BACKENDS, "backend")
        check(self.live_stabilize, STABILIZE_MODES, "live stabilize")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be from 0 to 65535, got {self.port}")
        if not self.host:
            raise ValueError("host must not be empty")
        ints = {
            "workers": (0, 256),
            "queue": (0, 4096),
            "max_upload_bytes": (1, 2**40),
            "max_pixels": (1, 2**40),
            "max_size": (16, 8192),
            "default_size": (16, 8192),
            "style_size": (16, 8192),
            "cache_bytes": (0, 2**44),
            "style_cache": (0, 2**20),
            "live_connections": (0, 1024),
            "min_upload_rate": (0, 2**40),
            "upload_buffer_bytes": (1, 2**44),
            "live_max_size": (16, 4096),
            "thumbnail_size": (16, 1024),
        }
        for name, (low, high) in ints.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name.replace('_', ' ')} must be an integer from {low} to {high}, got {value!r}")
        if self.per_client is not None and (
            isinstance(self.per_client, bool)
            or not isinstance(self.per_client, int)
            or not 0 <= self.per_client <= 4096
        ):
            raise ValueError(f"per client must be an integer from 0 to 4096, got {self.per_client!r}")
        for name in ("timeout", "upload_grace", "live_idle"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 < value <= 86400):
                raise ValueError(
                    f"{name.replace('_', ' ')} must be a number of seconds > 0 and <= 86400, got {value!r}"
                )

    @property
    def worker_count(self) -> int:
        """Inference threads: :attr:`workers`, or one per core."""
        return self.workers or cores()

    @property
    def threads_per_worker(self) -> int:
        """torch / onnxruntime threads of each worker: the cores shared out, at least 1."""
        return max(1, cores() // self.worker_count)

    @property
    def client_cap(self) -> int:
        """Requests one client may have admitted at once (0: no cap)."""
        if self.per_client is not None:
            return self.per_client
        return 0 if self.host in LOOPBACK else limits.PER_CLIENT

    @property
    def hosts(self) -> frozenset | None:
        """Host names the server answers (lower case, no port); None: any."""
        names = [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]
        if "*" in names:
            return None
        if not names:
            if self.host not in LOOPBACK:
                return None
            names = list(LOOPBACK)
        return frozenset(h.strip("[]") for h in names)

    @property
    def origins(self) -> frozenset | None:
        """Origins, besides the server's own, allowed to post work and open live mode; None: any."""
        names = [o.strip().rstrip("/").lower() for o in self.allowed_origins.split(",") if o.strip()]
        return None if "*" in names else frozenset(names)

    @property
    def slots(self) -> int:
        """Requests admitted at once: running plus queued."""
        return self.worker_count + self.queue

    @property
    def max_request_bytes(self) -> int:
        """Largest request body: two files (photo and style image) and the form fields."""
        return 2 * self.max_upload_bytes + 64 * 1024

    def url(self, port: int | None = None) -> str:
        """``http://HOST:PORT/`` (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port if port is None else port}/"
