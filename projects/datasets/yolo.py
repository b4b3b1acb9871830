"""Reading a YOLO dataset (images/, labels/*.txt, class names) into a Draft."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from django.utils.translation import gettext as _
from django.utils.translation import ngettext, ngettext_lazy

from projects.cleaning import NumberError, parse_number, parse_whole
from projects.datasets.draft import Draft, DraftBox, DraftImage
from projects.datasets.images import is_image_name
from projects.datasets.names import read_class_names
from projects.datasets.paths import MAX_NAME_LENGTH, display, inside
from projects.datasets.report import ImportReport
from projects.datasets.walk import dataset_files

# Plural by "count", the number of files a warning is about.
NOT_IMAGES = ngettext_lazy(
    "%(count)d file in images/ is not an image (by its extension) and is skipped",
    "%(count)d files in images/ are not images (by their extension) and are skipped",
    "count",
)
ORPHAN_LABEL_FILES = ngettext_lazy(
    "%(count)d label file has no image and is skipped",
    "%(count)d label files have no image and are skipped",
    "count",
)

COLUMNS = ("cx", "cy", "w", "h")
_RANGE_SLACK = 1e-3  # normalised values a hair outside [0, 1] are left to the pixel check


def parse_yolo(root: Path, report: ImportReport) -> Draft | None:
    """The dataset under root; None when it cannot be read at all."""
    found = read_class_names(root, report)
    if found is None:
        return None
    labels, names_file = found
    # Ultralytics layout: images/<sub>/a.jpg ↔ labels/<sub>/a.txt; else Darknet: a.txt beside a.jpg.
    split = (root / "images").is_dir()
    image_root = root / "images" if split else root
    files = [path for path in dataset_files(image_root) if _allowed(root, path, report)]
    images = [path for path in files if is_image_name(path.name)]
    if not images:
        report.error(display(root, image_root) if split else "", _("no images found"))
        return None
    skipped = [path for path in files if not is_image_name(path.name) and path.suffix != ".txt"]
    if split and skipped:
        _warn_files(report, root, skipped, NOT_IMAGES)
    drafts, claimed = _read_images(root, image_root, images, split, len(labels), report)
    if split:
        _warn_orphans(root, claimed, report)
    return Draft(labels, drafts, labels_where=(names_file, None))


def _allowed(root: Path, path: Path, report: ImportReport) -> bool:
    if inside(root, path):
        return True
    report.error(display(root, path), _("symbolic link pointing outside the dataset"))
    return False


def _label_path(root: Path, image_root: Path, image: Path, split: bool) -> Path:
    if not split:
        return image.with_suffix(".txt")
    relative = image.relative_to(image_root).with_suffix(".txt")
    return root / "labels" / relative


def _read_images(
    root: Path,
    image_root: Path,
    images: list[Path],
    split: bool,
    classes: int,
    report: ImportReport,
) -> tuple[list[DraftImage], set[Path]]:
    """A draft per image file, with the boxes of its label file when there is one."""
    drafts: list[DraftImage] = []
    claimed: dict[Path, str] = {}
    for path in images:
        name = PurePosixPath(path.relative_to(image_root).as_posix()).as_posix()
        where = display(root, path)
        if len(name) > MAX_NAME_LENGTH:
            report.error(
                where, _("path longer than %(limit)d characters") % {"limit": MAX_NAME_LENGTH}
            )
            continue
        draft = DraftImage(name=name, where=where, path=path)
        label_path = _label_path(root, image_root, path, split)
        if label_path in claimed:
            report.error(
                where,
                _("shares its label file %(label)s with %(other)s")
                % {"label": display(root, label_path), "other": claimed[label_path]},
            )
        elif label_path.is_file():
            claimed[label_path] = where
            if _allowed(root, label_path, report):
                draft.boxes = read_label_file(
                    label_path, display(root, label_path), classes, report
                )
        drafts.append(draft)
    return drafts, set(claimed)


def _warn_orphans(root: Path, claimed: set[Path], report: ImportReport) -> None:
    folder = root / "labels"
    if not folder.is_dir():
        return
    orphans = [
        path
        for path in dataset_files(folder)
        if path.suffix == ".txt" and path.name != "classes.txt" and path not in claimed
    ]
    if orphans:
        _warn_files(report, root, orphans, ORPHAN_LABEL_FILES)


def _warn_files(report: ImportReport, root: Path, paths: list[Path], message) -> None:
    """One warning for several files, located at the first, with their count."""
    report.warn(display(root, paths[0]), message % {"count": len(paths)})


def read_label_file(path: Path, where: str, classes: int, report: ImportReport) -> list[DraftBox]:
    """The boxes of one label file; located errors for every bad line."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report.error(where, _("not UTF-8 text (byte %(pos)d)") % {"pos": exc.start})
        return []
    except OSError as exc:
        report.error(where, _("cannot read the file (%(reason)s)") % {"reason": exc.strerror})
        return []
    boxes = []
    first: dict[tuple[str, ...], int] = {}
    repeated: list[tuple[int, int]] = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if tuple(fields) in first:  # the same box twice is one box (exporters do repeat lines)
            repeated.append((number, first[tuple(fields)]))
            continue
        first[tuple(fields)] = number
        box = _parse_line(fields, classes, where, number, report)
        if box is not None:
            boxes.append(box)
    if repeated:
        report.warn(
            where,
            ngettext(
                "%(count)d line repeats an earlier line exactly (line %(line)d repeats line "
                "%(other)d); the duplicate box is dropped",
                "%(count)d lines repeat an earlier line exactly (line %(line)d repeats line "
                "%(other)d); the duplicate boxes are dropped",
                len(repeated),
            )
            % {"count": len(repeated), "line": repeated[0][0], "other": repeated[0][1]},
            line=repeated[0][0],
        )
    return boxes


def _parse_line(
    fields: list[str], classes: int, where: str, line: int, report: ImportReport
) -> DraftBox | None:
    """One `class cx cy w h` line, or None after a located error."""
    if len(fields) != 5:
        report.error(
            where,
            _("expected 5 columns (class cx cy w h), got %(count)d") % {"count": len(fields)},
            line=line,
        )
        return None
    try:
        label = parse_whole(fields[0])
    except NumberError:
        report.error(
            where,
            _("class must be a whole number, got “%(value)s”") % {"value": fields[0][:20]},
            line=line,
        )
        return None
    if not 0 <= label < classes:
        report.error(
            where,
            _("class %(value)d is out of range (0 to %(last)d)")
            % {"value": label, "last": classes - 1},
            line=line,
        )
        return None
    values: list[float] = []
    for column, raw in zip(COLUMNS, fields[1:], strict=True):
        value = _number(column, raw, where, line, report)
        if value is None:
            return None
        values.append(value)
    return DraftBox(label, (values[0], values[1], values[2], values[3]), True, where, line=line)


def _number(column: str, raw: str, where: str, line: int, report: ImportReport) -> float | None:
    """A normalised coordinate: finite, in [0, 1], and positive for w and h."""
    shown = {"column": column, "value": raw[:20]}
    try:
        value = parse_number(raw, decimal_comma=False)
    except NumberError as exc:
        message = {
            "finite": _("%(column)s must be finite, got %(value)s"),
            "invalid": _("%(column)s is not a number: “%(value)s”"),
        }.get(exc.code)
        report.error(where, message % shown if message else f"{column}: {exc.message}", line=line)
        return None
    if column in ("w", "h") and value <= 0:
        problem = _("zero-size box: %(column)s must be > 0, got %(value)s")
    elif not -_RANGE_SLACK <= value <= 1 + _RANGE_SLACK:
        problem = _("%(column)s=%(value)s is outside [0, 1] (coordinates must be normalised)")
    else:
        return value
    report.error(where, problem % shown, line=line)
    return None
