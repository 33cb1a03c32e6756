"""The server's default settings, as plain constants: :class:`~instyle.serve.ServeConfig` takes its
defaults from here, and ``instyle serve --help`` shows them without importing anything else."""

#: Where the server listens: this machine only, unless told otherwise.
HOST = "127.0.0.1"
PORT = 8000
#: Requests admitted beyond the running ones; one more is refused with 429. At ~0.1 s per built-in
#: style request at 512² on two workers, a full queue waits under a second.
QUEUE = 16
#: Seconds from a request's admission to its answer (upload included); later is 503.
TIMEOUT = 30.0
#: Largest uploaded file: a 24-megapixel JPEG straight from a camera is 8–15 MB.
MAX_UPLOAD_BYTES = 16 * 2**20
#: Largest image, checked from the header before decoding: 6000×4000. A decoded photo holds 12 bytes
#: per pixel (float32 RGB), so two workers decoding at once stay under 0.6 GB.
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
