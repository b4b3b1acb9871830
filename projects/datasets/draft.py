"""A parsed dataset before it is written, and the check that places a box on its image."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from projects.datasets.images import ImageFacts
from projects.datasets.report import ImportReport

MAX_LABEL_LENGTH = 100  # Label.name
# A box may overshoot its image by this much (rounding in exporters) and is then clipped.
TOLERANCE_PX = 1.0
_SILENT_PX = 1e-6  # float noise: clipped without a warning

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class DraftBox:
    """One annotation as read: pixels x1 y1 x2 y2, or normalised cx cy w h (YOLO)."""

    label: int  # index into Draft.labels
    coords: Box
    normalised: bool
    file: str
    line: int | None = None
    field: str | None = None


@dataclass
class DraftImage:
    """One image as read: its dataset name, its file, the boxes that refer to it."""

    name: str
    where: str  # the file's path inside the dataset, for messages
    path: Path | None = None  # None when the file is missing (already reported)
    declared: tuple[int, int] | None = None
    declared_at: tuple[str, str] = ("", "")  # (file, field) of the declared size
    boxes: list[DraftBox] = field(default_factory=list)
    facts: ImageFacts | None = None
    placed: list[tuple[int, Box]] = field(default_factory=list)


@dataclass
class Draft:
    """A whole dataset as read: label names in order and images."""

    labels: list[str]
    images: list[DraftImage]
    labels_where: tuple[str, str | None] = ("", None)  # (file, field) the names come from


def fmt(value: float) -> str:
    """A number short enough for a message."""
    return f"{value:.6g}"


def place_box(box: DraftBox, facts: ImageFacts, report: ImportReport) -> Box | None:
    """The box in pixels on the image as shown, clipped within tolerance; None when refused."""
    width, height = facts.width, facts.height
    if box.normalised:
        cx, cy, w, h = box.coords
        x1, y1 = (cx - w / 2) * width, (cy - h / 2) * height
        x2, y2 = (cx + w / 2) * width, (cy + h / 2) * height
    else:
        x1, y1, x2, y2 = box.coords
    where = {"line": box.line, "field": box.field}
    over = max(-x1, -y1, x2 - width, y2 - height, 0.0)
    shown = f"[{fmt(x1)}, {fmt(y1)}, {fmt(x2)}, {fmt(y2)}]"
    overhang = {"box": shown, "w": width, "h": height, "over": fmt(over)}
    if over > TOLERANCE_PX:
        message = _("box %(box)s lies outside the image (%(w)d×%(h)d) by %(over)s px")
        report.error(box.file, message % overhang, **where)
        return None
    clipped = (max(x1, 0.0), max(y1, 0.0), min(x2, float(width)), min(y2, float(height)))
    if not (clipped[0] < clipped[2] and clipped[1] < clipped[3]):
        report.error(
            box.file, _("box %(box)s has no area inside the image") % {"box": shown}, **where
        )
        return None
    if over > _SILENT_PX:
        message = _("box %(box)s exceeds the image (%(w)d×%(h)d) by %(over)s px; clipped to it")
        report.warn(box.file, message % overhang, **where)
    return clipped
