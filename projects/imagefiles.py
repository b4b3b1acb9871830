"""Serving stored images: a content type decided from the bytes, and thumbnails cached on disk."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings

from imaging import UnreadableImage, open_rgb
from projects.models import Image

THUMBNAIL_SIZE = 320
THUMBNAIL_QUALITY = 82
# Part of every cached thumbnail's name: raise it when the pixels change, so old files are not
# served again (2: decoded as the engine decodes them, EXIF-oriented, 16-bit scaled).
THUMBNAIL_VERSION = 2

# Magic numbers of the raster formats a dataset may hold; anything else is served as bytes.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"BM", 0, "image/bmp"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
)


class ImageUnavailable(Exception):
    """The stored file is missing or cannot be decoded."""


def sniff_content_type(head: bytes) -> str:
    """The MIME type of an image from its first bytes; never trusts names or clients."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for signature, offset, mime in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return mime
    return "application/octet-stream"


def image_path(image: Image) -> Path:
    """Where the image's original file lies; ImageUnavailable when it is gone."""
    try:
        path = Path(image.file.path)
    except (ValueError, NotImplementedError) as exc:
        raise ImageUnavailable(str(exc)) from exc
    if not path.is_file():
        raise ImageUnavailable(f"{image.name}: file missing")
    return path


def content_type_of(path: Path) -> str:
    """The sniffed MIME type of a stored file."""
    with path.open("rb") as handle:
        return sniff_content_type(handle.read(16))


def thumbnail_path(image: Image) -> Path:
    """The cached thumbnail, made on first use; named by checksum so a new file gets a new one."""
    folder = Path(settings.MEDIA_ROOT) / "thumbs" / str(image.pk % 1000)
    name = f"{image.pk}-{image.checksum[:16]}-{THUMBNAIL_SIZE}-v{THUMBNAIL_VERSION}.jpg"
    target = folder / name
    if target.is_file():
        return target
    source = image_path(image)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        picture = open_rgb(source, fit=(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    except UnreadableImage as exc:
        raise ImageUnavailable(f"{image.name}: {exc}") from exc
    picture.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    # Write beside the target and rename: a reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            picture.save(out, "JPEG", quality=THUMBNAIL_QUALITY)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
