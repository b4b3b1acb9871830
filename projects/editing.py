"""Saving an image's annotations from the editor: validate every box, then replace in one go."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from projects.models import Annotation, Image, Label
from projects.versioning import StaleEdit, claim_version, parse_version

COORDINATES = ("x1", "y1", "x2", "y2")
# A box may overhang the image by this many pixels (rounding in the browser); it is clipped.
EDGE_TOLERANCE = 1.0
# Coordinates closer than this count as unchanged: the browser echoes floats back as it got them.
SAME_COORDINATE = 1e-6
# A new or changed box narrower or lower than this (image pixels, after clipping) is degenerate:
# the editor draws nothing under 2 px and resizes down to 1 px. A box kept as imported is kept.
MIN_BOX_SIZE = 1.0


@dataclass(frozen=True)
class BoxError:
    """One problem with the submitted boxes: which box (None = the whole list), field, message."""

    index: int | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON form the editor shows next to the box."""
        return {"index": self.index, "field": self.field, "message": self.message}


class AnnotationsInvalid(Exception):
    """The submitted boxes were refused; nothing was changed."""

    def __init__(self, errors: list[BoxError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


class AnnotationsStale(Exception):
    """Someone saved the image's boxes after this editor loaded them; nothing was changed."""

    def __init__(self, current: int | None) -> None:
        super().__init__(stale_message())
        self.current = current


def stale_message() -> str:
    """What the editor shows when its boxes are out of date."""
    return _(
        "Someone else saved this image's boxes after you opened it. Nothing was saved: "
        "reload to see their changes, then redo yours."
    )


@dataclass(frozen=True)
class CleanBox:
    """A validated box, clipped to the image."""

    id: int | None
    label_id: int
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class SaveResult:
    """The image's annotations after saving and what the save did."""

    annotations: list[Annotation]
    created: int
    updated: int
    deleted: int
    unchanged: int
    version: int


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    """The value as a finite float, or None when it is not a finite JSON number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _clean_id(index: int, raw: dict, existing_ids: set[int], seen: set[int]) -> list[BoxError]:
    box_id = raw.get("id")
    if box_id is None:
        return []
    if not _is_int(box_id):
        return [BoxError(index, "id", _("The id must be a whole number or null."))]
    if box_id not in existing_ids:
        message = _("Annotation %(id)s is not on this image (deleted meanwhile?).") % {"id": box_id}
        return [BoxError(index, "id", message)]
    if box_id in seen:
        return [BoxError(index, "id", _("Annotation %(id)s is listed twice.") % {"id": box_id})]
    seen.add(box_id)
    return []


def _clean_label(index: int, raw: dict, label_ids: set[int]) -> list[BoxError]:
    label = raw.get("label")
    if not _is_int(label) or label not in label_ids:
        message = _("%(label)s is not a label of this project.") % {"label": repr(label)}
        return [BoxError(index, "label", message)]
    return []


def _clean_coordinates(
    index: int, raw: dict, width: int, height: int
) -> tuple[dict[str, float], list[BoxError]]:
    """Finite, inside the image (within the tolerance, then clipped) and ordered."""
    values: dict[str, float] = {}
    errors: list[BoxError] = []
    for field in COORDINATES:
        size = width if field.startswith("x") else height
        number = _number(raw.get(field))
        if number is None:
            errors.append(
                BoxError(index, field, _("%(field)s must be a finite number.") % {"field": field})
            )
        elif not -EDGE_TOLERANCE <= number <= size + EDGE_TOLERANCE:
            message = _("%(field)s = %(value)s is outside the image (0 to %(size)s).") % {
                "field": field,
                "value": f"{number:g}",
                "size": size,
            }
            errors.append(BoxError(index, field, message))
        else:
            values[field] = min(max(number, 0.0), float(size))
    if errors:
        return values, errors
    for low, high in (("x1", "x2"), ("y1", "y2")):
        if not values[low] < values[high]:
            message = _("%(high)s must be greater than %(low)s.") % {"high": high, "low": low}
            errors.append(BoxError(index, high, message))
    return values, errors


def _too_small(index: int, values: dict[str, float], kept: Annotation | None) -> list[BoxError]:
    """A new or changed box under MIN_BOX_SIZE wide or high; an untouched stored box passes."""
    if kept is not None and not any(
        abs(getattr(kept, field) - values[field]) > SAME_COORDINATE for field in COORDINATES
    ):
        return []
    messages = {
        "x2": _("The box is %(size)s px wide; a box needs at least %(min)s px."),
        "y2": _("The box is %(size)s px high; a box needs at least %(min)s px."),
    }
    errors = []
    for low, high in (("x1", "x2"), ("y1", "y2")):
        size = values[high] - values[low]
        if size < MIN_BOX_SIZE - SAME_COORDINATE:
            numbers = {"size": f"{size:.3g}", "min": f"{MIN_BOX_SIZE:g}"}
            errors.append(BoxError(index, high, messages[high] % numbers))
    return errors


def clean_boxes(
    payload: Any,
    *,
    width: int,
    height: int,
    label_ids: set[int],
    existing: dict[int, Annotation],
) -> list[CleanBox]:
    """Validate the editor's list of boxes; raise AnnotationsInvalid with every located error."""
    raw_boxes = payload.get("boxes") if isinstance(payload, dict) else None
    if not isinstance(raw_boxes, list):
        raise AnnotationsInvalid([BoxError(None, "boxes", _("Send a list of boxes."))])
    if len(raw_boxes) > settings.MAX_BOXES_PER_IMAGE:
        message = _("At most %(n)s boxes per image.") % {"n": settings.MAX_BOXES_PER_IMAGE}
        raise AnnotationsInvalid([BoxError(None, "boxes", message)])
    errors: list[BoxError] = []
    boxes: list[CleanBox] = []
    seen: set[int] = set()
    for index, raw in enumerate(raw_boxes):
        if not isinstance(raw, dict):
            errors.append(BoxError(index, "box", _("Each box must be an object.")))
            continue
        box_errors = _clean_id(index, raw, set(existing), seen) + _clean_label(
            index, raw, label_ids
        )
        values, coordinate_errors = _clean_coordinates(index, raw, width, height)
        box_errors += coordinate_errors
        if not coordinate_errors:
            kept = existing.get(raw["id"]) if _is_int(raw.get("id")) else None
            box_errors += _too_small(index, values, kept)
        errors += box_errors
        if not box_errors:
            boxes.append(CleanBox(id=raw.get("id"), label_id=raw["label"], **values))
    if errors:
        raise AnnotationsInvalid(errors)
    return boxes


def _differs(annotation: Annotation, box: CleanBox) -> bool:
    if annotation.label_id != box.label_id:
        return True
    return any(
        abs(getattr(annotation, field) - getattr(box, field)) > SAME_COORDINATE
        for field in COORDINATES
    )


def _claim(image: Image, payload: Any) -> int | None:
    """Bump the image from the version the editor read (None: none sent); stale if it moved on."""
    # Checked before the boxes: a stale list may name boxes deleted meanwhile, and "someone
    # else saved" is then the answer, not "box 3 is not on this image".
    version = parse_version(payload.get("version")) if isinstance(payload, dict) else None
    if version is None:
        return None
    try:
        return claim_version(Image.objects, image.pk, version)
    except StaleEdit as exc:
        raise AnnotationsStale(exc.current) from None


def _write(image: Image, existing: dict[int, Annotation], boxes: list[CleanBox], user) -> tuple:
    """Create, update in place and delete rows so that the image has exactly these boxes."""
    now = timezone.now()
    changed: list[Annotation] = []
    new: list[Annotation] = []
    for box in boxes:
        fields = {"label_id": box.label_id, **{f: getattr(box, f) for f in COORDINATES}}
        if box.id is None:
            new.append(Annotation(image=image, updated_by=user, updated_at=now, **fields))
            continue
        annotation = existing[box.id]
        if _differs(annotation, box):
            for name, value in fields.items():
                setattr(annotation, name, value)
            annotation.updated_by = user
            annotation.updated_at = now
            changed.append(annotation)
    kept = {box.id for box in boxes if box.id is not None}
    removed = [pk for pk in existing if pk not in kept]
    if removed:
        Annotation.objects.filter(pk__in=removed).delete()
    if changed:
        Annotation.objects.bulk_update(changed, ["label", *COORDINATES, "updated_by", "updated_at"])
    Annotation.objects.bulk_create(new)
    return new, changed, removed, kept


def save_annotations(image: Image, payload: Any, user) -> SaveResult:
    """Replace the image's boxes with the submitted ones if they were read at its version."""
    label_ids = set(
        Label.objects.filter(project_id=image.task.project_id).values_list("pk", flat=True)
    )
    with transaction.atomic():  # an error below also undoes the version bump
        version = _claim(image, payload)
        existing = {a.pk: a for a in Annotation.objects.select_for_update().filter(image=image)}
        boxes = clean_boxes(
            payload, width=image.width, height=image.height, label_ids=label_ids, existing=existing
        )
        if version is None:
            message = _("The save names no valid version of the image; reload the editor.")
            raise AnnotationsInvalid([BoxError(None, "version", message)])
        image.version = version
        new, changed, removed, kept = _write(image, existing, boxes, user)
    return SaveResult(
        annotations=list(image_annotations(image)),
        created=len(new),
        updated=len(changed),
        deleted=len(removed),
        unchanged=len(kept) - len(changed),
        version=image.version,
    )


def image_annotations(image: Image):
    """The image's annotations with their label and last editor, in a stable order."""
    return (
        Annotation.objects.filter(image=image).select_related("label", "updated_by").order_by("id")
    )


def annotation_state(annotation: Annotation) -> dict[str, Any]:
    """One annotation as the editor's JSON."""
    return {
        "id": annotation.pk,
        "label": annotation.label_id,
        "label_name": annotation.label.name,
        "x1": annotation.x1,
        "y1": annotation.y1,
        "x2": annotation.x2,
        "y2": annotation.y2,
        "updated_by": annotation.updated_by.get_username() if annotation.updated_by else None,
        "updated_at": annotation.updated_at.isoformat() if annotation.updated_at else None,
    }
