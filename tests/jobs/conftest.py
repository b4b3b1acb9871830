"""A small validation project and a probed tiny model, with real files on disk."""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image as PILImage

from projects.models import Annotation, Image, Label, Project, Task
from tests.jobs.tiny_models import BrightSpotDetector, WrongShapeModel, export
from validation.models import DetectionModel, Process

LABELS = ["划痕", "dent", "stain"]


def _jpeg(width: int, height: int, spots: list[tuple[int, int, int]]) -> bytes:
    rng = np.random.default_rng(width * 7 + height)
    pixels = rng.integers(20, 60, size=(height, width, 3), dtype=np.uint8)
    for x, y, channel in spots:
        pixels[y - 10 : y + 10, x - 10 : x + 10, channel] = 255
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def add_image(task: Task, name: str, data: bytes, width: int, height: int) -> Image:
    image = Image(
        task=task, name=name, width=width, height=height, checksum=hashlib.sha256(data).hexdigest()
    )
    image.file.save(name, ContentFile(data), save=False)
    image.save()
    return image


@pytest.fixture
def validation_project(owner) -> Project:
    project = Project.objects.create(name="检测项目 demo")
    project.members.add(owner)
    labels = [Label.objects.create(project=project, name=n, order=i) for i, n in enumerate(LABELS)]
    Label.objects.create(project=project, name="crack", order=9)  # project-only label
    task = Task.objects.create(project=project, name="val", is_validation=True)
    Task.objects.create(project=project, name="train", is_validation=False)
    rng = np.random.default_rng(3)
    for i in range(12):
        width, height = int(rng.integers(120, 260)), int(rng.integers(100, 240))
        spots = [
            (
                int(rng.integers(16, width - 16)),
                int(rng.integers(16, height - 16)),
                int(rng.integers(0, 3)),
            )
            for _ in range(int(rng.integers(0, 4)))
        ]
        image = add_image(task, f"img_{i:02d}.jpg", _jpeg(width, height, spots), width, height)
        for x, y, channel in spots:
            Annotation.objects.create(
                image=image, label=labels[channel], x1=x - 10, y1=y - 10, x2=x + 10, y2=y + 10
            )
    return project


def _model_row(path: Path, name: str, settings, **fields) -> DetectionModel:
    process, _ = Process.objects.get_or_create(name="surface")
    dest = Path(settings.MEDIA_ROOT) / "models" / path.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, dest)
    return DetectionModel.objects.create(
        process=process,
        name=name,
        file=f"models/{path.name}",
        format="export",
        label_names=LABELS,
        input_size=64,
        resize_mode="letterbox",
        output_format="nx6",
        **fields,
    )


@pytest.fixture
def tiny_model(tmp_path, settings) -> DetectionModel:
    path = export(BrightSpotDetector(), tmp_path / "bright.pt2")
    return _model_row(path, "bright spots", settings, probe_status="passed")


@pytest.fixture
def wrong_model(tmp_path, settings) -> DetectionModel:
    path = export(WrongShapeModel(), tmp_path / "wrong.pt2")
    return _model_row(path, "wrong shape", settings, probe_status="passed")
