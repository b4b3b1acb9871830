"""Reading a COCO detection dataset (annotation JSON + image files) into a Draft."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from projects.cleaning import BadNumber, clean_name
from projects.datasets.draft import MAX_LABEL_LENGTH, Draft, DraftBox, DraftImage, fmt
from projects.datasets.images import is_image_name
from projects.datasets.jsonfile import as_int, json_type, load_json, shown
from projects.datasets.paths import MAX_NAME_LENGTH, display, inside, normalise
from projects.datasets.report import ImportReport
from projects.datasets.walk import dataset_files

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# One entry of a list whose ids and names must be unique: (location, id, name, anything else).
Entry = tuple[str, int | None, str | None, Any]


@dataclass(frozen=True)
class _Unique:
    """What a list's entries must not repeat: the id, and the name in name_field."""

    name_field: str
    repeated_id: StrOrPromise
    repeated_name: StrOrPromise


_CATEGORIES = _Unique(
    "name",
    gettext_lazy("duplicate category id %(id)d (also %(other)s)"),
    gettext_lazy("duplicate category name “%(name)s” (also %(other)s)"),
)
_IMAGES = _Unique(
    "file_name",
    gettext_lazy("duplicate image id %(id)d (also %(other)s)"),
    gettext_lazy("duplicate file name “%(name)s” (also %(other)s)"),
)


def find_annotation_file(root: Path, report: ImportReport) -> Path | None:
    """annotations.json, or the only .json at the top or in annotations/."""
    if (root / "annotations.json").is_file():
        return root / "annotations.json"
    found = sorted(root.glob("*.json")) + sorted(root.glob("annotations/*.json"))
    if len(found) == 1:
        return found[0]
    if not found:
        report.error(
            "", _("no COCO annotation file (.json) at the top of the dataset or in annotations/")
        )
    else:
        names = ", ".join(display(root, path) for path in found)
        report.error(
            "", _("several annotation files (%(names)s); keep only one") % {"names": names}
        )
    return None


def parse_coco(root: Path, report: ImportReport, json_path: Path | None = None) -> Draft | None:
    """The dataset under root described by its COCO file; None when it cannot be read at all."""
    json_path = json_path or find_annotation_file(root, report)
    if json_path is None:
        return None
    reader = _CocoReader(root, json_path, report)
    errors = report.error_count
    data = load_json(json_path, reader.where, report)
    # None is also a valid document ("null"): check_top then says what the top level must be.
    if report.error_count > errors or not reader.check_top(data):
        return None
    labels, category_index = reader.categories(data["categories"])
    images = reader.images(data["images"])
    reader.annotations(data["annotations"], images, category_index)
    reader.warn_unlisted(images.values())
    return Draft(labels, list(images.values()), labels_where=(reader.where, "categories"))


class _CocoReader:
    """Walks one COCO file, recording located problems in the report."""

    def __init__(self, root: Path, json_path: Path, report: ImportReport) -> None:
        self.root = root
        self.json_path = json_path
        self.where = display(root, json_path)
        self.report = report

    def error(self, field: str, message: str) -> None:
        self.report.error(self.where, message, field=field)

    def check_top(self, data: Any) -> bool:
        """True when the three top-level lists are there."""
        if not isinstance(data, dict):
            self.report.error(
                self.where,
                _("the top level must be an object with images, annotations and categories"),
            )
            return False
        ok = True
        for key in ("images", "annotations", "categories"):
            if key not in data:
                self.error(key, _("missing key"))
                ok = False
            elif not isinstance(data[key], list):
                self.error(key, _("must be a list, got %(type)s") % {"type": json_type(data[key])})
                ok = False
        return ok

    def field_int(self, obj: dict, key: str, at: str, *, positive: bool = False) -> int | None:
        """obj[key] as an integer, or None after a located error."""
        if key not in obj:
            self.error(f"{at}.{key}", _("missing key"))
            return None
        value = as_int(obj[key])
        if value is None:
            self.error(
                f"{at}.{key}",
                _("must be an integer, got %(value)s") % {"value": shown(obj[key])},
            )
        elif positive and value <= 0:
            self.error(f"{at}.{key}", _("must be > 0, got %(value)d") % {"value": value})
            return None
        return value

    def objects(self, items: list, key: str) -> Iterator[tuple[str, dict]]:
        """(location, entry) of each entry of a list; an entry that is no object is an error."""
        for i, item in enumerate(items):
            at = f"{key}[{i}]"
            if not isinstance(item, dict):
                self.error(at, _("must be an object, got %(type)s") % {"type": json_type(item)})
                continue
            yield at, item

    def repeated(self, field: str, message: StrOrPromise, key: str, value: Any, seen: dict) -> bool:
        """True, after a located error, when value was met before (message: value as key, other)."""
        if value not in seen:
            return False
        self.error(field, message % {key: value, "other": seen[value]})
        return True

    def distinct(
        self, entries: Iterable[Entry], unique: _Unique
    ) -> Iterator[tuple[str, int, str, Any]]:
        """The entries with an id and a name, both new; a repeat of either is a located error."""
        first_at: dict[int, str] = {}
        names: dict[str, str] = {}
        for at, ident, name, extra in entries:
            if ident is None or name is None:
                continue
            if self.repeated(f"{at}.id", unique.repeated_id, "id", ident, first_at):
                continue
            if self.repeated(
                f"{at}.{unique.name_field}", unique.repeated_name, "name", name, names
            ):
                continue
            first_at[ident], names[name] = at, at
            yield at, ident, name, extra

    def categories(self, items: list) -> tuple[list[str], dict[int, int]]:
        """Label names in category-id order, and category id → label index."""
        entries = (
            (at, self.field_int(item, "id", at), self.label_name(item, at), None)
            for at, item in self.objects(items, "categories")
        )
        by_id = {cid: name for _at, cid, name, _none in self.distinct(entries, _CATEGORIES)}
        ordered = sorted(by_id)
        return [by_id[cid] for cid in ordered], {cid: i for i, cid in enumerate(ordered)}

    def label_name(self, item: dict, at: str) -> str | None:
        """A category's name: a non-empty string that fits a label."""
        if "name" not in item:
            self.error(f"{at}.name", _("missing key"))
            return None
        raw = item["name"]
        if not isinstance(raw, str) or not raw.strip():
            self.error(
                f"{at}.name",
                _("must be a non-empty string, got %(value)s") % {"value": shown(raw)},
            )
            return None
        try:
            return clean_name(raw, MAX_LABEL_LENGTH)
        except ValueError as exc:
            self.error(f"{at}.name", str(exc))
            return None

    def images(self, items: list) -> dict[int, DraftImage]:
        """Image id → draft image, with its file located."""
        entries = (
            (
                at,
                self.field_int(item, "id", at),
                self.file_name(item, at),
                self.declared_size(item, at),
            )
            for at, item in self.objects(items, "images")
        )
        by_id: dict[int, DraftImage] = {}
        for at, image_id, name, declared in self.distinct(entries, _IMAGES):
            draft = DraftImage(
                name=name, where=name, declared=declared, declared_at=(self.where, at)
            )
            self.locate(draft, at)
            by_id[image_id] = draft
        return by_id

    def file_name(self, item: dict, at: str) -> str | None:
        """The image's relative path, normalised; None when missing or unsafe."""
        if "file_name" not in item:
            self.error(f"{at}.file_name", _("missing key"))
            return None
        raw = item["file_name"]
        if not isinstance(raw, str):
            self.error(
                f"{at}.file_name", _("must be a string, got %(type)s") % {"type": json_type(raw)}
            )
            return None
        name, reason = normalise(raw)
        if reason:
            self.error(f"{at}.file_name", reason)
            return None
        if len(name) > MAX_NAME_LENGTH:
            self.error(
                f"{at}.file_name",
                _("longer than %(limit)d characters") % {"limit": MAX_NAME_LENGTH},
            )
            return None
        return name

    def declared_size(self, item: dict, at: str) -> tuple[int, int] | None:
        """The declared (width, height), when both are given and valid."""
        if "width" not in item and "height" not in item:
            return None
        width = self.field_int(item, "width", at, positive=True)
        height = self.field_int(item, "height", at, positive=True)
        if width is None or height is None:
            return None
        return width, height

    def locate(self, draft: DraftImage, at: str) -> None:
        """Find the image file beside the JSON, in images/, or at the dataset's top."""
        folder = self.json_path.parent
        bases = [folder, folder / "images", self.root, self.root / "images"]
        tried: list[str] = []
        for base in dict.fromkeys(bases):
            path = base.joinpath(*draft.name.split("/"))
            if path.is_file():
                if not inside(self.root, path):
                    self.error(f"{at}.file_name", _("symbolic link pointing outside the dataset"))
                    return
                draft.path, draft.where = path, display(self.root, path)
                return
            tried.append(display(self.root, path))
        self.error(
            f"{at}.file_name",
            _("image file not found (looked for %(paths)s)") % {"paths": ", ".join(tried)},
        )

    def annotations(
        self, items: list, images: dict[int, DraftImage], categories: dict[int, int]
    ) -> None:
        """Attach each valid annotation's box to its image."""
        seen: dict[int, str] = {}
        crowd: list[str] = []
        for at, item in self.objects(items, "annotations"):
            if not self.annotation_id(item, at, seen):
                continue
            image = self.reference(item, "image_id", at, images, _("image"))
            label = self.reference(item, "category_id", at, categories, _("category"))
            box = self.bbox(item, at)
            if item.get("iscrowd") not in (None, 0, False):
                crowd.append(at)
            if image is not None and label is not None and box is not None:
                image.boxes.append(DraftBox(label, box, False, self.where, field=f"{at}.bbox"))
        if crowd:
            self.report.warn(
                self.where,
                ngettext(
                    "%(count)d annotation has iscrowd set; it is ignored and it is imported as an "
                    "ordinary box",
                    "%(count)d annotations have iscrowd set; it is ignored and they are imported "
                    "as ordinary boxes",
                    len(crowd),
                )
                % {"count": len(crowd)},
                field=crowd[0],
            )

    def annotation_id(self, item: dict, at: str, seen: dict[int, str]) -> bool:
        """False when the annotation's id is present but invalid or duplicate."""
        if "id" not in item:
            return True
        ann_id = as_int(item["id"])
        if ann_id is None:
            self.error(
                f"{at}.id", _("must be an integer, got %(value)s") % {"value": shown(item["id"])}
            )
            return False
        message = _("duplicate annotation id %(id)d (also %(other)s)")
        if self.repeated(f"{at}.id", message, "id", ann_id, seen):
            return False
        seen[ann_id] = at
        return True

    def reference(self, item: dict, key: str, at: str, known: dict, kind: str) -> Any:
        """The object item[key] refers to, or None after a located error."""
        ref = self.field_int(item, key, at)
        if ref is None:
            return None
        if ref not in known:
            self.error(f"{at}.{key}", _("unknown %(kind)s id %(id)d") % {"kind": kind, "id": ref})
            return None
        return known[ref]

    def bbox(self, item: dict, at: str) -> tuple[float, float, float, float] | None:
        """[x, y, w, h] as (x1, y1, x2, y2), or None after a located error."""
        at = f"{at}.bbox"
        if "bbox" not in item:
            self.error(at, _("missing key"))
            return None
        raw = item["bbox"]
        if not (isinstance(raw, list) and len(raw) == 4):
            self.error(
                at,
                _("must be a list of 4 numbers [x, y, width, height], got %(value)s")
                % {"value": shown(raw)},
            )
            return None
        for name, value in zip(("x", "y", "width", "height"), raw, strict=True):
            if isinstance(value, BadNumber):
                self.error(at, f"{name}: {value.reason}")
                return None
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.error(
                    at,
                    _("%(name)s must be a number, got %(value)s")
                    % {"name": name, "value": shown(value)},
                )
                return None
            if not math.isfinite(value):
                self.error(
                    at, _("%(name)s must be finite, got %(value)s") % {"name": name, "value": value}
                )
                return None
        x, y, w, h = (float(v) for v in raw)
        for name, value in (("width", w), ("height", h)):
            if value <= 0:
                self.error(
                    at,
                    _("%(name)s must be > 0, got %(value)s") % {"name": name, "value": fmt(value)},
                )
                return None
        return x, y, x + w, y + h

    def warn_unlisted(self, images: Any) -> None:
        """One warning for image files present but not listed in the COCO file."""
        listed = {draft.path.resolve() for draft in images if draft.path is not None}
        unlisted = [
            path
            for path in dataset_files(self.root)
            if is_image_name(path.name) and path.resolve() not in listed
        ]
        if unlisted:
            self.report.warn(
                display(self.root, unlisted[0]),
                ngettext(
                    "%(count)d image file is not listed in %(json)s and is not imported",
                    "%(count)d image files are not listed in %(json)s and are not imported",
                    len(unlisted),
                )
                % {"count": len(unlisted), "json": self.where},
            )
