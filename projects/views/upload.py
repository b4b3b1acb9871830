"""Dataset upload: a zipped COCO or YOLO dataset imported into a new task of the project."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from projects.access import get_project_for_user
from projects.datasets.importer import import_dataset
from projects.forms import DatasetUploadForm
from projects.project_page import project_context
from projects.uploads import uploaded_archive


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
