"""Small datasets for the import tests: images made with Pillow, the standard COCO and YOLO
contents, zips, and what a refused import must leave behind (nothing)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

from projects.models import Annotation, Image, Label, Project, Task


def make_image(
    path: Path, size: tuple[int, int] = (64, 48), *, orientation: int | None = None
) -> Path:
    """A small image file; its format follows the suffix; optional EXIF orientation."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = PILImage.new("RGB", size, (90, 100, 110))
    image.putpixel((1, 1), (255, 0, 0))
    if orientation is None:
        image.save(path)
    else:
        exif = PILImage.Exif()
        exif[0x0112] = orientation
        image.save(path, exif=exif)
    return path


COCO_IMAGES = [
    {"id": 7, "file_name": "划痕.jpg", "width": 64, "height": 48},
    {"id": 8, "file_name": "sub/b.png", "width": 40, "height": 30},
    {"id": 9, "file_name": "empty.jpg", "width": 32, "height": 32},
]


COCO_CATEGORIES = [
    {"id": 3, "name": "scratch"},
    {"id": 1, "name": "凹坑"},
]


COCO_ANNOTATIONS = [
    {"id": 1, "image_id": 7, "category_id": 1, "bbox": [10, 5, 20, 10], "iscrowd": 0},
    {"id": 2, "image_id": 7, "category_id": 3, "bbox": [0, 0, 64, 48], "iscrowd": 0},
    {"id": 3, "image_id": 8, "category_id": 3, "bbox": [2.5, 3.5, 10, 5], "iscrowd": 0},
]


def coco_data(**changes: Any) -> dict:
    """A fresh copy of the standard COCO document, with top-level keys replaced."""
    data = json.loads(
        json.dumps(
            {"images": COCO_IMAGES, "categories": COCO_CATEGORIES, "annotations": COCO_ANNOTATIONS}
        )
    )
    data.update(changes)
    return data


YOLO_LABELS = {
    "划痕.txt": "1 0.5 0.5 0.25 0.5\n0 0.1 0.1 0.2 0.2\n",
    "train/b.txt": "0 0.5 0.5 1 1\n",
}


def zip_folder(folder: Path, target: Path, *, prefix: str = "") -> Path:
    """Zip every file under folder, names relative to it (under prefix)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return target


def media_files(settings) -> list[Path]:
    """Every file under MEDIA_ROOT."""
    root = Path(settings.MEDIA_ROOT)
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def db_counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Project, Label, Task, Image, Annotation))


def messages_at(problems, location: str) -> list[str]:
    """The messages of the problems found at exactly this location."""
    return [problem.message for problem in problems if problem.location == location]
