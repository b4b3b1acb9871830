"""Import a COCO or YOLO dataset into a project task: check everything, then write it all."""

from __future__ import annotations

import contextlib
import tempfile
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Literal

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from projects.cleaning import shorten_file_name, text_problem
from projects.datasets.archive import extract_zip
from projects.datasets.coco import parse_coco
from projects.datasets.draft import Draft, DraftImage, place_box
from projects.datasets.images import inspect_image
from projects.datasets.report import ImportReport
from projects.datasets.sniff import format_hint
from projects.datasets.walk import dataset_root
from projects.datasets.yolo import parse_yolo
from projects.models import Annotation, Image, Label, Project, Task

Format = Literal["coco", "yolo"]
FORMATS: tuple[str, ...] = ("coco", "yolo")
MAX_TASK_NAME = 200  # Task.name


def import_dataset(
    project: Project,
    source: Path | str,
    fmt: Format,
    *,
    task_name: str | None = None,
    validation: bool = False,
    user=None,
    append: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Check the dataset at source (a folder or a .zip) and, if it has no error, import it whole."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown dataset format {fmt!r}; expected one of {FORMATS}")
    source = Path(source)
    report = ImportReport(task_name=(task_name or default_task_name(source)).strip())
    task = _check_task(project, report, append)
    with tempfile.TemporaryDirectory(prefix="dataset-import-") as scratch:
        draft = _read(source, fmt, Path(scratch), report)
        if draft is None:
            return report
        _check_caps(project, draft, report)
        _check_images(draft, task, report)
        _count(draft, report)
        if report.ok and not dry_run:
            _write(project, task, draft, report, validation=validation, user=user)
    return report


def default_task_name(source: Path) -> str:
    """The folder's name, the archive's name without .zip, or a COCO file's folder name."""
    if source.suffix.lower() == ".json":
        return source.resolve().parent.name
    return source.stem if source.suffix.lower() == ".zip" else source.name


def _check_task(project: Project, report: ImportReport, append: bool) -> Task | None:
    """The existing task to add to (append), or None for a new one; errors otherwise."""
    name = report.task_name
    where = _("task “%(task)s”") % {"task": name}
    if not name:
        report.error(_("task"), _("the task needs a name"))
        return None
    if problem := text_problem(name):
        report.error(_("task"), _("the task name %(problem)s") % {"problem": problem})
        return None
    if len(name) > MAX_TASK_NAME:
        report.error(where, _("longer than %(limit)d characters") % {"limit": MAX_TASK_NAME})
        return None
    task = Task.objects.filter(project=project, name=name).first()
    if task is not None and not append:
        report.error(
            where,
            _(
                "already exists in project “%(project)s”; choose another task name, or choose to "
                "add the images to it"
            )
            % {"project": project.name},
        )
    report.task_created = task is None
    return task


def _read(source: Path, fmt: str, scratch: Path, report: ImportReport) -> Draft | None:
    """Unpack source if it is a zip and parse it; None when it cannot be read at all."""
    json_path = None
    if source.is_dir():
        root = dataset_root(source)
    elif source.is_file() and fmt == "coco" and source.suffix.lower() == ".json":
        root, json_path = source.parent, source
    elif source.is_file() and (source.suffix.lower() == ".zip" or zipfile.is_zipfile(source)):
        target = scratch / "dataset"
        target.mkdir()
        if not extract_zip(source, target, report):
            return None
        root = dataset_root(target)
    elif source.exists():
        report.error(source.name, _("not a folder or a .zip archive"))
        return None
    else:
        report.error(source.name, _("does not exist"))
        return None
    draft = parse_coco(root, report, json_path) if fmt == "coco" else parse_yolo(root, report)
    if not report.ok and (hint := format_hint(root, fmt)):
        report.error_first("", hint)
    if draft is None and report.ok:  # never silent: a dataset that cannot be read says so
        report.error("", _("the dataset cannot be read"))
    if draft is not None and not draft.images and report.ok:
        report.error("", _("the dataset has no images"))
    if source.is_file():  # an uploaded archive: its name is what the user knows
        report.locate_in(source.name)
    return draft


def _check_caps(project: Project, draft: Draft, report: ImportReport) -> None:
    """Labels per project and boxes per image within the settings' caps; boxes over it dropped."""
    limit = settings.MAX_LABELS_PER_PROJECT
    existing = set(Label.objects.filter(project=project).values_list("name", flat=True))
    total = len(existing | set(draft.labels))
    if total > limit:
        file, field = draft.labels_where
        report.error(
            file,
            _(
                "%(count)d class names would give the project %(total)d labels, more than the "
                "limit of %(limit)d labels per project"
            )
            % {"count": len(draft.labels), "total": total, "limit": limit},
            field=field,
        )
    limit = settings.MAX_BOXES_PER_IMAGE
    for image in draft.images:
        if len(image.boxes) > limit:
            first_over = image.boxes[limit]
            report.error(
                first_over.file,
                _("%(count)d boxes on image %(image)s, more than the limit of %(limit)d per image")
                % {"count": len(image.boxes), "image": image.where, "limit": limit},
                line=first_over.line,
                field=first_over.field,
            )
            image.boxes = []  # refused: not placed one by one


def _check_images(draft: Draft, task: Task | None, report: ImportReport) -> None:
    """Decode every image, compare declared sizes, place every box on its image."""
    taken = set(task.images.values_list("name", flat=True)) if task is not None else set()
    checksums: dict[str, str] = {}
    for image in draft.images:
        if image.name in taken:
            report.error(image.where, _("the task already has an image with this name"))
        if image.path is None:
            continue
        facts = inspect_image(image.path, image.where, report)
        if facts is None:
            continue
        image.facts = facts
        if facts.checksum in checksums:
            report.warn(
                image.where, _("same content as %(other)s") % {"other": checksums[facts.checksum]}
            )
        checksums.setdefault(facts.checksum, image.where)
        _compare_declared(image.declared, image.declared_at, facts, report)
        for box in image.boxes:
            placed = place_box(box, facts, report)
            if placed is not None:
                image.placed.append((box.label, placed))


def _compare_declared(declared, declared_at, facts, report: ImportReport) -> None:
    """Warn when the annotation file's width/height differ from the file's."""
    if declared is None or declared == (facts.width, facts.height):
        return
    file, field = declared_at
    params = {"dw": declared[0], "dh": declared[1], "w": facts.width, "h": facts.height}
    if facts.turned and declared == (facts.stored_width, facts.stored_height):
        message = _(
            "declared size %(dw)d×%(dh)d is the size before the EXIF orientation; the image is "
            "shown as %(w)d×%(h)d and its boxes are read on the image as shown"
        )
    else:
        message = _(
            "declared size %(dw)d×%(dh)d differs from the file's %(w)d×%(h)d; "
            "the file's size is used"
        )
    report.warn(file, message % params, field=field)


def _count(draft: Draft, report: ImportReport) -> None:
    counts = Counter(label for image in draft.images for label, _box in image.placed)
    report.images = len(draft.images)
    report.annotations = sum(counts.values())
    report.label_counts = {name: counts.get(i, 0) for i, name in enumerate(draft.labels)}


def storage_name(name: str) -> str:
    """A safe file name for storage, keeping the original's when it can, short enough in bytes."""
    base = PurePosixPath(name)
    try:
        valid = get_valid_filename(base.name)
    except SuspiciousFileOperation:
        valid = ""
    if not PurePosixPath(valid).stem or valid.startswith("."):
        suffix = get_valid_filename(base.suffix.lower().lstrip(".") or "img")
        valid = f"image.{suffix}"
    return shorten_file_name(valid)


class _Conflict(Exception):
    """Another import or user changed the same rows meanwhile."""


def _write(
    project: Project,
    task: Task | None,
    draft: Draft,
    report: ImportReport,
    *,
    validation: bool,
    user,
) -> None:
    """Write labels, task, files and rows in one transaction; remove the files if it fails."""
    storage = Image._meta.get_field("file").storage
    saved: list[str] = []
    try:
        with transaction.atomic():
            labels = _ensure_labels(project, draft.labels, report)
            task = _target_task(project, task, report.task_name, validation)
            rows: list[Annotation] = []
            for item in draft.images:
                rows.extend(_save_image(task, item, labels, user, saved))
            Annotation.objects.bulk_create(rows, batch_size=2000)
    except (_Conflict, DatabaseError, OSError, SuspiciousFileOperation) as exc:
        _remove(storage, saved)
        report.labels_created.clear()
        report.error(*_failure(exc, report.task_name))
        return
    except BaseException:
        _remove(storage, saved)
        raise
    report.imported = True


def _target_task(project: Project, task: Task | None, name: str, validation: bool) -> Task:
    """The task given (flagged as validation set when asked), or a new one of that name."""
    if task is None:
        return _create_task(project, name, validation)
    if validation and not task.is_validation:
        task.is_validation = True
        # Bumped: a task page opened before this import holds a stale flag form.
        Task.objects.filter(pk=task.pk).update(is_validation=True, version=F("version") + 1)
    return task


def _save_image(
    task: Task, item: DraftImage, labels: list[Label], user, saved: list[str]
) -> list[Annotation]:
    """Store one image's file (its name goes to saved) and row; its annotations, not yet saved."""
    assert item.facts is not None and item.path is not None
    image = Image(
        task=task,
        name=item.name,
        width=item.facts.width,
        height=item.facts.height,
        checksum=item.facts.checksum,
    )
    with open(item.path, "rb") as fh:
        image.file.save(storage_name(item.name), File(fh), save=False)
    saved.append(str(image.file.name))
    image.save()
    return [
        Annotation(
            image=image,
            label=labels[label],
            x1=box[0],
            y1=box[1],
            x2=box[2],
            y2=box[3],
            updated_by=user,
        )
        for label, box in item.placed
    ]


def _failure(exc: Exception, task_name: str) -> tuple[str, str]:
    """Where and what to report when the write was rolled back."""
    if isinstance(exc, _Conflict):
        return _("task “%(task)s”") % {"task": task_name}, str(exc)
    if isinstance(exc, IntegrityError):
        return "", _(
            "another import or user changed this project at the same moment; nothing was "
            "written: try again"
        )
    return "", _("the import failed and was rolled back (%(reason)s)") % {"reason": exc}


def _create_task(project: Project, name: str, validation: bool) -> Task:
    """The new task; a task of that name created meanwhile (a second upload) is a _Conflict."""
    try:
        with transaction.atomic():
            return Task.objects.create(project=project, name=name, is_validation=validation)
    except IntegrityError:
        raise _Conflict(
            _(
                "was created by another import at the same moment; nothing was written: "
                "choose another task name, or add the images to that task"
            )
        ) from None


def _ensure_labels(project: Project, names: list[str], report: ImportReport) -> list[Label]:
    """The project's label for each name, creating the missing ones after the existing ones."""
    existing = {label.name: label for label in Label.objects.filter(project=project)}
    order = max((label.order for label in existing.values()), default=-1) + 1
    labels = []
    for name in names:
        if name not in existing:
            # get_or_create: a second import at the same moment may have just made it.
            existing[name], created = Label.objects.get_or_create(
                project=project, name=name, defaults={"order": order}
            )
            order += 1
            if created:
                report.labels_created.append(name)
        labels.append(existing[name])
    return labels


def _remove(storage, names: list[str]) -> None:
    for name in names:
        with contextlib.suppress(OSError):
            storage.delete(name)


def import_upload(project: Project, upload, fmt: Format, **options) -> ImportReport:
    """import_dataset for an uploaded zip (a Django UploadedFile); the task defaults to its name."""
    name = storage_name(Path(upload.name or "dataset.zip").name or "dataset.zip")
    options["task_name"] = options.get("task_name") or Path(upload.name or "dataset").stem
    limit = settings.IMPORT_MAX_ARCHIVE_BYTES
    if upload.size is not None and upload.size > limit:
        report = ImportReport(task_name=options["task_name"])
        report.error(
            name, _("the upload is larger than the limit %(limit)d bytes") % {"limit": limit}
        )
        return report
    with tempfile.TemporaryDirectory(prefix="dataset-upload-") as scratch:
        path = Path(scratch) / name
        with open(path, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        return import_dataset(project, path, fmt, **options)
