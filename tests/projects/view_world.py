"""A small project world for the view and editor tests: users, labels, tasks, real image files."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.core.files.base import ContentFile
from PIL import Image as PILImage

from projects.models import Annotation, Image, Label, Project, Task


def png_bytes(size: tuple[int, int] = (64, 48), colour=(120, 125, 130)) -> bytes:
    """A small PNG image."""
    out = io.BytesIO()
    PILImage.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def add_image(task: Task, name: str, size: tuple[int, int] = (64, 48), data: bytes | None = None):
    """An image row with a real file under MEDIA_ROOT."""
    image = Image(task=task, name=name, width=size[0], height=size[1], checksum=f"{name:0>64}"[:64])
    image.file.save(name.replace("/", "_"), ContentFile(data or png_bytes(size)), save=False)
    image.save()
    return image


@dataclass
class World:
    project: Project
    other: Project
    labels: dict[str, Label]
    other_label: Label
    validation_task: Task
    training_task: Task
    image: Image
    second_image: Image
    other_image: Image


def build_world(owner, member, outsider) -> World:
    """Project 表面检测 (owner, member) with three labels, two tasks; outsider has another one."""
    project = Project.objects.create(name="表面检测", description="surface inspection line 3")
    project.members.add(owner, member)
    labels = {
        name: Label.objects.create(project=project, name=name, order=i)
        for i, name in enumerate(["划痕", "凹坑", "污渍"])
    }
    validation_task = Task.objects.create(project=project, name="验证任务", is_validation=True)
    training_task = Task.objects.create(project=project, name="training")
    image = add_image(validation_task, "a/划痕-001.png", (200, 100))
    second_image = add_image(validation_task, "b.png", (64, 48))
    add_image(training_task, "t.png", (32, 32))
    Annotation.objects.create(image=image, label=labels["划痕"], x1=10, y1=10, x2=50, y2=40)
    Annotation.objects.create(image=image, label=labels["凹坑"], x1=100, y1=20, x2=150, y2=90)
    Annotation.objects.create(image=second_image, label=labels["划痕"], x1=1, y1=1, x2=20, y2=20)
    other = Project.objects.create(name="other project")
    other.members.add(outsider)
    other_label = Label.objects.create(project=other, name="other-label")
    other_task = Task.objects.create(project=other, name="their task")
    other_image = add_image(other_task, "theirs.png", (40, 40))
    Annotation.objects.create(image=other_image, label=other_label, x1=1, y1=1, x2=5, y2=5)
    return World(
        project=project,
        other=other,
        labels=labels,
        other_label=other_label,
        validation_task=validation_task,
        training_task=training_task,
        image=image,
        second_image=second_image,
        other_image=other_image,
    )


def boxes_of(image: Image) -> list[dict]:
    """The image's boxes as the editor sends them back."""
    return [
        {"id": a.pk, "label": a.label_id, "x1": a.x1, "y1": a.y1, "x2": a.x2, "y2": a.y2}
        for a in Annotation.objects.filter(image=image).order_by("id")
    ]


def edit(image: Image, boxes: list[dict]) -> dict:
    """What the editor posts: the boxes and the image version it read them at."""
    return {"version": Image.objects.get(pk=image.pk).version, "boxes": boxes}
