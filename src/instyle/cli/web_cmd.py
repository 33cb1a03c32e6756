"""``instyle web export DIR``: the page as static files that run everything on the visitor's device."""

from __future__ import annotations

import argparse

from . import common

HELP = "the web page as static files (instyle web export DIR): networks run in the visitor's browser, no server"

EPILOG = """examples:
  instyle web export site/                  # then: python -m http.server -d site 8080
  instyle web export /var/www/instyle --overwrite
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = common.add_command(sub, "web", HELP, EPILOG)
    actions = p.add_subparsers(dest="web_action", metavar="ACTION", required=True)
    e = actions.add_parser("export", help="write the static page to a folder", description=HELP)
    e.add_argument("folder", help="where to write it (a new or empty folder)")
    e.add_argument("--overwrite", action="store_true", help="replace the folder if it exists")
    e.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..serve.site import export_site

    export_site(args.folder, overwrite=args.overwrite)
    return 0
