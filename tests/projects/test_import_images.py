"""Image files that are not usable: each refused by name, and nothing written."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image as PILImage

from projects.datasets import import_dataset
from projects.models import Image
from tests.projects.datasets import coco_data, make_image, messages_at

pytestmark = pytest.mark.django_db

TARGET = "images/划痕.jpg"


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares a size but carries (almost) no pixels: a pixel bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def replace_target(root: Path, content: bytes) -> None:
    (root / TARGET).write_bytes(content)


def truncated_jpeg(tmp_path: Path) -> bytes:
    path = tmp_path / "big.jpg"
    PILImage.effect_noise((64, 48), 50).convert("RGB").save(path, quality=95)
    data = path.read_bytes()
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"scratch, dent, stain\n", "not an image (cannot identify image file)"),
        (b"", "empty file"),
        (
            b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 48\n",
            "not an image (cannot identify image file)",
        ),
        (
            png_header(20000, 10000),
            "image has 200000000 pixels, more than the limit 89478485 (decompression bomb)",
        ),
        (png_header(64, 48), "cannot decode the image (cannot load this image)"),
        (png_header(64, 48)[:33], "not an image (cannot identify image file)"),
    ],
    ids=["text", "empty", "eps", "pixel-bomb", "png-without-pixels", "png-cut-in-header"],
)
def test_unusable_image_is_refused_by_name(project, make_coco, unchanged, content, message):
    root = make_coco()
    replace_target(root, content)

    report = import_dataset(project, root, "coco")

    assert messages_at(report.errors, TARGET) == [message], str(report)
    unchanged()


def test_truncated_jpeg_is_refused(project, make_coco, unchanged, tmp_path):
    root = make_coco()
    replace_target(root, truncated_jpeg(tmp_path))

    report = import_dataset(project, root, "coco")

    [message] = messages_at(report.errors, TARGET)
    assert message.startswith("cannot decode the image (image file is truncated")
    unchanged()


def test_pixel_limit_between_warning_and_error_is_still_an_error(
    project, make_coco, unchanged, monkeypatch
):
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 2000)  # 64×48 = 3072: Pillow only warns

    report = import_dataset(project, make_coco(), "coco")

    assert messages_at(report.errors, TARGET) == [
        "image has 3072 pixels, more than the limit 2000 (decompression bomb)"
    ]
    unchanged()


@pytest.mark.parametrize("mode", ["CMYK", "I;16", "L", "P", "RGBA"])
def test_unusual_but_valid_modes_are_accepted(project, make_coco, mode):
    root = make_coco(coco_data(annotations=[]))
    suffix = ".jpg" if mode == "CMYK" else ".png"
    PILImage.new(mode, (64, 48)).save(root / "images" / f"x{suffix}")
    (root / TARGET).unlink()
    (root / "images" / f"x{suffix}").rename(root / TARGET)  # content need not match the suffix

    report = import_dataset(project, root, "coco")

    assert report.imported, str(report)
    assert Image.objects.values_list("width", "height").get(name="划痕.jpg") == (64, 48)


def test_errors_of_several_images_are_all_listed(project, make_coco, unchanged):
    root = make_coco()
    replace_target(root, b"not an image")
    (root / "images" / "sub" / "b.png").write_bytes(b"")
    make_image(root / "images" / "empty.jpg")

    report = import_dataset(project, root, "coco")

    assert [p.location for p in report.errors] == [TARGET, "images/sub/b.png"]
    unchanged()
