"""The ``instyle`` command: a thin layer over the library.

Exit codes: 0 success, 1 bad input (unreadable image, corrupt weights…), 2 bad usage or
option value, 70 an internal error (a bug: please report it), 130 interrupted. Every failure
prints one line on stderr, never a traceback (``INSTYLE_DEBUG=1`` shows the traceback of an
internal error); warnings are one ``instyle: warning: …`` line each.
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
import threading
import warnings
from typing import NoReturn

from ..errors import one_line, quoted
from ..version import __version__
from . import (
    adapt_cmd,
    demo_cmd,
    evaluate_cmd,
    export_cmd,
    optimize_cmd,
    serve_cmd,
    sheet_cmd,
    styles_cmd,
    stylize_cmd,
    train_cmd,
    video_cmd,
    web_cmd,
)

COMMANDS = (
    stylize_cmd,
    video_cmd,
    styles_cmd,
    sheet_cmd,
    optimize_cmd,
    train_cmd,
    evaluate_cmd,
    export_cmd,
    demo_cmd,
    serve_cmd,
    web_cmd,
    adapt_cmd,
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``instyle: error: …`` line (exit 2), not usage + error, and
    no argument that takes a file, folder or name (every argument without a type of its own) may be
    an empty string: ``-o ""`` or ``--out ""`` would otherwise mean the current folder."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"instyle: error: {one_line(message)} (see `{self.prog} --help`)\n")

    def parse_known_args(self, args=None, namespace=None):
        namespace, rest = super().parse_known_args(args, namespace)
        for action in self._actions:
            if action.type is not None or action.nargs == 0 or action.choices is not None:
                continue
            value = getattr(namespace, action.dest, None)
            values = value if isinstance(value, list) else [value]
            if any(isinstance(v, str) and not v for v in values):
                name = "/".join(action.option_strings) or action.metavar or action.dest
                self.error(f"argument {name}: expected a value, got an empty string")
        return namespace, rest


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="instyle",
        description="Neural style transfer built around instance normalization.",
        epilog="Run `instyle COMMAND --help` for the options of a command.",
    )
    p.add_argument("--version", action="version", version=f"instyle {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in COMMANDS:
        cmd.add_parser(sub)
    return p


#: Exit status of an internal error (BSD's EX_SOFTWARE): a bug, not the user's input.
INTERNAL_ERROR = 70


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"instyle: error: {one_line(message)}\n")
    return code


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings (ours, and the libraries') as one line each, without source locations."""
    try:
        sys.stderr.write(f"instyle: warning: {one_line(message)}\n")
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    from ..errors import InstyleError, Terminated

    warnings.showwarning = _show_warning
    # `serve` leaves SIGTERM to uvicorn, which finishes the requests in flight first
    restore = _terminate_on_signals() if args.command != "serve" else {}
    try:
        return args.run(args)
    except Terminated as e:
        sys.stderr.write(f"instyle: terminated ({e.name})\n")
        return 128 + e.signum
    except InstyleError as e:  # the library names options as Python does; here they are flags
        return _fail(e.for_cli(), e.exit_code)
    except ValueError as e:  # option values rejected by a config dataclass
        return _fail(str(e), 2)
    except FloatingPointError as e:
        return _fail(str(e), 1)
    except MemoryError:
        return _fail("out of memory; try a smaller --size", 1)
    except KeyboardInterrupt:
        sys.stderr.write("instyle: interrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    except OSError as e:  # the system's, not a bug: a full disk, a name too long, a lost mount
        where = f" ({quoted(os.fsdecode(e.filename))})" if e.filename else ""
        return _fail(f"{e.strerror or e}{where}", 1)
    except Exception as e:
        if os.environ.get("INSTYLE_DEBUG"):
            raise
        what = f"{type(e).__name__}: {e}"[:300]
        return _fail(f"internal error ({what}); please report it (INSTYLE_DEBUG=1 shows the traceback)", INTERNAL_ERROR)
    finally:
        for signum, handler in restore.items():
            signal.signal(signum, handler)


def _terminate_on_signals() -> dict:
    """SIGTERM and SIGHUP raise :class:`~instyle.errors.Terminated` (a KeyboardInterrupt) in the
    main thread, so they clean up as Ctrl-C does instead of ending the process on the spot with
    temporary files left behind. Returns the handlers they replaced."""
    from ..errors import Terminated

    if threading.current_thread() is not threading.main_thread():
        return {}

    def terminate(signum, frame):
        raise Terminated(signum)

    restore = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            restore[signum] = signal.signal(signum, terminate)
    return restore


def entry() -> NoReturn:
    """The ``instyle`` program (console script and ``python -m instyle``): :func:`main`, then
    the exit without the interpreter's teardown when nothing else runs.

    Freeing every module at exit (numpy's, onnxruntime's) is a measurable part of a short
    ``instyle stylize`` (docs/benchmarks.md; benchmarks/startup.py), and it frees nothing the
    system would not. Output is flushed and ``atexit`` handlers (log files, temporary folders) run
    first, after the threads still alive have been joined as the interpreter joins them (idle
    thread-pool workers are told to stop)."""
    code = main()
    join_threads = getattr(threading, "_shutdown", None)  # what the interpreter's exit calls first
    if join_threads is None:
        sys.exit(code)
    join_threads()
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
    except (OSError, ValueError):  # a closed pipe: what was written is all the reader gets
        code = code or 1
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


if __name__ == "__main__":
    entry()
