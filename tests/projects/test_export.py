"""Export to COCO: the document, the command, and a round trip through import."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pycocotools.coco import COCO

from projects.datasets import export_coco, import_dataset
from projects.models import Annotation, Image, Project, Task
from tests.projects.datasets import zip_folder

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(project, make_coco, make_yolo):
    assert import_dataset(project, make_coco(), "coco", task_name="验证").imported
    assert import_dataset(project, make_yolo(), "yolo", task_name="训练").imported
    return project


def test_task_export_is_coco_with_dataset_names(imported):
    task = Task.objects.get(name="验证")

    data = export_coco(imported, task)

    assert [(i["file_name"], i["width"], i["height"]) for i in data["images"]] == [
        ("empty.jpg", 32, 32),
        ("sub/b.png", 40, 30),
        ("划痕.jpg", 64, 48),
    ]
    assert [(c["id"], c["name"]) for c in data["categories"]] == [(1, "凹坑"), (2, "scratch")]
    assert [(a["image_id"], a["category_id"], a["bbox"]) for a in data["annotations"]] == [
        (2, 2, [2.5, 3.5, 10.0, 5.0]),
        (3, 1, [10.0, 5.0, 20.0, 10.0]),
        (3, 2, [0.0, 0.0, 64.0, 48.0]),
    ]
    coco = COCO()
    coco.dataset = data
    coco.createIndex()
    assert len(coco.getAnnIds(imgIds=[3])) == 2


def test_project_export_puts_each_task_in_its_folder(imported):
    data = export_coco(imported)

    names = [image["file_name"] for image in data["images"]]
    assert len(names) == len(set(names)) == 6
    assert "训练/train/b.png" in names and "验证/划痕.jpg" in names
    assert len(data["annotations"]) == Annotation.objects.count() == 6
    assert [c["name"] for c in data["categories"]] == ["凹坑", "scratch"]


def test_command_writes_utf8_json_and_images_that_import_again(imported, tmp_path, owner):
    out_dir = tmp_path / "export"
    out_dir.mkdir()
    stdout = io.StringIO()

    call_command(
        "export_dataset",
        "表面检测",
        str(out_dir / "annotations.json"),
        "--task",
        "验证",
        "--with-images",
        str(out_dir),
        stdout=stdout,
    )

    assert stdout.getvalue().strip() == (
        "Exported 3 images and 3 annotations. Copied 3 image files."
    )
    assert "划痕.jpg" in (out_dir / "annotations.json").read_text(encoding="utf-8")
    other = Project.objects.create(name="副本")
    report = import_dataset(
        other, zip_folder(out_dir, tmp_path / "again.zip"), "coco", task_name="验证"
    )
    assert report.imported and report.warnings == [], str(report)

    def summary(project):
        rows = Annotation.objects.filter(image__task__project=project, image__task__name="验证")
        return [
            (a.image.name, a.image.checksum, a.label.name, a.x1, a.y1, a.x2, a.y2)
            for a in rows.order_by("image__name", "x1")
        ]

    assert summary(other) == summary(imported)


def test_command_writes_to_stdout(imported):
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command("export_dataset", "表面检测", "-", stdout=stdout, stderr=stderr)

    assert len(json.loads(stdout.getvalue())["images"]) == Image.objects.count()
    assert "Exported 6 images and 6 annotations." in stderr.getvalue()


def test_command_names_unknown_project_and_task(imported, tmp_path):
    with pytest.raises(CommandError, match="Project “nope” does not exist."):
        call_command("export_dataset", "nope", str(tmp_path / "x.json"))
    with pytest.raises(CommandError, match="Task “nope” does not exist in project “表面检测”."):
        call_command("export_dataset", "表面检测", str(tmp_path / "x.json"), "--task", "nope")
