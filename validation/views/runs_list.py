"""The validation list: runs newest first, filtered and paged."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from projects.models import Project
from validation.models import DetectionModel, InferenceRun, Process
from validation.views.access import HtmxHttpRequest, fragment_or_page, parse_id, visible_runs
from validation.views.review import filter_by_review

RUNS_PER_PAGE = 25
FILTERS = ("process", "model", "project", "status", "review")


def filter_runs(runs: QuerySet[InferenceRun], params: Mapping) -> tuple[QuerySet, dict]:
    """Apply the list filters; unknown values are ignored rather than refused."""
    active: dict[str, str] = {}
    for name in ("process", "model", "project"):
        value = parse_id(params.get(name))
        if value is not None:
            runs = runs.filter(**{f"{name}_id": value})
            active[name] = str(value)
    status = params.get("status")
    if status in InferenceRun.Status.values:
        runs = runs.filter(status=status)
        active["status"] = status
    review = params.get("review")
    if review in InferenceRun.Review.values:
        runs = filter_by_review(runs, review)
        active["review"] = review
    return runs, active


def filter_options(user) -> dict:
    """The choices of the filter bar."""
    return {
        "processes": Process.objects.only("name"),
        "models": DetectionModel.objects.only("name", "process_id"),
        "projects": Project.objects.visible_to(user).only("name"),
        "statuses": InferenceRun.Status.choices,
        "reviews": InferenceRun.Review.choices,
    }


@require_GET
def run_list(request: HtmxHttpRequest) -> HttpResponse:
    """All runs the user may see, newest first."""
    runs, active = filter_runs(visible_runs(request.user), request.GET)
    runs = runs.select_related("process", "model", "project", "created_by")
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    query = urlencode(active)
    context = {"page": page, "active": active, "query": query, **filter_options(request.user)}
    template = fragment_or_page(request, "validation/run_list.html", "run-table")
    return render(request, template, context)
