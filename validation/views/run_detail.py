"""The run page: settings, live progress, metrics, category overview, confusion matrix."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import replace_url, reswap, retarget

from validation.analysis import whatif
from validation.models import InferenceRun
from validation.presenters.results import (
    category_headers,
    category_table,
    describe_changes,
    page_query,
    parse_open,
    sort_links,
    timing_rows,
)
from validation.runs import devices
from validation.runs import start as runs
from validation.views import whatif as whatif_views
from validation.views.access import HtmxHttpRequest, _get_run_for_user, page_params, wants_fragment

TEMPLATE = "validation/run_detail.html"
STOP_POLLING = 286


def _session_key(run: InferenceRun) -> str:
    return f"validation-reevaluated-{run.pk}"


def detail_context(request: HtmxHttpRequest, run: InferenceRun, params: QueryDict) -> dict:
    """Everything the run page shows, for these query parameters."""
    open_sections = parse_open(params)
    context = {
        "run": run,
        "open_sections": open_sections,
        "open_param": ",".join(open_sections),
        "label_confidences": list(run.label_confidences.all()),
        "timing_rows": timing_rows(run),
        "category_headers": category_headers(),
        "reevaluation": request.session.pop(_session_key(run), None),
        "unserved": _unserved(run),
    }
    if run.status == InferenceRun.Status.COMPLETED and run.matrix:
        state = whatif_views.whatif_state(run, params) if whatif.can_whatif(run) else None
        context["whatif"] = state
        context.update(whatif_views.results_context(run, state, params, open_sections))
    return context


def _unserved(run: InferenceRun) -> str:
    """Why a queued run cannot start (no live worker on its queue), else ""."""
    if run.status != InferenceRun.Status.QUEUED:
        return ""
    return devices.unserved_reason(run.device)


@require_GET
def run_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Validation details of one run."""
    run = _get_run_for_user(request, pk)
    context = detail_context(request, run, request.GET)
    return render(request, f"{TEMPLATE}#run-body" if wants_fragment(request) else TEMPLATE, context)


@require_GET
def run_progress(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Polled every second while the run is queued or running; swaps in the results at the end."""
    run = _get_run_for_user(request, pk)
    if not wants_fragment(request):
        return redirect(run)
    if run.is_active:
        context = {"run": run, "unserved": _unserved(run)}
        return render(request, f"{TEMPLATE}#run-progress", context)
    context = detail_context(request, run, page_params(request))
    response = render(request, f"{TEMPLATE}#run-body", context, status=STOP_POLLING)
    return reswap(retarget(response, "#run-body"), "outerHTML")


@require_GET
def run_categories(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The category overview table, sorted by ?sort=[-]column."""
    run = _get_run_for_user(request, pk)
    sort = request.GET.get("sort", "")
    if not wants_fragment(request):
        params = page_params(request)
        return redirect(run.get_absolute_url() + page_query(parse_open(params), sort=sort))
    state = None
    if whatif.can_whatif(run) and whatif.has_whatif(page_params(request)):
        state = whatif_views.whatif_state(run, page_params(request))
    categories = category_table(state.result if state and state.result else run, sort)
    context = {
        "run": run,
        "categories": categories,
        "sort_links": sort_links(categories["sort"]),
        "category_headers": category_headers(),
        "open_param": ",".join(parse_open(page_params(request))),
    }
    response = render(request, f"{TEMPLATE}#run-categories", context)
    params = page_params(request).copy()
    params["sort"] = categories["sort"]
    return replace_url(response, run.get_absolute_url() + "?" + params.urlencode())


def _after_action(request: HtmxHttpRequest, run: InferenceRun, error: str = "") -> HttpResponse:
    """The refreshed run body for htmx, a redirect to the run page otherwise."""
    if not wants_fragment(request):
        if error:
            messages.error(request, error)
        return redirect(run)
    run.refresh_from_db()
    context = {**detail_context(request, run, page_params(request)), "action_error": error}
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
