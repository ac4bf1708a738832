"""Loading images with Pillow into compact integer arrays."""

from __future__ import annotations

import pathlib
import warnings

import numpy as np
from PIL import Image

_MODES_8BIT = {"L": "L", "LA": "LA", "RGB": "RGB", "RGBA": "RGBA", "1": "L", "P": None,
               "CMYK": "RGB", "YCbCr": "RGB", "PA": "RGBA", "La": "LA", "RGBa": "RGBA"}
_MODES_16BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _png_depth_and_colour(path: pathlib.Path) -> tuple[int, int] | None:
    """(bit depth, colour type) from a PNG's header, or None for other files."""
    with path.open("rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def load_image(
    path: str | pathlib.Path,
    max_side: int | None = None,
    allow_large: bool = False,
    allow_8bit_of_16bit_colour: bool = False,
) -> np.ndarray:
    """Read an image file.

    8-bit images come back as ``uint8``, 16-bit grey images as ``uint16`` (values kept, so large
    images stay compact). Palette images are expanded to RGB/RGBA, bilevel to grey.

    Args:
      path: image file.
      max_side: if set and the longest side is larger, downscale (Lanczos) so it equals this.
      allow_large: allow images above Pillow's decompression-bomb limit
        (``Image.MAX_IMAGE_PIXELS``).
      allow_8bit_of_16bit_colour: Pillow reads a 16-bit colour PNG as 8 bits per channel; such
        a file is refused unless this is set (then it is read at 8 bits, with a warning).

    Returns:
      ``(H, W, C)`` array, ``C`` in {1, 2, 3, 4}.

    Raises:
      FileNotFoundError: missing file. ValueError: unreadable, truncated, unsupported or too large.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Image file not found: {path}")
    if max_side is not None and (isinstance(max_side, bool) or int(max_side) != max_side
                                 or max_side < 2):
        raise ValueError(f"max_side must be a whole number of pixels >= 2 (or None: full size), "
                         f"got {max_side!r}.")
    png = _png_depth_and_colour(path)
    if png is not None and png[0] == 16 and png[1] in (2, 4, 6):
        message = (f"{path}: a 16-bit colour PNG, which Pillow reads at 8 bits per channel "
                   "(the low 8 bits are lost)")
        if not allow_8bit_of_16bit_colour:
            raise ValueError(f"{message}. Convert it to 8-bit (or 16-bit grey), or set "
                             "load_image.allow_8bit_of_16bit_colour = True to read it so.")
        warnings.warn(message + ".", stacklevel=2)
    limit = Image.MAX_IMAGE_PIXELS
    try:
        if allow_large:
            Image.MAX_IMAGE_PIXELS = None
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                return _to_array(img, path, max_side)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ValueError(
            f"{path}: image is larger than Pillow's decompression-bomb limit ({e}). If you trust "
            "the file, pass allow_large=True (gin: load_image.allow_large = True)."
        ) from e
    except (OSError, SyntaxError) as e:
        raise ValueError(
            f"{path}: cannot read image ({e}); is the file truncated or corrupt?"
        ) from e
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _to_array(img: Image.Image, path: pathlib.Path, max_side: int | None) -> np.ndarray:
    if img.mode in _MODES_16BIT:
        arr = np.asarray(img)
        if img.mode == "I":
            if arr.min() < 0 or arr.max() > 65535:
                raise ValueError(f"{path}: 32-bit integer image with values outside [0, 65535].")
        arr = arr.astype(np.uint16)
        if max_side is not None and max(arr.shape) > max_side:
            arr = np.asarray(_resize(Image.fromarray(arr.astype(np.float32), "F"), max_side))
            arr = np.clip(np.round(arr), 0, 65535).astype(np.uint16)
        return arr[..., None]
    if img.mode not in _MODES_8BIT:
        raise ValueError(f"{path}: unsupported image mode {img.mode!r}.")
    target = _MODES_8BIT[img.mode]
    if target is None:  # palette
        target = "RGBA" if "transparency" in img.info else "RGB"
    img = img.convert(target) if img.mode != target else img
    if max_side is not None and max(img.size) > max_side:
        img = _resize(img, max_side)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def _resize(img: Image.Image, max_side: int) -> Image.Image:
    w, h = img.size
    scale = max_side / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)
