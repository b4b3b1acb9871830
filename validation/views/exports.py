"""Downloads of a run's results for the logged-in user: CSV, COCO results and run JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from validation.analysis import exports
from validation.models import InferenceRun
from validation.views.access import _get_run_for_user

CSV_TYPE = "text/csv; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
NO_RESULTS_STATUS = 409


def download_name(run: InferenceRun, suffix: str) -> str:
    """run-12-<model>-<project>-<suffix>, without characters a file system or header refuses."""
    raw = f"run-{run.pk}-{run.model.name}-{run.project.name}-{suffix}"
    return re.sub(r'[\\/:*?"<>|;\x00-\x1f\x7f]+', "_", raw).strip(". ")


def attachment(response: HttpResponse | StreamingHttpResponse, filename: str):
    """Content-Disposition with an ASCII fallback and the real name as RFC 5987 filename*."""
    fallback = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    response["Content-Disposition"] = (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _with_bom(chunks: Iterable[str]) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark first, so Excel reads Chinese names right."""
    yield exports.BOM.encode("utf-8")
    for chunk in chunks:
        yield chunk.encode("utf-8")


def _no_results(run: InferenceRun) -> HttpResponse:
    message = _("Run #%(pk)s has no results to export (status: %(status)s).") % {
        "pk": run.pk,
        "status": run.get_status_display(),
    }
    return HttpResponse(message, status=NO_RESULTS_STATUS, content_type="text/plain; charset=utf-8")


def _csv(run: InferenceRun, build, suffix: str) -> HttpResponse:
    try:
        text = build(run)
    except exports.NoResults:
        return _no_results(run)
    body = (exports.BOM + text).encode("utf-8")
    return attachment(HttpResponse(body, content_type=CSV_TYPE), download_name(run, suffix))


@require_GET
def export_matrix_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The confusion matrix as CSV: predicted labels down, actual labels, BG, LOC across."""
    return _csv(_get_run_for_user(request, pk), exports.matrix_csv, "matrix.csv")


@require_GET
def export_per_label_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """Per-label metrics as CSV, with the overall and macro-average rows."""
    return _csv(_get_run_for_user(request, pk), exports.per_label_csv, "per-label.csv")


@require_GET
def export_instances_csv(request: HttpRequest, pk: int) -> HttpResponse | StreamingHttpResponse:
    """Every instance of the matrix as CSV, streamed in batches (runs have 100k of them)."""
    run = _get_run_for_user(request, pk)
    try:
        exports.require_results(run)
    except exports.NoResults:
        return _no_results(run)
    response = StreamingHttpResponse(
        _with_bom(exports.instance_csv_chunks(run)), content_type=CSV_TYPE
    )
    return attachment(response, download_name(run, "instances.csv"))


@require_GET
def export_predictions_json(request: HttpRequest, pk: int) -> HttpResponse | StreamingHttpResponse:
    """All stored predictions as COCO results JSON (image ids and category ids: see exports)."""
    run = _get_run_for_user(request, pk)
    try:
        chunks = exports.coco_results(run)
    except exports.NoResults:
        return _no_results(run)
    response = StreamingHttpResponse(
        (chunk.encode("utf-8") for chunk in chunks), content_type=JSON_TYPE
    )
    return attachment(response, download_name(run, "predictions.json"))


@require_GET
def export_run_json(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole run as JSON, the same document as the API and `manage.py export_run`."""
    run = _get_run_for_user(request, pk)
    body = json.dumps(exports.run_document(run), ensure_ascii=False, indent=2) + "\n"
    response = HttpResponse(body.encode("utf-8"), content_type=JSON_TYPE)
    return attachment(response, download_name(run, "run.json"))
