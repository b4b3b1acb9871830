"""Instance crops: a context window around both boxes, drawn with Pillow and cached on disk.

No text is drawn into the images (Pillow's default font has no CJK glyphs); the page shows the
labels and a legend of the two box styles.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from django.conf import settings
from PIL import Image as PILImage
from PIL import ImageDraw

from imaging import UnreadableImage, open_rgb
from projects.models import Image
from validation.models import Instance

CROP_MAX_SIDE = 256
# Part of every cached crop's name: raise it when the drawing changes, so old files are not
# served again (2: pixels decoded as the engine decodes them, EXIF-oriented, 16-bit scaled).
CROP_VERSION = 2
MAX_UPSCALE = 4.0
MARGIN_FRACTION = 0.35
MIN_MARGIN = 12
ANNOTATION_COLOUR = (22, 163, 74)  # solid green: the annotation (ground truth)
PREDICTION_COLOUR = (234, 88, 12)  # dashed orange: the model's prediction
LINE_WIDTH = 2
DASH = 6


class CropUnavailable(Exception):
    """The image file is missing or cannot be decoded."""


Box = tuple[float, float, float, float]


def instance_boxes(instance: Instance) -> tuple[Box | None, Box | None]:
    """(annotation box, predicted box) of an instance; None for a side it does not have."""
    gt = (instance.gx1, instance.gy1, instance.gx2, instance.gy2)
    pred = (instance.px1, instance.py1, instance.px2, instance.py2)
    return (
        gt if None not in gt else None,  # type: ignore[return-value]
        pred if None not in pred else None,
    )


def crop_window(boxes: list[Box], width: int, height: int) -> tuple[int, int, int, int]:
    """The union of the boxes with a margin, clipped to the image, at least one pixel wide."""
    x1 = min(b[0] for b in boxes)
    y1 = min(b[1] for b in boxes)
    x2 = max(b[2] for b in boxes)
    y2 = max(b[3] for b in boxes)
    margin = max(MIN_MARGIN, MARGIN_FRACTION * max(x2 - x1, y2 - y1))
    left = max(0, int(x1 - margin))
    top = max(0, int(y1 - margin))
    right = min(width, int(x2 + margin + 0.999))
    bottom = min(height, int(y2 + margin + 0.999))
    if right <= left:
        left, right = max(0, min(left, width - 1)), max(1, min(left + 1, width))
    if bottom <= top:
        top, bottom = max(0, min(top, height - 1)), max(1, min(top + 1, height))
    return left, top, right, bottom


def crop_scale(window: tuple[int, int, int, int]) -> float:
    """Scale that fits the window's long side into CROP_MAX_SIDE, enlarging small ones a little."""
    long_side = max(window[2] - window[0], window[3] - window[1], 1)
    return min(CROP_MAX_SIDE / long_side, MAX_UPSCALE)


def _dashed_rectangle(draw: ImageDraw.ImageDraw, box: Box, colour, width: int) -> None:
    x1, y1, x2, y2 = box
    edges = [((x1, y1), (x2, y1)), ((x2, y1), (x2, y2)), ((x2, y2), (x1, y2)), ((x1, y2), (x1, y1))]
    for (ax, ay), (bx, by) in edges:
        length = max(abs(bx - ax), abs(by - ay))
        steps = max(1, int(length // DASH))
        for i in range(0, steps, 2):
            t0, t1 = i / steps, min(1.0, (i + 1) / steps)
            start = (ax + (bx - ax) * t0, ay + (by - ay) * t0)
            end = (ax + (bx - ax) * t1, ay + (by - ay) * t1)
            draw.line([start, end], fill=colour, width=width)


def render_crop(image: PILImage.Image, annotation: Box | None, prediction: Box | None) -> bytes:
    """PNG bytes of the context window with the annotation (solid) and prediction (dashed)."""
    boxes = [b for b in (annotation, prediction) if b is not None]
    if not boxes:
        boxes = [(0.0, 0.0, float(image.width), float(image.height))]
    window = crop_window(boxes, image.width, image.height)
    scale = crop_scale(window)
    region = image.crop(window).convert("RGB")
    size = (
        max(1, round(region.width * scale)),
        max(1, round(region.height * scale)),
    )
    region = region.resize(size, PILImage.Resampling.BILINEAR)
    draw = ImageDraw.Draw(region)

    def place(box: Box) -> Box:
        return (
            (box[0] - window[0]) * scale,
            (box[1] - window[1]) * scale,
            (box[2] - window[0]) * scale - 1,
            (box[3] - window[1]) * scale - 1,
        )

    if annotation is not None:
        draw.rectangle(place(annotation), outline=ANNOTATION_COLOUR, width=LINE_WIDTH)
    if prediction is not None:
        _dashed_rectangle(draw, place(prediction), PREDICTION_COLOUR, LINE_WIDTH)
    out = io.BytesIO()
    region.save(out, format="PNG", optimize=False)
    return out.getvalue()


def crop_digest(*key: object) -> str:
    """A short digest of what a crop shows, with the crop's size and drawing version."""
    return hashlib.sha256(repr((*key, CROP_MAX_SIDE, CROP_VERSION)).encode()).hexdigest()


def crop_path(instance: Instance) -> Path:
    """Where the crop of this instance is cached; the name changes when its boxes change."""
    annotation, prediction = instance_boxes(instance)
    digest = crop_digest(instance.image_id, annotation, prediction)[:16]
    folder = Path(settings.MEDIA_ROOT) / "crops" / str(instance.run_id)
    return folder / f"{instance.pk}-{digest}.png"


def cached_crop(path: Path, image: Image, annotation: Box | None, prediction: Box | None) -> Path:
    """The crop at path, drawn from the image file (decoded as the engine does) on first use."""
    if path.exists():
        return path
    try:
        picture = open_rgb(image.file.path)
    except (ValueError, UnreadableImage) as exc:  # ValueError: the row names no file
        raise CropUnavailable(str(exc)) from exc
    data = render_crop(picture, annotation, prediction)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def get_crop(instance: Instance) -> Path:
    """The cached crop's path, drawing and writing it on first use."""
    return cached_crop(crop_path(instance), instance.image, *instance_boxes(instance))
