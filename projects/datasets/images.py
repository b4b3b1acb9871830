"""Checks on one image file: readable, decodable, not a pixel bomb; its size and checksum."""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from imaging import exif_orientation
from projects.datasets.report import ImportReport

# Formats the portal accepts (JPEG covers MPO); identifying only these keeps Pillow away from EPS
# (Ghostscript) and other decoders that have no place on an inspection line.
ALLOWED_FORMATS = ("JPEG", "PNG", "BMP", "TIFF", "WEBP", "GIF")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"})
_TURNED = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
_PIXELS = re.compile(r"\((\d+) pixels\)")


@dataclass(frozen=True)
class ImageFacts:
    """What import needs to know about an image file."""

    width: int  # as shown, after the EXIF orientation is applied
    height: int
    stored_width: int  # as stored in the file
    stored_height: int
    checksum: str

    @property
    def turned(self) -> bool:
        """True when the EXIF orientation swaps width and height."""
        return (self.width, self.height) != (self.stored_width, self.stored_height)


def is_image_name(name: str) -> bool:
    """True when the file name has an image extension."""
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def sha256_of(path: Path) -> str:
    """The SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def inspect_image(path: Path, where: str, report: ImportReport) -> ImageFacts | None:
    """Decode the image fully; record a located error and return None when it is unusable."""
    try:
        if path.stat().st_size == 0:
            report.error(where, _("empty file"))
            return None
        checksum = sha256_of(path)
    except OSError as exc:
        report.error(where, _("cannot read the file (%(reason)s)") % {"reason": exc.strerror})
        return None
    try:
        size, stored = _decode(path)
    except _PixelBomb as exc:
        report.error(where, _bomb_message(exc.pixels))
        return None
    except Image.DecompressionBombError as exc:
        match = _PIXELS.search(str(exc))
        report.error(where, _bomb_message(int(match.group(1))) if match else str(exc))
        return None
    except UnidentifiedImageError:
        report.error(where, _("not an image (cannot identify image file)"))
        return None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds on corrupt data
        report.error(where, _("cannot decode the image (%(reason)s)") % {"reason": exc})
        return None
    return ImageFacts(size[0], size[1], stored[0], stored[1], checksum)


class _PixelBomb(Exception):
    def __init__(self, pixels: int) -> None:
        super().__init__(pixels)
        self.pixels = pixels


def _bomb_message(pixels: int) -> str:
    return _("image has %(pixels)d pixels, more than the limit %(limit)d (decompression bomb)") % {
        "pixels": pixels,
        "limit": Image.MAX_IMAGE_PIXELS,
    }


def _decode(path: Path) -> tuple[tuple[int, int], tuple[int, int]]:
    """(shown size, stored size) after decoding every pixel; raises on any fault."""
    with warnings.catch_warnings():
        # The limit is enforced below as an error; Pillow's own warning would only add noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path, formats=ALLOWED_FORMATS) as im:
            width, height = im.size
            limit = Image.MAX_IMAGE_PIXELS
            if limit is not None and width * height > limit:
                raise _PixelBomb(width * height)
            im.load()
            orientation = exif_orientation(im)
    if orientation in _TURNED:
        return (height, width), (width, height)
    return (width, height), (width, height)
