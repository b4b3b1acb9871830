"""The run page: settings, live progress, metrics, category overview, confusion matrix."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import replace_url, reswap, retarget

from validation.models import InferenceRun
from validation.presenters.results import describe_changes, page_query, parse_open
from validation.presenters.run_page import categories_context, detail_context, unserved
from validation.runs import start as runs
from validation.views.access import HtmxHttpRequest, _get_run_for_user, page_params, wants_fragment

TEMPLATE = "validation/run_detail.html"
STOP_POLLING = 286


def _session_key(run: InferenceRun) -> str:
    return f"validation-reevaluated-{run.pk}"


def _context(request: HtmxHttpRequest, run: InferenceRun, params: QueryDict) -> dict:
    """The run page for these query parameters, with a re-evaluation's changes shown once."""
    return detail_context(run, params, request.session.pop(_session_key(run), None))


@require_GET
def run_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Validation details of one run."""
    run = _get_run_for_user(request, pk)
    context = _context(request, run, request.GET)
    return render(request, f"{TEMPLATE}#run-body" if wants_fragment(request) else TEMPLATE, context)


@require_GET
def run_progress(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Polled every second while the run is queued or running; swaps in the results at the end."""
    run = _get_run_for_user(request, pk)
    if not wants_fragment(request):
        return redirect(run)
    if run.is_active:
        context = {"run": run, "unserved": unserved(run)}
        return render(request, f"{TEMPLATE}#run-progress", context)
    context = _context(request, run, page_params(request))
    response = render(request, f"{TEMPLATE}#run-body", context, status=STOP_POLLING)
    return reswap(retarget(response, "#run-body"), "outerHTML")


@require_GET
def run_categories(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The category overview table, sorted by ?sort=[-]column."""
    run = _get_run_for_user(request, pk)
    sort = request.GET.get("sort", "")
    page = page_params(request)
    if not wants_fragment(request):
        return redirect(run.get_absolute_url() + page_query(parse_open(page), sort=sort))
    context = categories_context(run, page, sort)
    response = render(request, f"{TEMPLATE}#run-categories", context)
    params = page.copy()
    params["sort"] = context["categories"]["sort"]
    return replace_url(response, run.get_absolute_url() + "?" + params.urlencode())


def _after_action(request: HtmxHttpRequest, run: InferenceRun, error: str = "") -> HttpResponse:
    """The refreshed run body for htmx, a redirect to the run page otherwise."""
    if not wants_fragment(request):
        if error:
            messages.error(request, error)
        return redirect(run)
    run.refresh_from_db()
    context = {**_context(request, run, page_params(request)), "action_error": error}
    return render(request, f"{TEMPLATE}#run-body", context)


@require_POST
def run_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Cancel a queued run at once, a running one between batches."""
    run = _get_run_for_user(request, pk)
    if run.is_active:
        runs.cancel_run(run)
    return _after_action(request, run)


@require_POST
def run_reevaluate(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Recompute the run against the current annotations, without the model; show what changed."""
    run = _get_run_for_user(request, pk)
    try:
        result = runs.reevaluate_run(run)
    except ValueError as exc:
        return _after_action(request, run, error=str(exc))
    run.refresh_from_db()
    request.session[_session_key(run)] = describe_changes(run, result)
    return _after_action(request, run)
