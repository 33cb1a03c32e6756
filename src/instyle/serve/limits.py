"""The server's default settings, as plain constants: :class:`~instyle.serve.ServeConfig` takes its
defaults from here, and ``instyle serve --help`` shows them without importing anything else."""

#: Where the server listens: this machine only, unless told otherwise.
HOST = "127.0.0.1"
PORT = 8000
#: Requests admitted beyond the running ones; one more is refused with 429. Short enough that the
#: last of a full queue of ordinary requests is answered well within TIMEOUT (request times:
#: benchmarks/serve.py, docs/serve.md).
QUEUE = 16
#: Seconds from a request's admission to its answer (upload included); later is 503.
TIMEOUT = 30.0
#: Largest uploaded file: a 24-megapixel JPEG straight from a camera is 8–15 MB.
MAX_UPLOAD_BYTES = 16 * 2**20
#: Largest image, checked from the header before decoding: 6000×4000. Decoding shrinks while it
#: reads (JPEG draft, 8-bit box reduction) to the output size, so a worker never holds the photo
#: at full size in float32 (12 bytes a pixel); docs/serve.md gives the server's measured memory.
MAX_PIXELS = 24_000_000
#: Largest output a request may ask for (longer side), and the size when it names none (the
#: photo's own when smaller).
MAX_SIZE = 2048
DEFAULT_SIZE = 1024
#: Memory for decoded photos kept by content hash.
CACHE_BYTES = 256 * 2**20
#: Live (webcam) connections at once, and the stabilization of their frames.
LIVE_CONNECTIONS = 4
LIVE_STABILIZE = "full"
#: Uploads: after a grace period a body must keep arriving at this average rate (bytes/s; a phone
#: on a poor link sends 100 KB/s and more), or the request ends with 408: a slow client cannot
#: hold a slot for the whole timeout. Bodies are read before admission into the work slots, and
#: the bytes of bodies being read at once are bounded.
MIN_UPLOAD_RATE = 16 * 1024
UPLOAD_GRACE = 5.0
UPLOAD_BUFFER_BYTES = 256 * 2**20
#: Requests one client (address) may have in the work slots at once.
PER_CLIENT = 8
#: Seconds a live connection may stay silent before it is closed.
LIVE_IDLE = 60.0
#: A request's output may be at most this many times its photo's longer side, or this many px:
#: the work counts upscaling (a 1x1 upload asking for 2048² would cost seconds for 69 bytes).
MAX_UPSCALE = 4
UPSCALE_FLOOR = 512
#: Pixels an upload may declare per byte of it, beyond a floor: a flat PNG of 23 KB can declare
#: 6000x4000 and cost seconds and hundreds of MB to decode whatever the output (a decompression
#: bomb within --max-megapixels). Photos come at far fewer pixels a byte (a camera JPEG: under 5;
#: a flat screenshot as PNG: tens); larger images under the floor cost little anyway.
PIXELS_PER_BYTE = 100
PIXELS_FLOOR = 4_000_000
