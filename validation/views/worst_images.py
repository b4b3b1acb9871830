"""Worst images first: a run's images ranked by their errors, filterable by kind and label."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET
from django_htmx.http import push_url

from validation.models import InferenceRun
from validation.presenters.worst_images import filter_form, gallery_context
from validation.views.access import _get_run_for_user, fragment_or_page, wants_fragment

TEMPLATE = "validation/worst_images.html"


@require_GET
def worst_images_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's images, most errors first; the filter form swaps the gallery in place."""
    run = _get_run_for_user(request, pk)
    form = filter_form(run, request.GET)
    context: dict = {"run": run, "form": form}
    status = 200
    if not form.is_valid():
        status = 400
    elif run.status == InferenceRun.Status.COMPLETED:
        context.update(gallery_context(run, form, request.GET))
    response = render(
        request, fragment_or_page(request, TEMPLATE, "worst-gallery"), context, status=status
    )
    if wants_fragment(request):
        response = push_url(response, request.get_full_path())
    patch_vary_headers(response, ["HX-Request"])
    return response
