"""``instyle styles``: list, save and remove style presets (a style's stored statistics)."""

from __future__ import annotations

import argparse
from typing import Any

from . import common

HELP = "list the built-in styles and presets, or save a preset from any image (use it as --style NAME)"

EPILOG = """examples:
  instyle styles                                   # list built-in and saved presets
  instyle styles save my_watercolor painting.jpg   # then: instyle stylize photo.jpg --style my_watercolor
  instyle styles remove my_watercolor
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = common.add_command(sub, "styles", HELP, EPILOG)
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(run=run_list)
    acts = p.add_subparsers(dest="action", metavar="ACTION")
    s = acts.add_parser("save", help="save a preset from a style image")
    s.add_argument("name", help="preset name: lowercase letters, digits, _ or -")
    s.add_argument("image", help="the style image")
    s.add_argument(
        "--style-size", type=common.image_size, default=512, help="longer side to encode it at (default 512)"
    )
    s.add_argument("--overwrite", action="store_true", help="replace a saved preset of that name")
    s.add_argument("--json", action="store_true")
    s.set_defaults(run=run_save)
    r = acts.add_parser("remove", help="remove a saved preset")
    r.add_argument("name")
    r.add_argument("--json", action="store_true")
    r.set_defaults(run=run_remove)


def run_list(args: argparse.Namespace) -> int:
    from ..presets import list_presets, user_dir
    from ..shipped import builtin_styles

    presets = {p.name: p for p in list_presets()}
    net = set(builtin_styles())
    names = sorted(set(presets) | net)
    rows: list[dict[str, Any]] = []
    for n in names:
        p = presets.get(n)
        saved = p is not None and not p.builtin  # a saved preset shadows the network's style of that name
        rows.append(
            {
                "name": n,
                "builtin": not saved,
                "fast": n in net and not saved,
                "adain": p is not None,
                "source": p.source if p else "",
                "style_size": p.style_size if p else 0,
            }
        )
    if args.json:
        common.emit_json(rows)
        return 0
    if not rows:
        print("no presets; save one with `instyle styles save NAME IMAGE`")
        return 0
    width = max(len(r["name"]) for r in rows)
    print(f"{'name':<{width}}  {'kind':<8}  {'methods':<10}  source")
    for r in rows:
        kind = "built-in" if r["builtin"] else "saved"
        methods = "+".join(m for m in ("fast", "adain") if r[m])
        print(f"{r['name']:<{width}}  {kind:<8}  {methods:<10}  {r['source']}")
    print(
        f"\nfast = a style of the built-in network (one pass, the fastest); adain = a preset for AdaIN "
        f"(any style image can also be used directly).\nSaved presets live in {user_dir()}."
    )
    return 0


def run_save(args: argparse.Namespace) -> int:
    from ..errors import exists_error
    from ..imageio import load_image
    from ..presets import check_name, save_preset, user_dir
    from ..stylize import make_preset, shipped_light_preset

    check_name(args.name)
    path = user_dir() / f"{args.name}.safetensors"
    if path.exists() and not args.overwrite:
        raise exists_error(f"a preset named {args.name!r} already exists", exit_code=2)
    image = load_image(args.image)
    stats = make_preset(image, style_size=args.style_size)
    light = shipped_light_preset(image, style_size=args.style_size)  # the light network's statistics too
    written = save_preset(
        args.name, stats, light=light, source=args.image, style_size=args.style_size, overwrite=args.overwrite
    )
    if args.json:
        common.emit_json({"name": args.name, "path": str(written)})
    else:
        print(f"saved preset {args.name!r} ({written}); use it with --style {args.name}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from ..presets import remove_preset

    path = remove_preset(args.name)
    if args.json:
        common.emit_json({"removed": args.name, "path": str(path)})
    else:
        print(f"removed preset {args.name!r}")
    return 0
