"""The high-resolution picture of docs/adain.md: a 4000×3000 stylization (exact tiles of 1024 px)
and a 512 px crop across a tile corner, beside the same crop of the photo.

    python docs/scripts/hires_crop.py   (needs ../shared/images)
"""

from pathlib import Path

from instyle import AdaINStylizer, load_image, save_image
from instyle.resize import resize_to
from instyle.sheet import stack_tensors

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "images"

photo = resize_to(load_image(SHARED / "content" / "artflow_12-Chureito-pagoda-and-Mount-Fuji-Japan.jpg"), (3000, 4000))
out = AdaINStylizer()(photo, load_image(SHARED / "style" / "jcfast_starry_night_crop.jpg"))
y, x = 1024 - 256, 1024 - 256  # the crop is centred on the corner where four tiles meet
crop = stack_tensors([photo[..., y : y + 512, x : x + 512], out[..., y : y + 512, x : x + 512]])
save_image(ROOT / "docs" / "adain_4000x3000_crop.jpg", crop, overwrite=True)
save_image(ROOT / "docs" / "adain_4000x3000_small.jpg", resize_to(out, (600, 800)), overwrite=True)
print("wrote docs/adain_4000x3000_crop.jpg and docs/adain_4000x3000_small.jpg", tuple(out.shape))
