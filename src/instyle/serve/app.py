"""The web app: the page, the HTTP API and live mode, on FastAPI (:func:`create_app`, which
puts the two routers, :func:`page_router` and :func:`api_router`, behind the upload and security
gates and the JSON error handlers).

Routes: ``GET /`` (the page; its script and style sheet under ``/static/``), ``POST /api/stylize``,
``GET /api/styles`` and each style's thumbnail, ``GET /api/health``, the ``/api/live`` WebSocket,
and FastAPI's OpenAPI schema (``/openapi.json``) and its viewer (``/docs``).

Every error is JSON, ``{"error": {"status": 413, "code": "too_large", "message": "…"}}``:
400 unreadable image, 413 too many bytes or pixels, 415 not an image type the server takes (sniffed
from the bytes), 422 bad field value or unknown style, 429 busy (all slots taken), 503 time-out or a
model that is not available. Nothing is written to disk but the upload's spooled temporary file
(Starlette rolls a part over 1 MiB into an unnamed temporary file, removed when it is closed).
"""

import asyncio
import functools
import gzip
import json
import threading
import time
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.websockets import WebSocketDisconnect

from ..alloc import release_freed_memory
from ..blend import parse_style_specs
from ..choices import STYLIZE_COLOR_MODES, WEB_FORMATS
from ..errors import ImageTooLargeError, InstyleError, UsageError, one_line
from ..imageio import sniff_format
from ..method import choose_color
from ..pipeline import cores
from ..sizes import DEFAULT_STROKE, STROKE_RANGE
from ..version import __version__
from .config import ServeConfig
from .engine import HASH_PATTERN, Engine, Job, Unavailable, UnknownImage
from .page import LOCAL_MODELS, MAX_STYLES, ORT_FILES, STATIC_FILES, local_model_path, manifest, styles_info
from .work import BACKGROUND, LIVE, Busy, Gone, Ticket, TimedOut, WorkPool

ColorMode = Literal[STYLIZE_COLOR_MODES]  # type: ignore[valid-type]
WebFormat = Literal[WEB_FORMATS]  # type: ignore[valid-type]


#: Largest live frame (bytes): a 640×480 JPEG is ~60 KB.
MAX_LIVE_FRAME_BYTES = 4 * 2**20
#: Longest live settings message (characters): a few style names and options.
MAX_SETTINGS_CHARS = 16 * 1024

ERROR_CODES = {
    400: "bad_image",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_type",
    422: "invalid",
    429: "busy",
    500: "internal",
    503: "unavailable",
}


def error_response(status: int, message: str, code: str | None = None, headers: dict | None = None) -> Response:
    """The JSON body of every error."""
    body = {"error": {"status": status, "code": code or ERROR_CODES.get(status, "error"), "message": one_line(message)}}
    return JSONResponse(body, status_code=status, headers=headers)


def classify(exc: BaseException) -> Response:
    """An exception of a request -> its JSON error response."""
    if isinstance(exc, Busy):
        return error_response(429, str(exc), headers={"Retry-After": "1"})
    if isinstance(exc, TimedOut):
        return error_response(503, str(exc), "timeout")
    if isinstance(exc, Gone):  # nobody reads it
        return error_response(499, str(exc), "client_gone")
    if isinstance(exc, Unavailable):
        return error_response(503, str(exc))
    if isinstance(exc, ImageTooLargeError):
        return error_response(413, str(exc))
    if isinstance(exc, UnknownImage):
        return error_response(422, str(exc), "unknown_image")
    if isinstance(exc, (UsageError, ValueError)):
        return error_response(422, str(exc))
    if isinstance(exc, InstyleError):
        return error_response(400, str(exc))
    if isinstance(exc, MemoryError):
        return error_response(503, "out of memory; try a smaller size", "out_of_memory")
    raise exc


# --------------------------------------------------------------------------- the upload gate


class UploadGate:
    """ASGI middleware in front of ``POST /api/stylize``: refuses a body over the limit (413) from
    its Content-Length, reads the body into memory under the limit, the request's deadline (503)
    and an upload-rate floor (408), and only then admits the request into the work pool (429 when
    its slots or the client's share are taken) before FastAPI parses it.

    Reading comes before admission, so clients that upload slowly hold no work slot: they hold a
    share of the upload buffer (bodies being read, counted by their Content-Length), and after
    ``upload_grace`` seconds must keep up ``min_upload_rate`` bytes/s on average. While the job
    waits, the client's disconnect cancels it (:meth:`~instyle.serve.work.Ticket.cancel`).
    A refused upload is still read (and thrown away, up to :attr:`DRAIN_BYTES`): a client that is
    cut off mid-upload sees a broken connection, not the 413 or 429.
    """

    DRAIN_BYTES = 64 * 2**20

    def __init__(self, app: Any, path: str = "/api/stylize"):
        self.app, self.path = app, path

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        config: ServeConfig = state.config
        limit = config.max_request_bytes
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            what = "an invalid Content-Length" if not length.isdigit() else f"{int(length):,} bytes"
            await _drain(receive, self.DRAIN_BYTES, config.timeout)
            await _answer(scope, receive, send, error_response(413, f"request of {what}; the limit is {limit:,}"))
            return
        deadline = time.monotonic() + config.timeout
        reserved = int(length) if length is not None else limit
        if not state.uploads.take(reserved):
            await _drain(receive, limit, config.timeout)
            busy = Busy("the server is receiving too many uploads; try again shortly")
            await _answer(scope, receive, send, classify(busy))
            return
        try:
            body = await _read_body(receive, limit, deadline, config.min_upload_rate, config.upload_grace)
        except _Refused as exc:
            await _answer(scope, receive, send, error_response(exc.status, str(exc), "timeout"))
            return
        finally:
            state.uploads.give(reserved)
        if body is None:
            await _drain(receive, self.DRAIN_BYTES, config.timeout)
            await _answer(scope, receive, send, error_response(413, f"request over {limit:,} bytes"))
            return
        client = (scope.get("client") or ("",))[0] or ""
        try:
            ticket: Ticket = state.pool.admit(client, deadline)
        except Busy as exc:
            await _answer(scope, receive, send, classify(exc))
            return
        # the client's own receive now only ever says it left: then its job is dropped
        gone = asyncio.ensure_future(receive())

        def drop_job(f: asyncio.Future) -> None:
            if not (f.cancelled() or f.exception()):
                ticket.cancel()

        gone.add_done_callback(drop_job)
        try:
            scope.setdefault("state", {})["ticket"] = ticket
            await self.app(scope, _replay(body, gone), send)
        finally:
            gone.cancel()
            ticket.release()


class SecurityGate:
    """ASGI middleware in front of everything: the Host allow-list (:attr:`ServeConfig.hosts`: a
    page on another site that rebinds its DNS name to 127.0.0.1 sends its own name as Host and gets
    400), the Origin check on work (``POST``) and live mode (a page of another site may not make a
    visitor's browser post photos to the local server: 403, or close code 1008), and the headers
    every answer carries: ``nosniff``, no framing, no referrer, the page's Content-Security-Policy,
    and ``no-store`` on stylized results (private pictures are not cached)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        config: ServeConfig = scope["app"].state.config
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1").strip().lower()
        refusal = _foreign(scope, headers, host, config)
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": refusal[1][:120]})
            else:
                await _answer(scope, receive, send, error_response(*refusal, code="forbidden"))
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        extra = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]
        if scope["path"] == "/":
            ws = f"ws://{host} wss://{host}".encode("latin-1")
            extra += [
                (
                    b"content-security-policy",
                    b"default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; "
                    b"img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self' blob: "
                    + ws
                    + b"; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
                ),
            ]
        if scope["path"] == "/" or scope["path"].startswith("/static/"):
            # cross-origin isolation: WebAssembly threads (SharedArrayBuffer) for the networks the
            # page runs on the device; its worker scripts need the same headers as the page
            extra += [
                (b"cross-origin-opener-policy", b"same-origin"),
                (b"cross-origin-embedder-policy", b"require-corp"),
                (b"cross-origin-resource-policy", b"same-origin"),
            ]
        if scope["path"].startswith("/api/") and scope["method"] == "POST":
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = {
                    **message,
                    "headers": [*message.get("headers", []), *(h for h in extra if h[0] not in names)],
                }
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _foreign(scope: dict, headers: dict[bytes, bytes], host: str, config: ServeConfig) -> tuple[int, str] | None:
    """(status, message) refusing a request from a host name or a foreign origin; None: allowed."""
    hosts = config.hosts
    if hosts is not None:
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.strip("[]") not in hosts:
            return (
                400,
                f"this server answers to {', '.join(sorted(hosts))} only (Host: {host[:64]!r}); see --allowed-hosts",
            )
    origin = headers.get(b"origin")
    if origin is None or (scope["type"] == "http" and scope["method"] in ("GET", "HEAD", "OPTIONS")):
        return None  # not a browser's cross-site write (curl and scripts send no Origin)
    origin_text = origin.decode("latin-1").strip().rstrip("/").lower()
    same = origin_text.split("://", 1)[-1] == host
    allowed = config.origins
    if same or allowed is None or origin_text in allowed:
        return None
    return 403, f"requests from pages of {origin_text[:80]!r} are refused; see --allowed-origins"


class UploadBuffer:
    """Bytes of request bodies being read at once, bounded (:class:`UploadGate`)."""

    def __init__(self, capacity: int):
        self.capacity, self.used = capacity, 0

    def take(self, n: int) -> bool:
        if self.used + n > self.capacity and self.used:  # one body alone always fits
            return False
        self.used += n
        return True

    def give(self, n: int) -> None:
        self.used -= n


async def _read_body(receive: Any, limit: int, deadline: float, rate: float, grace: float) -> bytes | None:
    """The whole body, or None past ``limit`` bytes (the rest left unread). :class:`_Refused` 408
    when it falls behind ``rate`` bytes/s after ``grace`` s, 503 at ``deadline`` (monotonic)."""
    chunks: list[bytes] = []
    total = 0
    start = time.monotonic()
    while True:
        # the moment the bytes so far fall behind the floor, or the deadline, whichever is first
        behind = start + grace + total / rate if rate > 0 else deadline
        wait = min(behind, deadline) - time.monotonic()
        try:
            message = await asyncio.wait_for(receive(), max(0.001, wait))
        except asyncio.TimeoutError:
            if time.monotonic() >= deadline - 0.01:
                raise _Refused(503, "the upload took too long") from None
            raise _Refused(
                408, f"the upload is too slow ({total:,} bytes in {time.monotonic() - start:.0f} s)"
            ) from None
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _drain(receive: Any, cap: int, timeout: float) -> None:
    """Read and drop up to ``cap`` bytes of a refused body (see :class:`UploadGate`)."""

    async def drain() -> None:
        total = 0
        while total <= cap:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                return
            total += len(message.get("body", b""))

    try:
        await asyncio.wait_for(drain(), timeout)
    except asyncio.TimeoutError:
        pass


def _replay(body: bytes, gone: "asyncio.Future") -> Any:
    """A ``receive`` that hands over ``body`` once, then the client's own next message (its
    disconnect), which ``gone`` is already waiting for."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await asyncio.shield(gone)

    return replay


async def _answer(scope: dict, receive: Any, send: Any, response: Response) -> None:
    await response(scope, receive, send)


# --------------------------------------------------------------------------- the app


def create_app(config: ServeConfig | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The web app for ``config`` (default :class:`ServeConfig()`); models load when it starts
    (its lifespan), so creating it is cheap. ``engine``: an :class:`~instyle.serve.engine.Engine`
    to use instead of a new one (tests).

    Example:
        >>> from fastapi.testclient import TestClient                              # doctest: +SKIP
        >>> with TestClient(create_app(ServeConfig(adain=False))) as client:        # doctest: +SKIP
        ...     png = client.post("/api/stylize", files={"image": open("photo.jpg", "rb")},
        ...                       data={"style": ["candy:0.7", "wave:0.3"], "size": 512}).content
    """
    config = config or ServeConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        import torch

        threads = torch.get_num_threads()
        per_worker = config.threads_per_worker
        torch.set_num_threads(per_worker)
        app.state.config = config
        app.state.engine = engine if engine is not None else await asyncio.to_thread(Engine, config)
        # torch's thread count is per calling thread under OpenMP: each worker sets its own
        app.state.pool = WorkPool(
            config.worker_count,
            config.queue,
            config.timeout,
            lambda: torch.set_num_threads(per_worker),
            per_client=config.client_cap,
            on_idle=release_freed_memory,  # a burst's peak is not kept resident once the server is idle
        )
        app.state.uploads = UploadBuffer(config.upload_buffer_bytes)
        app.state.live = 0
        # the runtime's files gzipped in the background now, so the first visitor does not wait for it
        # (a daemon thread: nothing to cancel or collect when the server stops first)
        threading.Thread(
            target=lambda: [_ort_file(name, True) for name in ORT_FILES], name="instyle-gzip", daemon=True
        ).start()
        try:
            yield
        finally:
            app.state.pool.close(wait=False)
            torch.set_num_threads(threads)

    app = FastAPI(
        title="instyle",
        version=__version__,
        description="Neural style transfer: built-in styles (one pass of a small network) and any style image "
        '(AdaIN). Errors are JSON: `{"error": {"status", "code", "message"}}`.',
        lifespan=lifespan,
    )
    app.add_middleware(UploadGate)
    app.add_middleware(SecurityGate)  # added last: runs first

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        return error_response(422, f"{where}: {first.get('msg', 'invalid value')}" if where else "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # a 400 from here is the request's form (a broken multipart body), not an image
        code = "bad_request" if exc.status_code == 400 else None
        return error_response(exc.status_code, str(exc.detail), code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        return error_response(500, f"internal error ({type(exc).__name__}); please report it")

    app.include_router(page_router())
    app.include_router(api_router(config))
    return app


@functools.cache
def static_file(name: str) -> bytes:
    """A file of the page (``static/``), read once."""
    return (resources.files("instyle.serve") / "static" / name).read_bytes()


def page_router() -> APIRouter:
    """The page and the files it loads: its script and style sheet, the manifest, the runtime and
    the networks it runs on the visitor's device, and the API reference page."""
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def page() -> Response:
        return HTMLResponse(static_file("index.html"))

    @router.get("/static/{name}")
    async def static_route(name: str) -> Response:
        if name not in STATIC_FILES:  # a fixed list: no request names a file of the server
            return error_response(404, f"no static file {name[:64]!r}")
        return Response(static_file(name), media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})

    @router.get("/api", response_class=HTMLResponse)
    async def api_page(request: Request) -> Response:
        # the page's "API" link: the OpenAPI schema as one HTML page drawn here (FastAPI's /docs
        # loads Swagger UI from a CDN and is blank offline)
        return HTMLResponse(api_reference(request.app.openapi()))

    @router.get("/manifest.webmanifest")
    async def manifest_route() -> Response:
        return JSONResponse(manifest(), media_type="application/manifest+json")

    @router.get("/static/ort/{name}")
    async def ort_route(name: str, request: Request) -> Response:
        if name not in ORT_FILES:
            return error_response(404, f"no static file {name[:64]!r}")
        headers = {"Cache-Control": "max-age=604800", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            # the runtime's WebAssembly is most of the page's weight and gzips well (sizes:
            # docs/serve.md, benchmarks/browser.py): compressed once per server (in a worker
            # thread), sent to every browser that takes gzip
            data = await asyncio.to_thread(_ort_file, name, True)
            headers["Content-Encoding"] = "gzip"
        else:
            data = _ort_file(name, False)
        return Response(data, media_type=ORT_FILES[name], headers=headers)

    @router.get("/models/{name}")
    async def model_route(name: str) -> Response:
        # a shipped network as ONNX, for the page to run on the visitor's device
        if name not in LOCAL_MODELS:
            return error_response(404, f"no model {name[:64]!r}")
        try:
            path = local_model_path(name)
        except InstyleError as exc:  # a package without it
            return error_response(404, str(exc))
        data = await asyncio.to_thread(Path(path).read_bytes)
        return Response(data, media_type="application/octet-stream", headers={"Cache-Control": "max-age=86400"})

    return router


def api_router(config: ServeConfig) -> APIRouter:
    """The HTTP API and live mode for ``config`` (its limits are part of the schema: the largest
    ``size``); the engine, the work pool and the counters live in the app's state (its lifespan)."""
    router = APIRouter()

    @router.get("/api/health", summary="Whether the server is up, and how busy")
    async def health(request: Request) -> dict[str, Any]:
        state = request.app.state
        return {
            "status": "ok",
            "version": __version__,
            "adain": state.engine.adain_state,
            "live_connections": state.live,
            "work": state.pool.status(),
        }

    @router.get("/api/styles", summary="The styles, controls and limits the server offers")
    async def styles(request: Request) -> dict[str, Any]:
        return styles_info(request.app.state.engine, config)

    @router.get(
        "/api/styles/{name}/thumbnail.png",
        summary="A style's gallery thumbnail (PNG)",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}, 404: {"description": "no such style"}},
    )
    async def thumbnail(request: Request, name: str) -> Response:
        eng: Engine = request.app.state.engine
        if name not in eng.names:
            return error_response(404, f"no style {name[:64]!r}")
        try:
            if name not in eng.fast_styles:
                await asyncio.to_thread(eng.adain, 120)
            data = await asyncio.wait_for(
                request.app.state.pool.run_now(eng.thumbnail, name, priority=BACKGROUND), config.timeout * 4
            )
        except asyncio.TimeoutError:
            return error_response(503, "the thumbnail is still being drawn", "timeout")
        except (InstyleError, ValueError, MemoryError) as exc:
            return classify(exc)
        return Response(data, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    image_hash = "SHA-256 (hex) of an image sent before, from the response's X-Image-Id header"

    @router.post(
        "/api/stylize",
        summary="Stylize a photo; returns the image",
        response_class=Response,
        responses={
            200: {
                "content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}},
                "description": "The stylized image. Headers: X-Image-Id (send it as image_id next time instead of "
                "the file), X-Style-Image-Id, X-Method (fast or adain), X-Size, X-Seconds.",
            },
            400: {"description": "unreadable image (empty, truncated, corrupt)"},
            413: {"description": "a file over the byte limit, or an image over the pixel limit"},
            415: {"description": "not an image type the server takes (sniffed from the bytes)"},
            422: {"description": "a bad field value, an unknown style, or an image_id the server does not hold"},
            429: {"description": "busy: every worker and queue slot is taken; retry"},
            503: {"description": "the request timed out, or a model is not available"},
        },
    )
    async def stylize(
        request: Request,
        image: Annotated[UploadFile | None, File(description="the photo (PNG, JPEG, WebP, GIF, BMP, TIFF)")] = None,
        image_id: Annotated[str | None, Form(description=image_hash, pattern=HASH_PATTERN)] = None,
        style: Annotated[
            list[str],
            Form(description="style names (GET /api/styles) with optional :weight, e.g. candy:0.7; repeat to blend"),
        ] = [],  # noqa: B006 - FastAPI copies defaults
        style_image: Annotated[UploadFile | None, File(description="any style image (AdaIN)")] = None,
        style_image_id: Annotated[str | None, Form(description=image_hash, pattern=HASH_PATTERN)] = None,
        style_image_weight: Annotated[
            float | None, Form(ge=0, le=1e30, allow_inf_nan=False, description="the style image's blend weight")
        ] = None,
        alpha: Annotated[
            float, Form(ge=0, le=1, allow_inf_nan=False, description="content-style trade-off (below 1: AdaIN)")
        ] = 1.0,
        color: Annotated[
            ColorMode, Form(description="colours (auto: the style image's own palette for AdaIN, else none)")
        ] = "auto",
        size: Annotated[
            int | None, Form(ge=16, le=config.max_size, description="longer side of the output (px)")
        ] = None,
        stroke: Annotated[
            float,
            Form(
                ge=STROKE_RANGE[0],
                le=STROKE_RANGE[1],
                allow_inf_nan=False,
                description="brush size: 2 = strokes twice as large, 0.5 = half",
            ),
        ] = DEFAULT_STROKE,
        format: Annotated[WebFormat, Form(description="output image format")] = "png",
        quality: Annotated[int, Form(ge=1, le=100, description="JPEG and WebP quality")] = 90,
    ) -> Response:
        state = request.app.state
        eng: Engine = state.engine
        ticket: Ticket | None = getattr(request.state, "ticket", None)
        own_ticket = ticket is None  # reached without the gate (cannot happen through the server)
        try:
            if own_ticket:
                ticket = state.pool.admit()
            assert ticket is not None  # the gate's, or admitted just now
            job = await _job(eng, config, image, image_id, style, style_image, style_image_id, style_image_weight)
            job.alpha, job.color, job.size, job.format, job.quality = alpha, color, size, format, quality
            job.stroke = stroke
            job.method = _method(eng, job)
            job.color = choose_color(job.color, job.method, images=job.has_style_image and not job.styles)
            if job.method == "adain":
                await asyncio.wait_for(asyncio.to_thread(eng.adain, None), max(0.001, ticket.remaining()))
            result = await state.pool.run(ticket, eng.stylize, job)
        except asyncio.TimeoutError:
            return error_response(503, "AdaIN is still loading; try again shortly", "timeout")
        except _Refused as exc:
            return error_response(exc.status, str(exc))
        except Exception as exc:
            return classify(exc)
        finally:
            if own_ticket and ticket is not None:
                ticket.release()
        return Response(result.data, media_type=result.media_type, headers=result.headers)

    # -- live mode

    @router.websocket("/api/live")
    async def live(ws: WebSocket) -> None:
        state = ws.app.state
        await ws.accept()  # then closed with a code the page can tell apart (a refused handshake is a bare 403)
        if state.live >= config.live_connections:
            await ws.close(code=1013, reason="too many live connections; try again later")
            return
        state.live += 1
        try:
            await _live(ws, state.engine, state.pool, config.live_idle)
        finally:
            state.live -= 1

    return router


def api_reference(schema: dict[str, Any]) -> str:
    """The OpenAPI ``schema`` as a plain HTML page (no script): each route, its fields and answers."""
    from html import escape

    def fields(op: dict[str, Any]) -> list[tuple[str, str, str]]:
        rows = [(p["name"], p.get("in", ""), p.get("description", "")) for p in op.get("parameters", [])]
        for media in op.get("requestBody", {}).get("content", {}).values():
            ref = media.get("schema", {}).get("$ref", "")
            body = schema.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], media.get("schema", {}))
            for name, prop in body.get("properties", {}).items():
                rows.append((name, "form", prop.get("description", "")))
        return rows

    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>instyle API</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="stylesheet" href="/static/app.css"></head><body><main class="api">',
        f"<div><h1>{escape(schema['info']['title'])} API {escape(schema['info']['version'])}</h1>",
        f"<p>{escape(schema['info'].get('description', ''))}</p>",
        '<p>The schema: <a href="/openapi.json">/openapi.json</a>. Back to <a href="/">the page</a>.</p>',
    ]
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            parts.append(f"<h2><code>{method.upper()} {escape(path)}</code></h2><p>{escape(op.get('summary', ''))}</p>")
            rows = fields(op)
            if rows:
                parts.append("<table><tr><th>field</th><th>in</th><th>meaning</th></tr>")
                parts += [
                    f"<tr><td><code>{escape(n)}</code></td><td>{w}</td><td>{escape(d)}</td></tr>" for n, w, d in rows
                ]
                parts.append("</table>")
            answers = [
                f"<li><b>{escape(str(k))}</b> {escape(v.get('description', ''))}</li>"
                for k, v in op["responses"].items()
            ]
            parts.append("<ul>" + "".join(answers) + "</ul>")
    parts.append("</div></main></body></html>")
    return "\n".join(parts)


class _Refused(Exception):
    """A request refused before any work, with its status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


async def _read_upload(upload: UploadFile | None, what: str, config: ServeConfig) -> bytes | None:
    """The bytes of an uploaded file, checked: not over the limit (413), not empty (400), of a type
    the server takes, sniffed from the bytes (415)."""
    if upload is None:
        return None
    try:
        if upload.size is not None and upload.size > config.max_upload_bytes:
            raise _Refused(413, f"{what} is {upload.size:,} bytes; the limit is {config.max_upload_bytes:,}")
        data = await upload.read(config.max_upload_bytes + 1)
    finally:
        await upload.close()
    if len(data) > config.max_upload_bytes:
        raise _Refused(413, f"{what} is over {config.max_upload_bytes:,} bytes")
    if not data:
        raise _Refused(400, f"{what} is empty")
    if sniff_format(data[:16]) is None:
        raise _Refused(415, f"{what} is not a PNG, JPEG, WebP, GIF, BMP or TIFF image (judged by its bytes)")
    return data


async def _job(
    eng: Engine,
    config: ServeConfig,
    image: UploadFile | None,
    image_id: str | None,
    style: list[str],
    style_image: UploadFile | None,
    style_image_id: str | None,
    style_image_weight: float | None,
) -> Job:
    """Check a request's images and styles (no model runs): a :class:`Job`, or an error."""
    photo = await _read_upload(image, "image", config)
    style_bytes = await _read_upload(style_image, "style_image", config)
    if photo is None and image_id is None:
        raise UsageError("send the photo as image (a file), or image_id (the X-Image-Id of an earlier answer)")
    if photo is not None and image_id is not None:
        raise UsageError("send image or image_id, not both")
    if style_bytes is not None and style_image_id is not None:
        raise UsageError("send style_image or style_image_id, not both")
    specs = [s for s in style if s.strip()]
    if len(specs) > MAX_STYLES:
        raise UsageError(f"at most {MAX_STYLES} styles can be blended; got {len(specs)}")
    uploaded = style_bytes is not None or style_image_id is not None
    if not specs and not uploaded:
        raise UsageError("choose a style: style=NAME (GET /api/styles), or a style_image file")
    if style_image_weight is not None and not uploaded:
        raise UsageError("style_image_weight is given without a style_image")
    # the uploaded image's weight is one more spec weight: blended by the one rule of instyle.blend
    names, weights = parse_style_specs(
        specs + ([f"upload:{style_image_weight}"] if style_image_weight is not None else ["upload"] if uploaded else [])
    )
    if uploaded:
        names = names[:-1]
    eng.check_styles(names)
    return Job(
        styles=names,
        weights=weights,
        image=photo,
        image_id=image_id if photo is None else None,
        style_image=style_bytes,
        style_image_id=style_image_id if style_bytes is None else None,
    )


@functools.lru_cache(maxsize=2 * len(ORT_FILES))
def _ort_file(name: str, gzipped: bool) -> bytes:
    """A vendored ONNX Runtime Web file (ORT_FILES), as it is or gzipped (made once, at the server's
    start: level 6 is nearly as small as level 9, and faster)."""
    data = (resources.files("instyle.serve") / "static" / "ort" / name).read_bytes()
    return gzip.compress(data, compresslevel=6, mtime=0) if gzipped else data


def _method(eng: Engine, job: Job) -> str:
    """``fast`` or ``adain`` for a checked job (:func:`instyle.method.choose_method`)."""
    from ..method import choose_method

    adain_only = [
        opt
        for opt, on in (
            ("alpha", job.alpha != 1.0),
            ("color match", job.color == "match"),
            ("color palette", job.color == "palette"),
        )
        if on
    ]
    if job.has_style_image or (eng.onnx is None and not eng.fast_styles):
        method = "adain"
    else:
        method = choose_method("auto", job.styles, adain_only, files=False)
        if method == "fast" and any(s not in eng.fast_styles for s in job.styles):
            method = "adain"  # a test's stand-in network: the shipped names are not its styles
        elif method == "adain" and not adain_only and not eng.config.adain and set(job.styles) <= set(eng.fast_styles):
            method = "fast"  # AdaIN was preferred for a built-in style, and this server runs without it
    if method == "adain":
        if not eng.config.adain:
            raise Unavailable("this server runs without AdaIN: use built-in styles, alpha 1 and no color match")
        missing = [s for s in job.styles if s not in eng.presets]
        if missing:
            raise UsageError(f"{missing[0]!r} has no AdaIN preset; alpha, color match and style images need one")
    return method


async def _live(ws: WebSocket, eng: Engine, pool: WorkPool, idle: float) -> None:
    """One live connection. The client sends camera frames (binary: JPEG, PNG or WebP) and settings
    (text: JSON ``{"style": [...], "color": ..., "stabilize": ...}``); the server answers each frame
    with the stylized frame (binary JPEG), and each settings message with the settings in force
    (``{"settings": ...}``) or ``{"error": ...}``. A frame that arrives while another waits replaces
    it and the replaced one is answered ``{"dropped": 1}``: frames are dropped, never queued. A
    connection silent for ``idle`` seconds is closed (code 1000, "idle"), so idle tabs do not hold
    the live slots."""
    session = eng.live_session()
    send_lock = asyncio.Lock()
    latest: bytes | None = None
    settings: dict[str, Any] | None = None
    wake = asyncio.Event()
    closed = False

    async def send(message: Any) -> None:
        async with send_lock:
            if isinstance(message, bytes):
                await ws.send_bytes(message)
            else:
                await ws.send_text(json.dumps(message))

    async def reader() -> None:
        nonlocal latest, settings, closed
        try:
            while True:
                try:
                    message = await asyncio.wait_for(ws.receive(), idle)
                except asyncio.TimeoutError:
                    await ws.close(code=1000, reason="idle")
                    return
                if message["type"] == "websocket.disconnect":
                    return
                data, text = message.get("bytes"), message.get("text")
                if data is not None:
                    if len(data) > MAX_LIVE_FRAME_BYTES:
                        await send({"error": f"frame over {MAX_LIVE_FRAME_BYTES:,} bytes", "dropped": 1})
                        continue
                    if latest is not None:
                        await send({"dropped": 1})
                    latest = data
                elif text is not None:
                    try:
                        if len(text) > MAX_SETTINGS_CHARS:
                            raise ValueError(f"over {MAX_SETTINGS_CHARS:,} characters")
                        parsed = json.loads(text)
                        if not isinstance(parsed, dict):
                            raise ValueError("settings must be a JSON object")
                    except (ValueError, RecursionError) as exc:  # RecursionError: [[[[... nested too deep
                        await send({"error": f"bad settings: {one_line(exc) or type(exc).__name__}"})
                        continue
                    settings = {**(settings or {}), **parsed}
                wake.set()
        finally:
            closed = True
            wake.set()

    async def worker() -> None:
        nonlocal latest, settings
        while True:
            await wake.wait()
            wake.clear()
            if closed:
                return
            if settings is not None:
                wanted, settings = settings, None
                try:
                    await send({"settings": session.configure(wanted)})
                except (InstyleError, ValueError) as exc:
                    await send({"error": one_line(exc)})
            if latest is None:
                continue
            frame, latest = latest, None
            try:
                out = await pool.run_now(live_frame, frame, priority=LIVE)
            except (InstyleError, ValueError, MemoryError) as exc:
                await send({"error": one_line(exc), "dropped": 1})
                continue
            await send(out)
            if latest is not None or settings is not None:
                wake.set()

    def live_frame(data: bytes) -> bytes:
        # alone on the pool, a frame may use every core: someone is watching, and at 320x240 two
        # threads cut the network's time by about a third; beside other work, its worker's share
        return session.frame(data, threads=cores() if pool.running() <= 1 else None)

    tasks = [asyncio.create_task(reader()), asyncio.create_task(worker())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except WebSocketDisconnect:
        pass
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
