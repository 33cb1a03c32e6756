"""A static copy of the page (``instyle web export DIR``): the page, ONNX Runtime Web and the networks
as plain files, for any static host or a phone's browser, with no Python behind them. Everything
runs on the visitor's device; a service worker keeps the files for offline use, and the manifest
makes the page installable.

Layout of ``DIR``: ``index.html``, ``static/`` (the page's script, module, style sheet, icon and
``ort/``), ``models/*.onnx``, ``api/styles`` (what the server's ``GET /api/styles`` would answer,
with ``static: true``), ``thumbnails/NAME.png``, ``manifest.webmanifest`` and ``sw.js``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from ..errors import InstyleError, exists_error, one_line, quoted
from .config import ServeConfig
from .page import LOCAL_COMPANIONS, LOCAL_MODELS, ORT_FILES, STATIC_FILES, local_model_path, manifest, styles_info

#: The service worker: the files come from its cache first (the page works offline once loaded);
#: the cache's name carries a hash of the files, so a new export replaces it.
SERVICE_WORKER = """// instyle's static page: every file cached at install, served from the cache first.
const CACHE = "instyle-%(version)s";
const FILES = %(files)s;
self.addEventListener("install", (e) => e.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES))));
self.addEventListener("activate", (e) =>
  e.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))));
self.addEventListener("fetch", (e) =>
  e.respondWith(caches.match(e.request, { ignoreSearch: true }).then((hit) => hit || fetch(e.request))));
"""


def site_files(config: ServeConfig | None = None) -> dict[str, bytes]:
    """Relative path -> bytes of every file of the static page (the built-in network runs once per
    style, for the gallery's thumbnails)."""
    import hashlib

    from .engine import Engine

    config = config or ServeConfig(adain=False)
    eng = Engine(config)
    static = resources.files("instyle.serve") / "static"
    files: dict[str, bytes] = {"index.html": (static / "index.html").read_bytes()}
    files.update({f"static/{n}": (static / n).read_bytes() for n in STATIC_FILES})
    files.update({f"static/ort/{n}": (static / "ort" / n).read_bytes() for n in ORT_FILES})
    info = styles_info(eng, config, static=True)
    shipped = {b["model"] for b in info["local"]["brushes"]}  # companions: where this instyle has them
    for name in LOCAL_MODELS:
        if name in LOCAL_COMPANIONS and f"models/{name}" not in shipped:
            continue
        with open(local_model_path(name), "rb") as f:
            files[f"models/{name}"] = f.read()
    files["api/styles"] = json.dumps(info, indent=1).encode()
    files.update({f"thumbnails/{n}.png": eng.thumbnail(n) for n in eng.fast_styles})
    files["manifest.webmanifest"] = json.dumps(manifest(), indent=1).encode()
    digest = hashlib.sha256(b"".join(files[k] for k in sorted(files))).hexdigest()[:16]
    cached = ["./", *sorted(files)]
    files["sw.js"] = (SERVICE_WORKER % {"version": digest, "files": json.dumps(cached)}).encode()
    return files


def export_site(folder: str | os.PathLike, *, overwrite: bool = False, say: Callable[[str], None] = print) -> Path:
    """Write the static page to ``folder`` (whole or not at all: a hidden folder beside it, then
    renamed); an existing folder is replaced only with ``overwrite``."""
    dest = Path(os.fsdecode(os.fspath(folder)))
    if dest.exists() and not (dest.is_dir() and not any(dest.iterdir())) and not overwrite:
        raise exists_error(f"{quoted(str(dest))} already exists")
    files = site_files()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    except OSError as exc:
        raise InstyleError(f"cannot write {quoted(str(dest))}: {one_line(exc.strerror or exc)}") from None
    try:
        for rel, data in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        os.chmod(tmp, 0o755)
        if dest.exists():
            shutil.rmtree(dest)
        os.rename(tmp, dest)
    except OSError as exc:
        raise InstyleError(f"cannot write {quoted(str(dest))}: {one_line(exc.strerror or exc)}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"wrote {len(files)} files ({sum(map(len, files.values())) / 2**20:.1f} MiB) to {dest}")
    return dest
