"""Reading and writing image files: the only place in instyle that touches them.

Tensors
-------
Images travel through instyle as float32 tensors of shape ``(1, 3, H, W)`` with values in
``[0, 1]`` (RGB, batch of one). Every Pillow mode is turned into that form here: 8-bit,
16-bit and 32-bit grayscale, palette, CMYK (including Adobe's inverted CMYK JPEGs),
YCbCr, float, 1-bit and the alpha-carrying modes. The EXIF orientation is applied first,
so a photo taken with the phone on its side arrives upright. Of a multi-frame file
(GIF, TIFF, WebP, APNG) only the first frame is used, and an :class:`~instyle.errors.InstyleWarning`
says so (the CLI prints it as one line).

Alpha policy
------------
The networks only see RGB. Transparent and translucent areas are therefore composited
over **white** (``rgb * a + (1 - a)``) for processing, and the alpha channel itself is
kept in :attr:`ImageData.alpha` (``(1, 1, H, W)`` float in ``[0, 1]``; ``None`` when the
source has no transparency, i.e. no alpha channel, no transparent colour key, or an alpha
channel that is fully opaque everywhere). :func:`save_image` takes that alpha back,
resizes it (bilinear) to the size of the stylized image and re-applies it, so a cut-out
stays a cut-out. Formats without alpha (JPEG, BMP) get the image composited over white.

Safety
------
Every failure to read a file (missing, a folder, a FIFO or device, empty, not an image,
truncated, corrupt, too large, permission denied, an unsupported mode) becomes an :class:`InstyleError` whose
message is one line naming the file and the reason. The pixel count is checked from the
header, before anything is decoded, against ``max_pixels`` (default 64 million, or
``$INSTYLE_MAX_PIXELS``). Pillow's global settings (``Image.MAX_IMAGE_PIXELS``,
``ImageFile.LOAD_TRUNCATED_IMAGES``) are never changed: truncated files are refused
because the pixels are decoded (``.load()``) inside the guarded block. Note that Pillow's
own hard limit (``2 * Image.MAX_IMAGE_PIXELS``, about 179 million pixels by default) still
applies even if ``$INSTYLE_MAX_PIXELS`` is set higher, unless the application raises
Pillow's limit itself.

Writing is atomic: the image goes to a hidden temporary file in the destination folder,
is flushed and fsynced, and is then renamed over the destination, so a crash or an error
never leaves a half-written file behind, and an existing file is only replaced when asked.
"""

from .decode import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    MAX_PIXELS_ENV,
    ImageArray,
    ImageData,
    list_images,
    load_image,
    read_array,
    read_image,
    sniff_format,
)
from .modes import image_to_tensor
from .save import SAVE_EXTENSIONS, encode_image, save_image, tensor_to_image
from .streams import MAX_STDIN_BYTES

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS_ENV",
    "MAX_STDIN_BYTES",
    "SAVE_EXTENSIONS",
    "ImageArray",
    "ImageData",
    "encode_image",
    "image_to_tensor",
    "list_images",
    "load_image",
    "read_array",
    "read_image",
    "save_image",
    "sniff_format",
    "tensor_to_image",
]
