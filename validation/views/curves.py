"""Curves and recommended confidences of a run: lazily loaded section, wizard pre-fill, config."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from validation.analysis import curves, whatif
from validation.analysis.evaluation import Thresholds
from validation.models import InferenceRun
from validation.views import wizard_state
from validation.views.access import HtmxHttpRequest, _get_run_for_user, fragment_or_page

TEMPLATE = "validation/run_curves.html"


class BadPrecision(ValueError):
    """The minimum precision asked for is not a number in [0, 1]."""


def min_precision(params: Mapping) -> float:
    """?precision= as a number in [0, 1]; the default when absent."""
    raw = str(params.get("precision", "") or "").strip().replace(",", ".")
    if not raw:
        return curves.DEFAULT_MIN_PRECISION
    try:
        value = float(raw)
    except ValueError:
        raise BadPrecision(_("The minimum precision must be a number between 0 and 1.")) from None
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise BadPrecision(_("The minimum precision must be a number between 0 and 1."))
    return value


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


def _proposal(run: InferenceRun, basis: str, precision: float) -> tuple[float, dict[str, float]]:
    data, sweep, _operating = curves.run_sweep(run)
    recs = curves.recommend(data, Thresholds.of_run(run), precision, sweep)
    return curves.proposal(recs, basis, run.base_confidence)


def _whatif_link(run: InferenceRun, base: float, own: dict[str, float]) -> str:
    thresholds = Thresholds(base, own, run.iou_threshold, run.low_overlap_threshold)
    query = urlencode([("open", "whatif,details"), *whatif.query_items(thresholds, run.labels)])
    return f"{run.get_absolute_url()}?{query}"


def recommended_context(run: InferenceRun, precision: float) -> dict:
    """The table of recommended confidences next to the current ones, and what to do with them."""
    data, sweep, _operating = curves.run_sweep(run)
    recs = curves.recommend(data, Thresholds.of_run(run), precision, sweep)
    actions = {}
    for basis in curves.BASES:
        base, own = curves.proposal(recs, basis, run.base_confidence)
        query = urlencode({"basis": basis, "precision": whatif.number(precision)})
        actions[basis] = {
            "whatif": _whatif_link(run, base, own),
            "config": reverse("validation:run-deployment-config", args=[run.pk]) + "?" + query,
        }
    return {
        "run": run,
        "recommendations": recs,
        "min_precision": precision,
        "min_precision_text": whatif.number(precision),
        "actions": actions,
    }


def curves_context(run: InferenceRun) -> dict:
    """Each label's precision–recall and F1-versus-confidence charts, with AP beside them."""
    data, sweep, operating = curves.run_sweep(run)
    label_curves = curves.label_curves(sweep, data.labels, operating.tolist(), run.per_label)
    return {
        "run": run,
        "charts": [
            {"curve": c, "pr": curves.pr_chart(c), "f1": curves.f1_chart(c)} for c in label_curves
        ],
    }


@require_GET
def run_curves(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The curves section (loaded when it is opened): recommendations, then one card per label."""
    run = _completed_run(request, pk)
    context = {**curves_context(run), **recommended_context(run, curves.DEFAULT_MIN_PRECISION)}
    return render(request, fragment_or_page(request, TEMPLATE, "run-curves"), context)


@require_GET
def run_recommended(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The recommendation table for ?precision= (422 with the message when it is not valid)."""
    run = _completed_run(request, pk)
    template = fragment_or_page(request, TEMPLATE, "run-recommended")
    try:
        precision = min_precision(request.GET)
    except BadPrecision as exc:
        context = {
            **recommended_context(run, curves.DEFAULT_MIN_PRECISION),
            "precision_error": str(exc),
            "min_precision_text": request.GET["precision"],
        }
        return render(request, template, context, status=422)
    if template == TEMPLATE:
        context = {**curves_context(run), **recommended_context(run, precision)}
        return render(request, template, context)
    return render(request, template, recommended_context(run, precision))


@require_POST
def run_recommended_use(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Fill a new run's wizard with this run's model and project and the recommended confidences."""
    run = _completed_run(request, pk)
    basis = _basis(request.POST)
    try:
        precision = min_precision(request.POST)
    except BadPrecision as exc:
        context = {
            **recommended_context(run, curves.DEFAULT_MIN_PRECISION),
            "precision_error": str(exc),
        }
        return render(request, f"{TEMPLATE}#run-recommended", context, status=422)
    base, own = _proposal(run, basis, precision)
    wizard = prefill_wizard(request.session, run, base, own)
    url = reverse("validation:wizard-step2", args=[wizard])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def prefill_wizard(session, run: InferenceRun, base: float, own: dict[str, float]) -> str:
    """A new wizard's three steps as if typed: this run's settings with the new confidences."""
    wizard = wizard_state.create(session)
    wizard_state.save(
        session,
        1,
        {"process": run.process_id, "model": run.model_id, "project": run.project_id},
        wizard,
    )
    wizard_state.save(
        session,
        2,
        {
            "base_confidence": whatif.number(base),
            "tab": "source",
            "label_confidences": curves.wizard_source(own),
        },
        wizard,
    )
    wizard_state.save(
        session,
        3,
        {
            "device": run.device,
            "batch_size": run.batch_size,
            "image_size": run.image_size,
            "iou_threshold": whatif.number(run.iou_threshold),
            "low_overlap_threshold": whatif.number(run.low_overlap_threshold),
        },
        wizard,
    )
    return wizard


@require_GET
def run_deployment_config(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The recommended confidences as a deployment config (JSON attachment)."""
    run = _completed_run(request, pk)
    basis = _basis(request.GET)
    try:
        precision = min_precision(request.GET)
    except BadPrecision as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    base, own = _proposal(run, basis, precision)
    config = curves.deployment_config(
        run, base, own, basis, precision if basis == "precision" else None
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
