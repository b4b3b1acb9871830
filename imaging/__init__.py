"""Pixels as the model sees them: any Pillow mode to 8-bit RGB, EXIF orientation applied.

Pillow and numpy only, no Django, no torch: the inference engine (a torch worker) and the web
process (crops, thumbnails) both import it, so a page shows exactly the pixels the model got.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

EXIF_ORIENTATION = 0x0112
SWAPS_SIDES = frozenset({5, 6, 7, 8})  # orientations that swap width and height
# What ImageOps.exif_transpose does for each EXIF orientation value.
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIXTEEN_BIT_TOP = 65535.0


class UnreadableImage(Exception):
    """The file is missing, not an image, too large or corrupt; str() says which."""


def exif_orientation(img: Image.Image) -> int | None:
    """The EXIF (or XMP) orientation 2–8 of an opened image; None when upright or unreadable."""
    try:
        value = img.getexif().get(EXIF_ORIENTATION)
    except Exception:  # a broken EXIF block only loses the orientation
        return None
    return value if isinstance(value, int) and value in TRANSPOSE else None


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; 16-bit, 32-bit and float greyscale scaled, not clipped.

    16-bit greyscale is mapped 0–65535 → 0–255 (Pillow already keeps the high byte of 16-bit
    RGB); 32-bit integer and float greyscale, whose range the file does not state, are scaled
    by their largest value (float images of 0–1 by 1). Alpha is dropped, as the model sees it.
    """
    if img.mode == "RGB":
        return img
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        data = np.nan_to_num(np.asarray(img).astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        if img.mode.startswith("I;16"):
            top = _SIXTEEN_BIT_TOP
        else:
            top = max(float(data.max()) if data.size else 0.0, 1.0)
        grey = np.clip(data * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if img.mode in ("P", "PA") and "transparency" in img.info:
        img = img.convert("RGBA")
    elif img.mode == "La":  # premultiplied alpha: Pillow converts it only to LA
        img = img.convert("LA")
    return img.convert("RGB")


def oriented(img: Image.Image, orientation: int | None) -> Image.Image:
    """The image turned as its EXIF orientation says (unchanged for None)."""
    return img.transpose(TRANSPOSE[orientation]) if orientation in TRANSPOSE else img


def open_rgb(source: str | Path | BinaryIO, fit: tuple[int, int] | None = None) -> Image.Image:
    """Decode a file to upright 8-bit RGB; fit lets a JPEG decode smaller (still at least fit).

    Raises UnreadableImage for any file Pillow cannot decode.
    """
    try:
        with Image.open(source) as img:
            orientation = exif_orientation(img)
            if fit is not None:
                stored_fit = fit[::-1] if orientation in SWAPS_SIDES else fit
                img.draft("RGB", (stored_fit[0], stored_fit[1]))
            img.load()
            rgb = to_rgb(img)
            if rgb is img:  # closing the file would drop the pixels of the opened image
                rgb = img.copy()
        return oriented(rgb, orientation)
    except FileNotFoundError as exc:
        raise UnreadableImage("file not found") from exc
    except UnidentifiedImageError as exc:
        raise UnreadableImage("not an image, or an unsupported image format") from exc
    except Exception as exc:  # crafted files make Pillow raise almost anything
        raise UnreadableImage(str(exc) or type(exc).__name__) from exc
