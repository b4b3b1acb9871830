"""Drill-down: a matrix cell's instances, one image in full, the selection, stored predictions."""

from __future__ import annotations

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET
from django_htmx.http import push_url

from validation.presenters import instances
from validation.presenters.params import parse_int
from validation.presenters.results import cell_in_matrix, page_query, parse_open
from validation.presenters.run_page import cell_context
from validation.views.access import (
    HtmxHttpRequest,
    _get_run_for_user,
    fragment_or_page,
    get_run_image,
    page_params,
    wants_fragment,
)


@require_GET
def run_cell(request: HtmxHttpRequest, pk: int, row: int, col: int) -> HttpResponse:
    """The instances of one matrix cell, a page at a time."""
    run = _get_run_for_user(request, pk)
    if not cell_in_matrix(run, row, col):
        raise Http404("No such cell.")
    open_sections = parse_open(page_params(request) if wants_fragment(request) else request.GET)
    page_url = run.get_absolute_url() + page_query(
        open_sections, cell=f"{row}-{col}", **instances.kept_paging(request.GET)
    )
    if not wants_fragment(request):
        return redirect(page_url)
    context = {"run": run, **cell_context(run, row, col, request.GET, open_sections)}
    response = render(request, "validation/run_detail.html#run-instances", context)
    return push_url(response, page_url)


@require_GET
def image_view(request: HtmxHttpRequest, pk: int, image_pk: int) -> HttpResponse:
    """One image enlarged, with every box, for the Full screen view."""
    run = _get_run_for_user(request, pk)
    image = get_run_image(run, image_pk)
    context = instances.image_context(run, image, parse_int(request.GET.get("instance")))
    template = "validation/image_view.html"
    return render(request, fragment_or_page(request, template, "image-view"), context)


@require_GET
def instance_selection(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The Modify dialog's list: each selected instance, its title opening the editor."""
    run = _get_run_for_user(request, pk)
    context = {"run": run, "items": instances.selection_items(run, request.GET)}
    template = fragment_or_page(request, "validation/selection.html", "modify-list")
    return render(request, template, context)


@require_GET
def image_predictions_json(request: HtmxHttpRequest, pk: int, image_pk: int) -> JsonResponse:
    """GET JSON of this run's predictions for one image, for the editor's accept-prediction."""
    run = _get_run_for_user(request, pk)
    image = get_run_image(run, image_pk)
    return JsonResponse(instances.image_predictions(run, image), safe=False)
