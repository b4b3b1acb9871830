"""The list of projects a user belongs to (staff: all)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from projects.summaries import projects_with_counts


@require_GET
def project_list(request) -> HttpResponse:
    """Projects with task, image and annotation counts; `q` filters by name."""
    query = request.GET.get("q", "").strip()
    projects = projects_with_counts(request.user)
    if query:
        projects = projects.filter(name__icontains=query)
    htmx: HtmxDetails = request.htmx
    template = "projects/project_list.html" + ("#project-table" if htmx else "")
    return render(request, template, {"projects": projects, "query": query})
