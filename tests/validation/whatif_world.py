"""A random evaluated run for what-if and curve tests: images without files, many predictions."""

from __future__ import annotations

import numpy as np

from projects.models import Annotation, Image, Label, Project, Task
from tests import run_builders
from tests.validation.run_world import MODEL_LABELS, PROJECT_LABELS
from validation.models import DetectionModel, InferenceRun


def random_run(
    project: Project, model: DetectionModel, user, *, images: int = 12, seed: int = 0, **fields
) -> InferenceRun:
    """A completed run over `images` new images with random annotations and predictions."""
    rng = np.random.default_rng(seed)
    labels = {label.name: label for label in Label.objects.filter(project=project)}
    for name in PROJECT_LABELS:
        if name not in labels:
            labels[name] = Label.objects.create(project=project, name=name, order=len(labels))
    task = Task.objects.create(project=project, name=f"random {seed}", is_validation=True)
    Image.objects.bulk_create(
        Image(
            task=task,
            name=f"r{seed}_{i:03d}.png",
            file=f"none/r{seed}_{i}.png",
            width=400,
            height=300,
            checksum=f"{seed:032d}{i:032d}",
        )
        for i in range(images)
    )
    image_ids = list(Image.objects.filter(task=task).order_by("id").values_list("id", flat=True))
    annotations, per_image = [], []
    for image_id in image_ids:
        gt = []
        for _ in range(int(rng.integers(1, 6))):
            x, y = rng.uniform(0, 320), rng.uniform(0, 230)
            w, h = rng.uniform(15, 70), rng.uniform(15, 60)
            name = PROJECT_LABELS[int(rng.integers(0, len(PROJECT_LABELS)))]
            gt.append((x, y, x + w, y + h, name))
            annotations.append(
                Annotation(image_id=image_id, label=labels[name], x1=x, y1=y, x2=x + w, y2=y + h)
            )
        row = []
        for _ in range(int(rng.integers(0, 10))):
            if gt and rng.random() < 0.7:
                x1, y1, x2, y2, name = gt[int(rng.integers(0, len(gt)))]
                jitter = rng.normal(0, 6, 4)
                box = (x1 + jitter[0], y1 + jitter[1], x2 + jitter[2], y2 + jitter[3])
                box = (box[0], box[1], max(box[2], box[0] + 1), max(box[3], box[1] + 1))
                label = MODEL_LABELS.index(name) if name in MODEL_LABELS else 0
                if rng.random() < 0.2:
                    label = int(rng.integers(0, len(MODEL_LABELS)))
            else:
                x, y = rng.uniform(0, 330), rng.uniform(0, 240)
                box = (x, y, x + rng.uniform(10, 60), y + rng.uniform(10, 50))
                label = int(rng.integers(0, len(MODEL_LABELS)))
            row.append((box, label, round(float(rng.uniform(0.05, 1.0)), 2)))
        per_image.append(row)
    Annotation.objects.bulk_create(annotations)
    values = {"iou_threshold": 0.3, **fields, "images_total": images, "images_done": images}
    run = run_builders.new_run(project, model, user, status=InferenceRun.Status.COMPLETED, **values)
    return run_builders.evaluate(run, run_builders.stored_predictions(image_ids, per_image))


def project_with_validation_task(members, name: str = "随机项目") -> Project:
    """A project with the test labels and one validation task (filled by random_run)."""
    project = Project.objects.create(name=name)
    project.members.add(*members)
    for order, label in enumerate(PROJECT_LABELS):
        Label.objects.create(project=project, name=label, order=order)
    return project
