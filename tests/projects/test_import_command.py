"""manage.py import_dataset: its output, its exit status, and what it leaves behind."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from projects.models import Image, Project, Task
from tests.projects.datasets import coco_data, zip_folder

pytestmark = pytest.mark.django_db


def test_import_prints_the_report_and_flags_the_validation_task(project, make_coco, tmp_path):
    out = io.StringIO()
    archive = zip_folder(make_coco(), tmp_path / "ds.zip")

    call_command(
        "import_dataset",
        "表面检测",
        str(archive),
        "--format",
        "coco",
        "--task",
        "验证集 A",
        "--validation",
        stdout=out,
    )

    assert out.getvalue().splitlines() == [
        "Imported 3 images and 3 annotations into task “验证集 A”.",
        "Labels created: 凹坑, scratch",
    ]
    assert Task.objects.get(name="验证集 A").is_validation


@pytest.fixture
def keep_connection(monkeypatch):
    """run_from_argv closes every connection when done, which would end the test database."""
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)


def test_refused_import_exits_2_with_the_report_on_stderr(
    project, make_coco, capsys, unchanged, keep_connection
):
    data = coco_data()
    data["annotations"][1]["category_id"] = 42

    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(
            ["manage.py", "import_dataset", "表面检测", str(make_coco(data)), "--format", "coco"]
        )

    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "Errors:",
        "  annotations.json: annotations[1].category_id: unknown category id 42",
        "CommandError: Import refused: 1 error; nothing was written.",
    ]
    unchanged()


def test_successful_import_exits_0(project, make_yolo, capsys, keep_connection):
    execute_from_command_line(
        ["manage.py", "import_dataset", "表面检测", str(make_yolo()), "--format", "yolo"]
    )

    assert "Imported 3 images and 3 annotations into task “yolo”." in capsys.readouterr().out


def test_unknown_project_is_a_clear_error(db, make_coco):
    message = "Project “无此项目” does not exist; pass --create-project to create it."
    with pytest.raises(CommandError, match=message):
        call_command("import_dataset", "无此项目", str(make_coco()), "--format", "coco")

    assert not Project.objects.exists()


def test_create_project_makes_it_on_success(db, make_coco):
    call_command(
        "import_dataset",
        "新项目",
        str(make_coco()),
        "--format",
        "coco",
        "--create-project",
        stdout=io.StringIO(),
    )

    assert Image.objects.filter(task__project__name="新项目").count() == 3


def test_create_project_leaves_no_project_when_refused(db, make_coco):
    with pytest.raises(CommandError, match="Import refused"):
        call_command(
            "import_dataset",
            "新项目",
            str(make_coco(raw="{")),
            "--format",
            "coco",
            "--create-project",
            stderr=io.StringIO(),
        )

    assert not Project.objects.exists()


def test_check_only_writes_nothing(project, make_coco, unchanged):
    out = io.StringIO()

    call_command(
        "import_dataset", "表面检测", str(make_coco()), "--format", "coco", "--check", stdout=out
    )

    assert out.getvalue().startswith("Check passed: 3 images and 3 annotations")
    unchanged()


def test_existing_task_is_refused_and_append_adds(project, make_coco):
    call_command(
        "import_dataset",
        "表面检测",
        str(make_coco()),
        "--format",
        "coco",
        "--task",
        "t",
        stdout=io.StringIO(),
    )
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command(
            "import_dataset",
            "表面检测",
            str(make_coco(name="b")),
            "--format",
            "coco",
            "--task",
            "t",
            stderr=err,
        )

    assert "task “t”: already exists in project “表面检测”" in err.getvalue()


def test_format_is_required(project, make_coco):
    with pytest.raises(CommandError, match="--format"):
        call_command("import_dataset", "表面检测", str(make_coco()))
