"""Run the ``instyle`` command hundreds of times without paying for ``import torch`` each time.

A fork server: one helper process imports torch and every module the commands use, warms the
VGG-19 weight cache, and then forks one child per command. Each child is a separate process with
its own working directory, environment, standard input, output and error (files), and exit
status, exactly what a shell gives ``instyle ARGS``, minus the two seconds of start-up. An
exception that escapes ``main`` is printed as Python would print it (a traceback) and exits 1,
so the suite sees what a user would see.

The server reads one JSON request per line on stdin and answers one JSON line on stdout:
``{"argv", "cwd", "env", "stdin", "stdout", "stderr", "timeout"}`` -> ``{"rc", "timed_out",
"seconds"}``. A child that runs past its timeout is killed with its process group.

Run as a script (``python forkserver.py``) by :class:`ForkServer`.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float


class ForkServer:
    """Client side: start the server, run commands through it, stop it."""

    def __init__(self) -> None:
        self.capture = Path(tempfile.mkdtemp(prefix="instyle-fork-"))
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        line = self.proc.stdout.readline()
        if json.loads(line or b"{}").get("ready") is not True:
            raise RuntimeError("the fork server did not start")

    def run(
        self, argv, *, cwd: Path, env: dict | None = None, stdin: Path | None = None, timeout: float = 120.0
    ) -> Result:
        """``instyle *argv`` in ``cwd`` with ``env`` added to the environment; stdin from a file or
        /dev/null. Output is captured in files outside ``cwd`` (then removed)."""
        out, err = self.capture / "stdout", self.capture / "stderr"
        request = {
            "argv": [str(a) for a in argv],
            "cwd": str(cwd),
            "env": dict(env or {}),
            "stdin": str(stdin) if stdin is not None else os.devnull,
            "stdout": str(out),
            "stderr": str(err),
            "timeout": timeout,
        }
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fork server died")
        reply = json.loads(line)
        try:
            result = Result(
                reply["rc"],
                out.read_text(errors="replace"),
                err.read_text(errors="replace"),
                reply["timed_out"],
                reply["seconds"],
            )
        finally:
            out.unlink(missing_ok=True)
            err.unlink(missing_ok=True)
        return result

    def close(self) -> None:
        shutil.rmtree(self.capture, ignore_errors=True)
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------- server side


def _preload() -> None:
    """Import what the commands import lazily, and fill the per-process caches."""
    import torch

    # One intra-op thread: no OpenMP pool may exist when the server forks (a forked child would
    # wait on the parent's pool threads forever); children compute on tiny images anyway.
    torch.set_num_threads(1)
    from PIL import Image

    Image.init()
    import av  # noqa: F401
    import cv2  # noqa: F401
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401

    import instyle.cli.main
    import instyle.evaluate
    import instyle.export
    import instyle.feedforward
    import instyle.onnx_runtime
    import instyle.optimize
    import instyle.sheet
    import instyle.stylize
    import instyle.train
    import instyle.train.fast
    import instyle.video  # noqa: F401
    from instyle.shipped import builtin_styles
    from instyle.vgg import load_vgg19_weights

    load_vgg19_weights()
    builtin_styles()
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # its first use imports torch._dynamo (2 s)


def _child(req: dict) -> int:
    """In the forked child: become the command a shell would run, return its exit status."""
    os.setsid()  # its own process group, so a time-out kills whatever it started too
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.chdir(req["cwd"])
    os.environ.update(req["env"])
    stdin = os.open(req["stdin"], os.O_RDONLY)
    stdout = os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    stderr = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
        os.close(fd)
    # Fresh Python streams over the new descriptors (as the interpreter sets them up).
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
    sys.argv = ["instyle", *req["argv"]]
    from instyle.cli.main import main

    try:
        code = main(req["argv"])
    except SystemExit as e:  # what the interpreter does with SystemExit
        code = e.code
        if code is not None and not isinstance(code, int):
            sys.stderr.write(f"{code}\n")
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    return 0 if code is None else int(code) & 0xFF


def serve() -> None:
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # stray prints of the server go to stderr, not into the protocol
    _preload()
    replies.write(b'{"ready": true}\n')
    replies.flush()
    for line in requests:
        req = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                requests.close()
                replies.close()
                code = _child(req)
            finally:
                os._exit(code)
        timed_out, status = False, 0
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() - t0 > req["timeout"]:
                timed_out = True
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _, status = os.waitpid(pid, 0)
                break
            time.sleep(0.002)
        rc = os.waitstatus_to_exitcode(status)
        replies.write(
            json.dumps({"rc": rc, "timed_out": timed_out, "seconds": round(time.monotonic() - t0, 3)}).encode() + b"\n"
        )
        replies.flush()


if __name__ == "__main__":
    serve()
