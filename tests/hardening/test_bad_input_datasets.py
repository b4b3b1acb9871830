"""Every dataset of the corpus through the upload page and `manage.py import_dataset`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse
from django.utils.html import escape

from projects.models import Image, Project, Task
from tests.clients import HTMX
from tests.hardening.bad_input import Guard, Outcome, record
from tests.hardening.corpus import Case, archive_cases, image_cases
from tests.hardening.corpus_annotations import coco_cases, yolo_cases

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning"),  # the broken-EXIF case
]

KINDS = {"archive": archive_cases, "image": image_cases, "coco": coco_cases, "yolo": yolo_cases}


def _made(make, tmp: Path) -> list[Case]:
    return make(tmp) if make is archive_cases else make()


@pytest.fixture
def project(db, owner) -> Project:
    project = Project.objects.create(name="表面检测")
    project.members.add(owner)
    return project


def _located(case: Case, response, body: str) -> tuple[bool, str]:
    """Whether a refusal names where the problem is (file, line or field) on the page."""
    report = response.context.get("report") if response.context else None
    if report is not None and report.errors:
        for problem in report.errors:
            where_ok = case.where is None or case.where in str(problem)
            if problem.location != "dataset" and where_ok and escape(problem.location) in body:
                return True, str(problem)
        return False, "; ".join(str(p) for p in report.errors[:3])
    form = response.context.get("form") if response.context else None
    errors = dict(form.errors) if form is not None else {}
    for field_name, messages in errors.items():
        text = f"{field_name}: {' '.join(messages)}"
        if (case.where is None or case.where in text) and escape(messages[0]) in body:
            return True, text
    return False, str(errors)


def _check_accepted(case: Case, response, guard: Guard, outcome: Outcome, client) -> None:
    """Imported whole: the task, every image with its file, every box; nothing else."""
    report = response.context["report"]
    task = Task.objects.filter(name=case.name).first()
    images = Image.objects.filter(task=task)
    changed = guard.row_changes()
    expected = {"projects.Task": 1, "projects.Image": report.images}
    if report.annotations:
        expected["projects.Annotation"] = report.annotations
    if report.labels_created:
        expected["projects.Label"] = len(report.labels_created)
    if task is None or images.count() != report.images or changed != expected:
        outcome.half_written = f"report {report.images} images, rows changed {changed}"
    outside, media = guard.new_files()
    outcome.outside = outside
    if len(media) != report.images:
        outcome.half_written += f" {len(media)} files stored for {report.images} images"
    if case.size is not None:
        odd = images.filter(name__startswith="c.").first() or images.first()
        if (odd.width, odd.height) != case.size:
            outcome.half_written += f" size {(odd.width, odd.height)} != {case.size}"
    for image in images.exclude(name__in=("a.jpg", "b.png")):  # the odd one: served and edited
        for name in ("projects:image-thumb", "projects:image-editor"):
            shown = client.get(reverse(name, args=[image.pk]), **HTMX)
            if shown.status_code >= 500:
                outcome.server_error = f"{name} of {image.name}: {shown.status_code}"


def _upload(client, project, case: Case, kind: str, tmp_path: Path, media: Path) -> Outcome:
    """One dataset through the upload page, checked for everything an input must not do."""
    path = case.build(tmp_path / "corpus" / kind / case.name)
    guard = Guard(tmp_path, media)
    outcome = record(Outcome(kind, case.name, "dataset upload page"))
    try:
        name = case.upload_name or path.name
        upload = SimpleUploadedFile(name, path.read_bytes(), content_type="application/zip")
        data = {"archive": upload, "format": case.fmt, "task_name": case.name, "validation": "on"}
        url = reverse("projects:dataset-upload", args=[project.pk])
        response = client.post(url, data, **HTMX)  # as the page sends it
        if response.status_code >= 500:
            outcome.server_error = f"HTTP {response.status_code}"
        elif response.status_code == 200 and (case.where is None or case.either):
            _check_accepted(case, response, guard, outcome, client)
        else:
            outcome.refused = True
            guard.check_refused(outcome)
            expected = case if not case.either else Case(case.name, case.build, None)
            outcome.located, outcome.reason = _located(expected, response, response.text)
            if response.status_code != 422:
                outcome.server_error = f"refused with HTTP {response.status_code}, not 422"
            if case.where is None and not case.either:
                outcome.half_written = f"a valid dataset was refused: {outcome.reason}"
    finally:
        guard.close()
    return outcome


def _command(project, case: Case, kind: str, tmp_path: Path, media: Path) -> Outcome:
    """The same dataset through `manage.py import_dataset`: CommandError with the same reason."""
    path = case.build(tmp_path / "corpus" / kind / case.name)
    guard = Guard(tmp_path, media)
    outcome = record(Outcome(kind, case.name, "manage.py import_dataset"))
    stdout, stderr = io.StringIO(), io.StringIO()
    task = f"{case.name} (command)"
    args = [project.name, str(path), "--format", case.fmt, "--task", task]
    try:
        call_command("import_dataset", *args, stdout=stdout, stderr=stderr)
    except CommandError as exc:
        outcome.refused = True
        guard.check_refused(outcome)
        text = f"{exc}\n{stderr.getvalue()}"
        outcome.reason = text.strip()
        where = case.where if case.where and not case.either else ""
        outcome.located = (where in text) and any(
            marker in text for marker in (".zip", ".json", ".txt", ".yaml", "line", "images/")
        )
        if case.where is None and not case.either:
            outcome.half_written = f"a valid dataset was refused: {text}"
    except Exception as exc:  # noqa: BLE001 - anything else is a crash of the command
        outcome.server_error = f"{type(exc).__name__}: {exc}"
    else:
        changed = guard.row_changes()
        if not Task.objects.filter(name=task).exists() or "projects.Image" not in changed:
            outcome.half_written = f"accepted but rows changed {changed}"
        outcome.outside = guard.new_files()[0]
    finally:
        guard.close()
    return outcome


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_dataset_upload_is_refused_with_a_located_reason_or_imported_whole(
    client, owner, project, tmp_path, settings, kind
):
    client.force_login(owner)
    client.raise_request_exception = False
    failures = []
    for case in _made(KINDS[kind], tmp_path):
        with override_settings(**case.settings):
            outcome = _upload(client, project, case, kind, tmp_path, Path(settings.MEDIA_ROOT))
        if not outcome.clean:
            failures.append(str(outcome))
    assert failures == []


@pytest.mark.parametrize("kind", [kind for kind in KINDS if kind != "image"])
def test_the_import_command_refuses_the_same_inputs_with_the_same_reasons(
    project, tmp_path, settings, kind
):
    failures = []
    for case in _made(KINDS[kind], tmp_path):
        with override_settings(**case.settings):
            outcome = _command(project, case, kind, tmp_path, Path(settings.MEDIA_ROOT))
        if not outcome.clean:
            failures.append(str(outcome))
    assert failures == []


def test_the_corpus_is_deterministic(tmp_path):
    """Built twice, every file has the same bytes: a failure can be reproduced from its name."""
    first = [c.build(tmp_path / "a" / k / c.name) for k, c in _cases_at(tmp_path)]
    second = [c.build(tmp_path / "b" / k / c.name) for k, c in _cases_at(tmp_path)]
    assert len({(k, c.name) for k, c in _cases_at(tmp_path)}) == len(first)  # names are unique
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def _cases_at(tmp: Path) -> list[tuple[str, Case]]:
    return [(kind, case) for kind, make in KINDS.items() for case in _made(make, tmp)]
