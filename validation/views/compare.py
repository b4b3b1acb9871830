"""Compare two completed runs of one project: the page, the run picker, the htmx drill-down."""

from __future__ import annotations

from collections.abc import Mapping

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django_htmx.http import push_url

from validation.analysis import comparison as cmp
from validation.models import InferenceRun
from validation.presenters import compare as page
from validation.views.access import _get_run_for_user, visible_runs, wants_fragment

TEMPLATE = "validation/run_compare.html"


class BadComparison(Exception):
    """A request the page answers with a message instead of a comparison."""

    def __init__(self, message: str, status: int = 400, run: InferenceRun | None = None) -> None:
        super().__init__(message)
        self.status, self.run = status, run


def _run_id(params: Mapping, name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadComparison(
            _("“%(value)s” is not a run number (parameter %(name)s).")
            % {"value": value, "name": name}
        ) from None


def _two_runs(request: HttpRequest) -> tuple[InferenceRun, InferenceRun | None]:
    a_id, b_id = _run_id(request.GET, "a"), _run_id(request.GET, "b")
    if a_id is None:
        raise BadComparison(_("Choose a run first: open it and use “Compare with…”."))
    a = _get_run_for_user(request, a_id)
    b = _get_run_for_user(request, b_id) if b_id is not None else None
    if b is not None and (problem := cmp.comparability_problem(a, b)):
        raise BadComparison(problem, status=422, run=a)
    if b is None and (problem := cmp.completion_problem(a)):
        raise BadComparison(problem, status=422)
    return a, b


def _picker(request: HttpRequest, a: InferenceRun) -> dict:
    return page.picker_context(a, visible_runs(request.user))


def _status(context: dict) -> int:
    return 400 if "selection_error" in context else 200


def _comparison_response(request: HttpRequest, c: cmp.Comparison) -> HttpResponse:
    """The whole page, or only the drill-down for an htmx swap (its URL pushed)."""
    if wants_fragment(request):
        response = _drill_down_fragment(request, c)
    else:
        context = page.compare_context(c, request.GET)
        response = render(request, TEMPLATE, context, status=_status(context))
    patch_vary_headers(response, ["HX-Request"])
    return response


def _drill_down_fragment(request: HttpRequest, c: cmp.Comparison) -> HttpResponse:
    """The drill-down, and the matrix out of band so that it marks the chosen cell."""
    context = page.drill_down_context(c, request.GET)
    html = render_to_string(f"{TEMPLATE}#compare-instances", context, request)
    html += render_to_string(f"{TEMPLATE}#compare-matrix", {**context, "oob": True}, request)
    response = HttpResponse(html, status=_status(context))
    return push_url(response, page.compare_url(c.a, c.b, **page.kept_params(request.GET)))


@require_GET
def run_compare(request: HttpRequest) -> HttpResponse:
    """Two runs side by side (?a=&b=), or the list of runs to compare ?a= with."""
    try:
        a, b = _two_runs(request)
    except BadComparison as refusal:
        picker = _picker(request, refusal.run) if refusal.run else {}
        context = {"error": str(refusal), **picker}
        return render(request, TEMPLATE, context, status=refusal.status)
    if b is None:
        return render(request, TEMPLATE, _picker(request, a))
    return _comparison_response(request, cmp.Comparison(a, b))
