"""Curves and recommended confidences of a run: lazily loaded section, wizard pre-fill, config."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import NamedTuple

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from validation.analysis import curves, whatif
from validation.models import InferenceRun
from validation.presenters import curves as page
from validation.presenters.curves import BadPrecision
from validation.views import wizard_state
from validation.views.access import HtmxHttpRequest, _get_run_for_user, fragment_or_page

TEMPLATE = "validation/run_curves.html"


def _basis(params: Mapping) -> str:
    basis = params.get("basis", "f1")
    if basis not in curves.BASES:
        raise Http404("No such recommendation.")
    return basis


def _completed_run(request: HtmxHttpRequest, pk: int) -> InferenceRun:
    run = _get_run_for_user(request, pk)
    if not whatif.can_whatif(run):
        raise Http404("Curves need a completed run with stored predictions.")
    return run


class Proposal(NamedTuple):
    """What a request asks for (?basis=, ?precision=) and the confidences that recommends."""

    basis: str
    precision: float
    base: float
    own: dict[str, float]


def _asked_proposal(run: InferenceRun, params: Mapping) -> Proposal:
    basis = _basis(params)
    precision = page.min_precision(params)
    return Proposal(basis, precision, *curves.run_proposal(run, basis, precision))


def _config_attachment(run: InferenceRun, asked: Proposal) -> HttpResponse:
    basis, precision = asked.basis, asked.precision
    config = curves.deployment_config(
        run, asked.base, asked.own, basis, precision if basis == "precision" else None
    )
    response = HttpResponse(
        json.dumps(config, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    name = slugify(run.model.name) or "model"
    response["Content-Disposition"] = (
        f'attachment; filename="deployment-{name}-run{run.pk}-{basis}.json"'
    )
    return response


@require_GET
def run_curves(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The curves section (loaded when it is opened): recommendations, then one card per label."""
    run = _completed_run(request, pk)
    context = page.curves_page_context(run, curves.DEFAULT_MIN_PRECISION)
    return render(request, fragment_or_page(request, TEMPLATE, "run-curves"), context)


@require_GET
def run_recommended(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The recommendation table for ?precision= (422 with the message when it is not valid)."""
    run = _completed_run(request, pk)
    template = fragment_or_page(request, TEMPLATE, "run-recommended")
    try:
        precision = page.min_precision(request.GET)
    except BadPrecision as exc:
        context = page.refused_context(run, str(exc), typed=request.GET["precision"])
        return render(request, template, context, status=422)
    if template == TEMPLATE:
        return render(request, template, page.curves_page_context(run, precision))
    return render(request, template, page.recommended_context(run, precision))


@require_POST
def run_recommended_use(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Fill a new run's wizard with this run's model and project and the recommended confidences."""
    run = _completed_run(request, pk)
    try:
        asked = _asked_proposal(run, request.POST)
    except BadPrecision as exc:
        context = page.refused_context(run, str(exc))
        return render(request, f"{TEMPLATE}#run-recommended", context, status=422)
    wizard = wizard_state.prefill_from_run(request.session, run, asked.base, asked.own)
    url = reverse("validation:wizard-step2", args=[wizard])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_GET
def run_deployment_config(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The recommended confidences as a deployment config (JSON attachment)."""
    run = _completed_run(request, pk)
    try:
        return _config_attachment(run, _asked_proposal(run, request.GET))
    except BadPrecision as exc:
        return JsonResponse({"error": str(exc)}, status=400)
