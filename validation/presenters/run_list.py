"""The validation list's context: runs filtered by the query, newest first, a page at a time."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.http import urlencode

from projects.models import Project
from validation.models import DetectionModel, InferenceRun, Process
from validation.presenters.params import parse_id
from validation.runs.review import filter_by_review

RUNS_PER_PAGE = 25


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


def run_list_context(runs: QuerySet[InferenceRun], params: Mapping, user) -> dict:
    """One page of these runs under the query's filters, with the filter bar's choices."""
    runs, active = filter_runs(runs, params)
    runs = runs.select_related("process", "model", "project", "created_by")
    page = Paginator(runs, RUNS_PER_PAGE).get_page(params.get("page"))
    return {"page": page, "active": active, "query": urlencode(active), **filter_options(user)}
