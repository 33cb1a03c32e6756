"""``instyle serve``: options checked before anything starts, one-line errors (a taken port, a host
that does not resolve), a real server answering, and a help that imports neither torch nor fastapi."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from helpers import popen_instyle

from ._helpers import run_cli


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("instyle: error: ") and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "99999"],
        ["--port", "-1"],
        ["--port", "nan"],
        ["--host", ""],
        ["--workers", "0"],
        ["--queue", "-1"],
        ["--timeout", "nan"],
        ["--timeout", "0"],
        ["--timeout", "inf"],
        ["--max-upload-mb", "0"],
        ["--max-upload-mb", "1e308"],
        ["--max-megapixels", "-1"],
        ["--max-size", "8"],
        ["--live-stabilize", "wobbly"],
        ["--backend", "tpu"],
    ],
)
def test_bad_options(argv, capsys):
    code, _, err = run_cli(["serve", *argv], capsys)
    assert code == 2
    one_line(err)


def test_host_that_does_not_resolve(capsys):
    code, _, err = run_cli(["serve", "--host", "no-such-host.invalid", "--port", "0"], capsys)
    assert code == 2 and "no-such-host.invalid" in one_line(err)


def test_port_in_use(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, _, err = run_cli(["serve", "--port", str(port)], capsys)
    assert code == 1 and f"127.0.0.1:{port}" in one_line(err)


@pytest.mark.slow  # a fresh interpreter
def test_help_imports_neither_torch_nor_fastapi():
    probe = (
        "import sys\nfrom instyle.cli.main import main\ntry:\n    main(['serve', '--help'])\nexcept SystemExit:\n"
        "    pass\nprint([m for m in ('torch', 'fastapi', 'uvicorn', 'dataclasses') if m in sys.modules])"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow  # starts the real server
@pytest.mark.parametrize("stop,code", [(signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM)])
def test_serves_and_stops_cleanly(stop, code):
    pytest.importorskip("fastapi")
    proc = popen_instyle(
        ["serve", "--port", "0", "--no-adain", "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("instyle serve: http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[2]
        deadline = time.monotonic() + 60
        while True:
            try:
                health = json.loads(urllib.request.urlopen(url + "api/health", timeout=5).read())
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert health["status"] == "ok" and health["adain"] == "off"
    finally:
        proc.send_signal(stop)  # uvicorn finishes the requests in progress, then ends as the signal says
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
