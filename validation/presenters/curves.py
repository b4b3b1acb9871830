"""The curves section's context: per-label charts, recommended confidences and their actions."""

from __future__ import annotations

import math
from collections.abc import Mapping

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from validation.analysis import curves, whatif
from validation.analysis.evaluation import Thresholds
from validation.models import InferenceRun
from validation.presenters.charts import f1_chart, pr_chart


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


def _whatif_link(run: InferenceRun, base: float, own: dict[str, float]) -> str:
    thresholds = Thresholds(base, own, run.iou_threshold, run.low_overlap_threshold)
    query = urlencode([("open", "whatif,details"), *whatif.query_items(thresholds, run.labels)])
    return f"{run.get_absolute_url()}?{query}"


def recommended_context(run: InferenceRun, precision: float) -> dict:
    """The table of recommended confidences next to the current ones, and what to do with them."""
    recs = curves.run_recommendations(run, precision)
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


def refused_context(run: InferenceRun, error: str, typed: str | None = None) -> dict:
    """The default recommendations with the precision's error (and what was typed, if given)."""
    context = {**recommended_context(run, curves.DEFAULT_MIN_PRECISION), "precision_error": error}
    if typed is not None:
        context["min_precision_text"] = typed
    return context


def curves_context(run: InferenceRun) -> dict:
    """Each label's precision–recall and F1-versus-confidence charts, with AP beside them."""
    data, sweep, operating = curves.run_sweep(run)
    label_curves = curves.label_curves(sweep, data.labels, operating.tolist(), run.per_label)
    return {
        "run": run,
        "charts": [{"curve": c, "pr": pr_chart(c), "f1": f1_chart(c)} for c in label_curves],
    }


def curves_page_context(run: InferenceRun, precision: float) -> dict:
    """The whole section: recommendations at this precision, then one card per label."""
    return {**curves_context(run), **recommended_context(run, precision)}
