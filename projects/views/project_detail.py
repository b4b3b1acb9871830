"""A project's page: labels, tasks and the dataset upload."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from projects.access import get_project_for_user
from projects.forms import DatasetUploadForm
from projects.project_page import project_context


@require_GET
def project_detail(request, pk: int) -> HttpResponse:
    """The project page; an HTMX request gets the task table only."""
    project = get_project_for_user(request.user, pk)
    context = project_context(project, form=DatasetUploadForm(project=project))
    template = "projects/project_detail.html" + ("#project-tasks" if request.htmx else "")
    return render(request, template, context)
