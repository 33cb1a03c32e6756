"""``instyle serve``: the web app and HTTP API (:mod:`instyle.serve`) on this machine."""

from __future__ import annotations

import argparse
import sys

from ..choices import BACKENDS, STABILIZE_MODES
from . import common

HELP = "run the web app: a page with a style gallery, sliders and a live webcam mode, and an HTTP API"

EPILOG = """examples:
  instyle serve                          # http://127.0.0.1:8000/ (this machine only)
  instyle serve --port 8080 --workers 2 --queue 8
  instyle serve --host 0.0.0.0           # reachable from other machines: mind who can reach it
  curl -F image=@photo.jpg -F style=candy -o out.png http://127.0.0.1:8000/api/stylize

the API (OpenAPI at /docs): POST /api/stylize, GET /api/styles, GET /api/health, WebSocket /api/live.
needs: pip install 'instyle[serve]' (FastAPI, uvicorn, python-multipart)
"""


def _megabytes(text: str) -> int:
    """A size in MB (0.001 to 1024) -> bytes."""
    return int(common._number(text, float, minimum=0.0, strict=True, maximum=1024.0) * 2**20)


def _megapixels(text: str) -> int:
    """A pixel count in megapixels (0.0001 to 1000) -> pixels."""
    return max(1, int(common._number(text, float, minimum=0.0, strict=True, maximum=1000.0) * 1_000_000))


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..serve import limits as d  # plain constants: building the parser imports nothing else

    p = common.add_command(sub, "serve", HELP, EPILOG)
    g = p.add_argument_group("listening")
    g.add_argument("--host", default=d.HOST, help=f"address to listen on (default {d.HOST}: this machine only)")
    g.add_argument(
        "--port", type=common.int_between(0, 65535), default=d.PORT, help=f"TCP port (default {d.PORT}; 0: any free)"
    )
    g.add_argument("--access-log", action="store_true", help="log every request on stderr")
    g.add_argument(
        "--allowed-hosts",
        default=None,
        metavar="NAMES",
        help="Host names the server answers, comma-separated (default: on a loopback address only "
        "127.0.0.1, localhost and ::1, so a web page cannot reach it by rebinding its DNS name; elsewhere any; *: any)",
    )
    g.add_argument(
        "--allowed-origins",
        default=None,
        metavar="ORIGINS",
        help="other sites (scheme://host[:port], comma-separated; *: any) whose pages may send work or open "
        "live mode (default: the server's own page only)",
    )
    g = p.add_argument_group("work and limits")
    g.add_argument(
        "--workers",
        type=common.int_between(1, 256),
        default=None,
        help="inference threads (default: one per core; torch threads are shared out between them)",
    )
    g.add_argument(
        "--queue",
        type=common.int_between(0, 4096),
        default=d.QUEUE,
        help=f"requests waiting beyond the running ones; more get 429 (default {d.QUEUE})",
    )
    g.add_argument(
        "--timeout",
        type=common.float_between(0.0, 86400.0),
        default=d.TIMEOUT,
        help=f"seconds a request may take, upload included; later is 503 (default {d.TIMEOUT:g})",
    )
    g.add_argument(
        "--max-upload-mb",
        type=_megabytes,
        default=d.MAX_UPLOAD_BYTES,
        metavar="MB",
        help=f"largest uploaded file, 413 beyond (default {d.MAX_UPLOAD_BYTES / 2**20:g})",
    )
    g.add_argument(
        "--max-megapixels",
        type=_megapixels,
        default=d.MAX_PIXELS,
        metavar="MP",
        help=f"largest image, read from its header before decoding, 413 beyond (default {d.MAX_PIXELS / 1e6:g})",
    )
    g.add_argument(
        "--max-size",
        type=common.image_size,
        default=d.MAX_SIZE,
        help=f"largest output a request may ask for (longer side, default {d.MAX_SIZE})",
    )
    g.add_argument(
        "--cache-mb",
        type=common.int_between(0, 2**20),
        default=d.CACHE_BYTES // 2**20,
        help=f"memory for decoded photos kept by content hash (default {d.CACHE_BYTES // 2**20})",
    )
    g.add_argument(
        "--per-client",
        type=common.int_between(0, 4096),
        default=None,
        help=f"requests one client address may have in progress at once (default {d.PER_CLIENT}, none on a "
        "loopback address where every client is this machine; 0: no cap)",
    )
    g = p.add_argument_group("models")
    g.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="runtime of the built-in network for requests: auto (torch: faster in a warm server), torch, "
        "onnxruntime; live mode runs torch",
    )
    g.add_argument("--no-adain", action="store_true", help="built-in styles only: no style uploads, α or presets")
    g.add_argument(
        "--live-stabilize",
        choices=STABILIZE_MODES,
        default=d.LIVE_STABILIZE,
        help=f"stabilization of live frames (as `instyle video --stabilize`; default {d.LIVE_STABILIZE})",
    )
    g.add_argument(
        "--live-connections",
        type=common.int_between(0, 1024),
        default=d.LIVE_CONNECTIONS,
        help=f"live (webcam) connections at once (default {d.LIVE_CONNECTIONS})",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..serve import limits
    from ..serve.config import ServeConfig
    from ..serve.server import serve

    if not args.host.strip():
        raise UsageError("--host must not be empty")
    try:
        config = ServeConfig(
            host=args.host,
            port=args.port,
            workers=args.workers or 0,
            queue=args.queue,
            timeout=args.timeout,
            max_upload_bytes=args.max_upload_mb,
            max_pixels=args.max_megapixels,
            max_size=args.max_size,
            default_size=min(limits.DEFAULT_SIZE, args.max_size),
            backend=args.backend,
            adain=not args.no_adain,
            cache_bytes=args.cache_mb * 2**20,
            live_connections=args.live_connections,
            live_stabilize=args.live_stabilize,
            allowed_hosts=args.allowed_hosts or "",
            allowed_origins=args.allowed_origins or "",
            per_client=args.per_client,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    import warnings

    from ..errors import InstyleWarning

    # "only the first frame of an animation was used" reaches the client as a header (X-Note)
    warnings.filterwarnings("ignore", category=InstyleWarning)

    def ready(url: str) -> None:
        print(f"instyle serve: {url} (Ctrl-C stops it)", flush=True)

    serve(config, access_log=args.access_log, log_level="info" if args.access_log else "warning", on_ready=ready)
    sys.stdout.flush()
    return 0
