"""What-if on the run page: other thresholds, recomputed from stored predictions; save as run."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, push_url

from validation.analysis import whatif
from validation.forms.whatif import WhatIfForm
from validation.models import InferenceRun
from validation.presenters import whatif_cells
from validation.presenters.crops import cached_crop
from validation.presenters.instances import kept_paging
from validation.presenters.results import cell_in_matrix, parse_open
from validation.presenters.run_page import cell_context, results_context
from validation.presenters.whatif import (
    PAGE_KEYS,
    page_state,
    page_url,
    posted_page_url,
    posted_state,
    whatif_state,
)
from validation.runs import derive as derived
from validation.views.access import (
    HtmxHttpRequest,
    _get_run_for_user,
    crop_response,
    fragment_or_page,
    get_run_image,
    page_params,
    wants_fragment,
)

TEMPLATE = "validation/run_whatif.html"


def _completed_run(request: HtmxHttpRequest, pk: int) -> InferenceRun:
    run = _get_run_for_user(request, pk)
    if not whatif.can_whatif(run):
        raise Http404("What-if needs a completed run with stored predictions.")
    return run


def _page_state(request: HtmxHttpRequest) -> QueryDict:
    """The page's sections, cell and sort (HX-Current-URL) with this request's wi_ query."""
    return page_state(page_params(request) if wants_fragment(request) else request.GET, request.GET)


@require_GET
def run_whatif(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Recompute the matrix, metrics and chosen cell at the query's thresholds (htmx swaps them)."""
    run = _completed_run(request, pk)
    params = _page_state(request)
    state = whatif_state(run, params)
    if not wants_fragment(request):
        return redirect(page_url(run, params, state.query or request.GET.urlencode()))
    open_sections = parse_open(params)
    context = {"run": run, "whatif": state, "open_param": ",".join(open_sections)}
    if state.result is None:
        return render(request, f"{TEMPLATE}#whatif-response", context, status=422)
    context.update(results_context(run, state, params, open_sections))
    response = render(request, f"{TEMPLATE}#whatif-response", context)
    return push_url(response, page_url(run, params, state.query))


@require_GET
def run_whatif_cell(request: HtmxHttpRequest, pk: int, row: int, col: int) -> HttpResponse:
    """One page of a what-if cell's instances."""
    run = _completed_run(request, pk)
    if not cell_in_matrix(run, row, col):
        raise Http404("No such cell.")
    params = _page_state(request)
    state = whatif_state(run, params)
    keep = kept_paging(request.GET)
    url = page_url(run, params, state.query, cell=f"{row}-{col}", **keep)
    if not wants_fragment(request) or state.result is None:
        return redirect(url)
    cell_params = {**{k: params.get(k) for k in PAGE_KEYS}, **keep}
    cell = cell_context(run, row, col, cell_params, parse_open(params), state)
    response = render(request, "validation/run_detail.html#run-instances", {"run": run, **cell})
    return push_url(response, url)


@require_POST
def run_whatif_save(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Save the what-if as a new completed run derived from this one, and open it."""
    run = _completed_run(request, pk)
    form = WhatIfForm(request.POST, labels=list(run.labels))
    if not form.is_valid():
        if not request.htmx:
            return redirect(posted_page_url(run, request.POST))
        context = {"run": run, "whatif": posted_state(run, form, request.POST)}
        return render(request, f"{TEMPLATE}#whatif-response", context, status=422)
    new = derived.save_as_new_run(run, form.thresholds(), request.user)
    if request.htmx:
        return HttpResponseClientRedirect(new.get_absolute_url())
    return redirect(new)


@require_GET
def run_whatif_crop(request: HtmxHttpRequest, pk: int, token: str) -> FileResponse:
    """The crop of a what-if entry: boxes and image come signed from the page, cached on disk."""
    run = _get_run_for_user(request, pk)
    payload = whatif_cells.read_crop_token(run, token)
    image_id, annotation, prediction = payload
    image = get_run_image(run, image_id)
    path = whatif_cells.crop_path(run, payload)
    return crop_response(lambda: cached_crop(path, image, annotation, prediction))


@require_GET
def run_whatif_image(request: HtmxHttpRequest, pk: int, image_pk: int) -> HttpResponse:
    """Full screen: the image with its annotations and the what-if's kept predictions."""
    run = _completed_run(request, pk)
    image = get_run_image(run, image_pk)
    state = whatif_state(run, request.GET)
    if state.result is None:
        return redirect(reverse("validation:image-view", args=[run.pk, image.pk]))
    highlight = request.GET.get("instance", "")
    context = whatif_cells.image_context_at(run, image, state.result, highlight)
    template = "validation/image_view.html"
    return render(request, fragment_or_page(request, template, "image-view"), context)


@require_GET
def run_whatif_selection(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The Modify dialog's list for what-if entries (?ids=p12,a34)."""
    run = _completed_run(request, pk)
    state = whatif_state(run, request.GET)
    context = {"run": run, "items": whatif_cells.selection_items(run, state, request.GET)}
    template = "validation/selection.html"
    return render(request, fragment_or_page(request, template, "modify-list"), context)
