"""The ``instyle`` command: a thin layer over the library.

Exit codes: 0 success, 1 bad input (unreadable image, corrupt weights…), 2 bad usage or
option value, 130 interrupted. User errors print one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, NoReturn, Optional

from .. import __version__
from . import demo_cmd, evaluate_cmd, optimize_cmd, sheet_cmd, styles_cmd, stylize_cmd, train_cmd

COMMANDS = (stylize_cmd, styles_cmd, sheet_cmd, optimize_cmd, train_cmd, evaluate_cmd, demo_cmd)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``instyle: error: …`` line (exit 2), not usage + error."""

    def error(self, message: str) -> "NoReturn":  # type: ignore[override]
        self.exit(2, f"instyle: error: {' '.join(str(message).split())} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="instyle",
        description="Neural style transfer built around instance normalization.",
        epilog="Run `instyle COMMAND --help` for the options of a command.")
    p.add_argument("--version", action="version", version=f"instyle {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in COMMANDS:
        cmd.add_parser(sub)
    return p


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"instyle: error: {' '.join(str(message).split())}\n")
    return code


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    from ..errors import InstyleError

    try:
        return args.run(args)
    except InstyleError as e:
        return _fail(str(e), e.exit_code)
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


if __name__ == "__main__":
    sys.exit(main())
