"""Dataset upload: a zipped COCO or YOLO dataset imported into a new task of the project."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from projects.access import get_project_for_user
from projects.cleaning import shorten_file_name
from projects.datasets.importer import import_dataset
from projects.forms import DatasetUploadForm
from projects.views.project_detail import project_context


@contextmanager
def uploaded_archive(upload: UploadedFile) -> Iterator[Path]:
    """The upload as a file on disk, named as the user named it (reports cite that name).

    A name too long for the file system (255 bytes: 85 Chinese characters) is shortened.
    """
    folder = Path(tempfile.mkdtemp(prefix="dataset-upload-"))
    try:
        name = Path(upload.name or "dataset.zip").name
        path = folder / shorten_file_name(name, default="dataset.zip")
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@require_POST
def dataset_upload(request, pk: int) -> HttpResponse:
    """Check and import the archive; errors (form or dataset) come back located, status 422."""
    project = get_project_for_user(request.user, pk)
    form = DatasetUploadForm(request.POST, request.FILES, project=project)
    report = None
    if form.is_valid():
        data = form.cleaned_data
        with uploaded_archive(data["archive"]) as path:
            report = import_dataset(
                project,
                path,
                data["format"],
                task_name=data["task_name"],
                validation=data["validation"],
                user=request.user,
            )
    failed = report is None or not report.ok
    if not failed:
        form = DatasetUploadForm(project=project)
    # On success the labels and task table change too: HTMX gets them out of band.
    oob = bool(request.htmx) and not failed
    context = project_context(project, form=form, report=report, oob=oob)
    page = "projects/project_detail.html"
    template = "projects/dataset_upload_response.html" if request.htmx else page
    return render(request, template, context, status=422 if failed else 200)
