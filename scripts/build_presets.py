"""Build the built-in style presets (src/instyle/assets/style_presets.safetensors).

Each preset is the relu4_1 per-channel mean/std of a painting from ../shared/images/style at
512 px (longer side), made by ``instyle.stylize.make_preset``, the function ``instyle styles save``
uses: a built-in preset stylizes exactly like its painting given as an image. Only these 2×512
numbers per style are shipped, never the images. Run from the repository root:

    python scripts/build_presets.py [--images ../shared/images/style]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from instyle.imageio import load_image
from instyle.presets import BUILTIN_FILE, save_builtin_file
from instyle.stylize import make_preset, shipped_light_preset

# preset name -> file in shared/images/style (names follow the paintings, as peers name them)
PRESETS = {
    "starry_night": "jcfast_starry_night_crop.jpg",
    "the_scream": "neuralstyle_the_scream.jpg",
    "wave": "adaattn_wave.jpg",
    "udnie": "faststyle_udnie.jpg",
    "la_muse": "faststyle_la_muse.jpg",
    "rain_princess": "faststyle_rain_princess.jpg",
    "composition_vii": "jcfast_composition_vii.jpg",
    "feathers": "jcfast_feathers.jpg",
    "mosaic": "pytorch_mosaic.jpg",
    "candy": "pytorch_candy.jpg",
    "shipwreck": "neuralstyle_shipwreck.jpg",
    "frida_kahlo": "neuralstyle_frida_kahlo.jpg",
    "escher_sphere": "neuralstyle_escher_sphere.jpg",
    "woman_with_hat": "adain_woman_with_hat_matisse.jpg",
    "picasso_self_portrait": "adain_picasso_self_portrait.jpg",
    "brushstrokes": "adain_brushstrokes.jpg",
    "sketch": "adain_sketch.jpg",
    "mondrian": "adain_mondrian.jpg",
    "misty_mood": "titu_misty-mood-leonid-afremov.jpg",
    "bamboo_forest": "titu_bamboo_forest.jpg",
}
STYLE_SIZE = 512


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", default=str(root.parent / "shared" / "images" / "style"))
    p.add_argument("--out", default=str(root / "src" / "instyle" / "assets" / BUILTIN_FILE))
    args = p.parse_args()
    presets, light, encoder = {}, {}, None
    for name, file in PRESETS.items():
        image = load_image(Path(args.images) / file)
        presets[name] = (make_preset(image, style_size=STYLE_SIZE), file, STYLE_SIZE)
        got = shipped_light_preset(image, style_size=STYLE_SIZE)  # the light network's statistics
        if got is not None:
            encoder, light[name] = got
        print(f"{name:<22} {file}")
    written = save_builtin_file(args.out, presets, light=None if encoder is None else (encoder, light))
    print(f"wrote {written}" + (f" (with the light network's statistics, {encoder})" if encoder else ""))


if __name__ == "__main__":
    main()
