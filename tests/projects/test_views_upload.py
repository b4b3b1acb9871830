"""Dataset upload from the project page: imported whole, or refused with located errors."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from projects.models import Annotation, Image, Task
from tests.clients import HTMX

pytestmark = pytest.mark.django_db


def url(project) -> str:
    return reverse("projects:dataset-upload", args=[project.pk])


def zipped(folder: Path, name: str = "dataset.zip", extra: dict[str, bytes] | None = None):
    """The folder as an uploaded zip (plus extra raw entries)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
        for entry, data in (extra or {}).items():
            zf.writestr(entry, data)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/zip")


def form(archive, **changes) -> dict:
    data = {"archive": archive, "format": "coco", "task_name": "新批次", "validation": "on"}
    return {**data, **changes}


def rows() -> tuple[int, int, int]:
    return Task.objects.count(), Image.objects.count(), Annotation.objects.count()


def test_a_member_imports_a_coco_zip_into_a_new_validation_task(member_client, world, make_coco):
    response = member_client.post(url(world.project), form(zipped(make_coco())))

    assert response.status_code == 200
    task = Task.objects.get(project=world.project, name="新批次")
    assert task.is_validation
    assert task.images.count() == 3
    assert Annotation.objects.filter(image__task=task).count() == 3
    report = response.context["report"]
    assert report.ok and report.imported
    body = response.content.decode()
    assert report.summary() in body
    assert "新批次" in body


def test_htmx_upload_swaps_the_form_and_refreshes_the_tables_out_of_band(
    member_client, world, make_coco
):
    response = member_client.post(
        url(world.project),
        form(zipped(make_coco()), validation=""),
        **HTMX,
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="dataset-upload"')
    assert '<section id="project-tasks" class="card" hx-swap-oob="true">' in body
    assert '<section id="project-labels" class="card" hx-swap-oob="true">' in body
    assert "<html" not in body
    assert not Task.objects.get(name="新批次").is_validation


def test_a_broken_dataset_is_refused_with_located_errors_and_nothing_written(
    member_client, world, make_coco, settings
):
    before = rows()

    response = member_client.post(url(world.project), form(zipped(make_coco(raw='{"images": ['))))

    assert response.status_code == 422
    report = response.context["report"]
    assert not report.ok
    body = response.content.decode()
    assert "annotations.json" in body
    assert report.errors[0].message in body.replace("&#x27;", "'").replace("&quot;", '"')
    assert rows() == before


def test_a_zip_with_a_path_outside_the_folder_is_refused(member_client, world, make_coco):
    before = rows()

    archive = zipped(make_coco(), extra={"../evil.txt": b"x"})
    response = member_client.post(url(world.project), form(archive), **HTMX)

    assert response.status_code == 422
    assert "../evil.txt" in response.content.decode()
    assert "hx-swap-oob" not in response.content.decode()
    assert rows() == before


def test_a_file_that_is_not_a_zip_is_refused_next_to_the_field(member_client, world):
    fake = SimpleUploadedFile("data.zip", b"not a zip at all")

    response = member_client.post(url(world.project), form(fake), **HTMX)

    assert response.status_code == 422
    assert response.context["form"].errors["archive"]
    assert "This is not a zip archive." in response.content.decode()
    assert response.context["report"] is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"archive": ""}, "archive"),
        ({"format": "voc"}, "format"),
        ({"task_name": "   "}, "task_name"),
        ({"task_name": "验证任务"}, "task_name"),  # taken in this project
        ({"task_name": "two\nlines"}, "task_name"),
    ],
)
def test_form_errors_are_shown_next_to_their_field(member_client, world, make_coco, changes, field):
    before = rows()

    data = form(zipped(make_coco()))
    data.update(changes)
    response = member_client.post(url(world.project), data)

    assert response.status_code == 422
    assert field in response.context["form"].errors
    assert 'class="field has-error' in response.content.decode()
    assert rows() == before


def test_an_archive_named_with_120_chinese_characters_is_imported(member_client, world, make_coco):
    name = "划" * 120 + ".zip"  # 364 bytes: more than a file name may hold

    response = member_client.post(url(world.project), form(zipped(make_coco(), name=name)))

    assert response.status_code == 200
    assert response.context["report"].imported
    assert Task.objects.get(name="新批次").images.count() == 3


def test_an_outsider_gets_404_and_nothing_is_written(outsider_client, world, make_coco):
    before = rows()

    response = outsider_client.post(url(world.project), form(zipped(make_coco())))

    assert response.status_code == 404
    assert rows() == before


def test_anonymous_is_sent_to_login(client, world, make_coco):
    response = client.post(url(world.project), form(zipped(make_coco())))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not Task.objects.filter(name="新批次").exists()


def test_get_is_not_allowed(member_client, world):
    assert member_client.get(url(world.project)).status_code == 405
