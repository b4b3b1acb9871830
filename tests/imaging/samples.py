"""Image files of the kinds cameras and tools write: EXIF-turned, 16-bit, CMYK, palette, float."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from imaging import TRANSPOSE

WIDTH, HEIGHT = 120, 80  # as shown, after the EXIF orientation
OBJECT = (70, 20, 100, 45)  # x1 y1 x2 y2 of the red object, as shown
BACKGROUND = (60, 60, 60)
RED = (220, 30, 30)
# The stored pixels that an orientation turns into the scene (its inverse transpose).
_UNDO = {**TRANSPOSE, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def scene() -> np.ndarray:
    """(h, w, 3) uint8: a grey background with one red object at OBJECT."""
    pixels = np.full((HEIGHT, WIDTH, 3), BACKGROUND, dtype=np.uint8)
    x1, y1, x2, y2 = OBJECT
    pixels[y1:y2, x1:x2] = RED
    return pixels


def turned_bytes(orientation: int, fmt: str = "JPEG") -> bytes:
    """The scene stored turned, with the EXIF orientation that shows it upright."""
    stored = Image.fromarray(scene()).transpose(_UNDO[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    options = {"quality": 95} if fmt == "JPEG" else {}
    stored.save(out, fmt, exif=exif, **options)
    return out.getvalue()


def sixteen_bit_bytes(fmt: str, low: int = 10000, high: int = 50000) -> bytes:
    """A 16-bit greyscale image, left half `low`, right half `high` (most of it above 255)."""
    grey = np.full((HEIGHT, WIDTH), low, dtype=np.uint16)
    grey[:, WIDTH // 2 :] = high
    out = io.BytesIO()
    Image.fromarray(grey).save(out, fmt)
    return out.getvalue()


def mode_bytes(mode: str) -> bytes:
    """The scene converted to a Pillow mode, in a format that keeps that mode."""
    img = Image.fromarray(scene())
    out = io.BytesIO()
    if mode == "CMYK":
        img.convert("CMYK").save(out, "JPEG", quality=95)
    elif mode == "P-transparent":
        img.convert("P").save(out, "PNG", transparency=0)
    elif mode in ("I", "F"):
        grey = np.asarray(img.convert("L"), dtype=np.float32) * 3.5
        Image.fromarray(grey.astype(np.int32) if mode == "I" else grey).save(out, "TIFF")
    else:
        img.convert(mode).save(out, "PNG")
    return out.getvalue()


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path
