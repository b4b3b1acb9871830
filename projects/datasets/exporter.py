"""Export a task or a whole project as a COCO detection dataset."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.utils import timezone

from projects.datasets.paths import normalise
from projects.models import Annotation, Image, Label, Project, Task


def export_coco(project: Project, task: Task | None = None) -> dict:
    """COCO JSON for one task (file_name = Image.name) or for the project ("task/name")."""
    images = Image.objects.filter(task__project=project).select_related("task")
    if task is not None:
        images = images.filter(task=task)
    images = images.order_by("task__name", "name", "id")
    labels = list(Label.objects.filter(project=project).order_by("order", "id"))
    category_of = {label.pk: index + 1 for index, label in enumerate(labels)}
    image_rows, image_of = [], {}
    for index, image in enumerate(images, 1):
        image_of[image.pk] = index
        image_rows.append(
            {
                "id": index,
                "file_name": export_name(image, whole_project=task is None),
                "width": image.width,
                "height": image.height,
            }
        )
    annotations = Annotation.objects.filter(image__task__project=project)
    if task is not None:
        annotations = annotations.filter(image__task=task)
    rows = annotations.order_by("image__task__name", "image__name", "image_id", "id").values_list(
        "image_id", "label_id", "x1", "y1", "x2", "y2"
    )
    return {
        "info": {
            "description": project.name if task is None else f"{project.name} / {task.name}",
            "date_created": timezone.now().isoformat(timespec="seconds"),
        },
        "licenses": [],
        "images": image_rows,
        "categories": [
            {"id": category_of[label.pk], "name": label.name, "supercategory": ""}
            for label in labels
        ],
        "annotations": [
            _annotation(number, image_of[image_id], category_of[label_id], (x1, y1, x2, y2))
            for number, (image_id, label_id, x1, y1, x2, y2) in enumerate(rows, 1)
        ],
    }


def _annotation(number: int, image: int, category: int, box: tuple) -> dict:
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    return {
        "id": number,
        "image_id": image,
        "category_id": category,
        "bbox": [x1, y1, width, height],
        "area": width * height,
        "iscrowd": 0,
        "segmentation": [],
    }


def export_name(image: Image, *, whole_project: bool) -> str:
    """The image's path in an export: its dataset name, under its task's name for a project."""
    name, reason = normalise(image.name)
    if reason:
        name = f"{image.pk}_{Path(image.file.name or 'image').name}"
    if not whole_project:
        return name
    folder, reason = normalise(image.task.name.replace("/", "_").replace("\\", "_"))
    return f"{folder if not reason else image.task_id}/{name}"


def copy_images(project: Project, task: Task | None, out_dir: Path) -> int:
    """Copy the exported images into out_dir under their export names; the count copied."""
    images = Image.objects.filter(task__project=project).select_related("task")
    if task is not None:
        images = images.filter(task=task)
    count = 0
    for image in images.iterator():
        target = out_dir.joinpath(*export_name(image, whole_project=task is None).split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        with image.file.open("rb") as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out)
        count += 1
    return count
