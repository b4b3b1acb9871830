"""The validation list: runs newest first, filtered and paged."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from validation.presenters.run_list import run_list_context
from validation.views.access import HtmxHttpRequest, fragment_or_page, visible_runs


@require_GET
def run_list(request: HtmxHttpRequest) -> HttpResponse:
    """All runs the user may see, newest first."""
    context = run_list_context(visible_runs(request.user), request.GET, request.user)
    template = fragment_or_page(request, "validation/run_list.html", "run-table")
    return render(request, template, context)
