"""Rewrite tests/golden/pins.json from the networks as they are now, and say what changed.

Run it only after a change meant to alter what users get (a retrained network, a rebuilt preset),
and say so in the commit: ``python tests/golden/regen.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from golden.pins import PINS, compute


def main() -> int:
    old = json.loads(PINS.read_text()) if PINS.is_file() else {}
    new = compute()
    for name in sorted(set(old) | set(new)):
        if name not in new:
            print(f"removed  {name}")
        elif name not in old:
            print(f"added    {name}")
        else:
            worst = max(
                abs(a - b) for key in ("means", "pixels") for a, b in zip(_flat(old[name][key]), _flat(new[name][key]))
            )
            if worst > 0:
                print(f"changed  {name}: largest pixel/mean difference {worst:.2e}")
    PINS.write_text(json.dumps(new, indent=1) + "\n")
    print(f"wrote {PINS}")
    return 0


def _flat(values):
    for v in values:
        yield from (_flat(v) if isinstance(v, list) else [v])


if __name__ == "__main__":
    sys.exit(main())
