"""Read-only JSON API for training pipelines: runs by bearer token (Authorization: Bearer …).

A token (see `tokens`) sees exactly the runs its user may see.
"""

from __future__ import annotations

import functools

from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from validation.analysis.exports import line_decision, run_document, run_queryset
from validation.api.tokens import token_for
from validation.models import ApiToken, InferenceRun
from validation.views.access import parse_id, visible_runs

ALLOWED_METHODS = ("GET", "HEAD")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
JSON_OPTIONS = {"ensure_ascii": False}


def _bearer(request: HttpRequest) -> str | None:
    scheme, _sep, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def _error(message: str, status: int, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status, json_dumps_params=JSON_OPTIONS)


def api_view(view):
    """GET only, no session or CSRF: a valid bearer token, else 401; its user as request.user."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if request.method not in ALLOWED_METHODS:
            response = _error(_("Only GET is allowed."), 405)
            response["Allow"] = ", ".join(ALLOWED_METHODS)
            return response
        raw = _bearer(request)
        token = token_for(raw) if raw else None
        if token is None:
            message = _("A valid token is required: Authorization: Bearer <token>.")
            response = _error(message, 401)
            response["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        request.user = token.user
        return view(request, *args, **kwargs)

    return login_not_required(csrf_exempt(wrapper))


def _by_id_or_name(runs: QuerySet, field: str, value: str) -> QuerySet:
    if not value.isdigit():
        return runs.filter(**{f"{field}__name": value})
    pk = parse_id(value)
    return runs.filter(**{f"{field}_id": pk}) if pk is not None else runs.none()


def filter_api_runs(runs: QuerySet, params) -> tuple[QuerySet, dict[str, list[str]]]:
    """Filters project, model (id or name), status, review; errors per parameter."""
    errors: dict[str, list[str]] = {}
    for field in ("project", "model"):
        if value := params.get(field, "").strip():
            runs = _by_id_or_name(runs, field, value)
    for param, field, choices in (
        ("status", "status", InferenceRun.Status.values),
        ("review", "review_status", InferenceRun.Review.values),
    ):
        if value := params.get(param, "").strip():
            if value in choices:
                runs = runs.filter(**{field: value})
            else:
                errors[param] = [
                    _("Unknown value %(value)r; one of: %(choices)s.")
                    % {"value": value, "choices": ", ".join(choices)}
                ]
    return runs, errors


def _bounded_int(params, name: str, default: int, low: int, high: int, errors) -> int:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        errors[name] = [_("A whole number from %(low)s to %(high)s.") % {"low": low, "high": high}]
        return default
    return int(raw)


def run_summary(request: HttpRequest, run: InferenceRun) -> dict:
    """One run in the list: ids, names, state and headline metrics."""
    return {
        "run": run.pk,
        "url": request.build_absolute_uri(reverse("api:run-detail", args=[run.pk])),
        "status": run.status,
        "review_status": run.review_status,
        "process": {"id": run.process_id, "name": run.process.name},
        "model": {"id": run.model_id, "name": run.model.name},
        "project": {"id": run.project_id, "name": run.project.name},
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "overall": {"precision": run.precision, "recall": run.recall, "f1": run.f1},
        "map50": run.map50,
        "map50_95": run.map50_95,
        "images": line_decision(run),
    }


@api_view
def api_run_list(request: HttpRequest) -> JsonResponse:
    """Runs the token's user may see, newest first, filtered by the query (see filter_api_runs)."""
    runs, errors = filter_api_runs(visible_runs(request.user), request.GET)
    limit = _bounded_int(request.GET, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, errors)
    offset = _bounded_int(request.GET, "offset", 0, 0, 10**9, errors)
    if errors:
        return _error(_("Invalid query parameters."), 400, errors=errors)
    runs = runs.select_related("process", "model", "project").order_by("-created_at", "-id")
    count = runs.count()
    page = [run_summary(request, run) for run in runs[offset : offset + limit]]
    following = None
    if offset + limit < count:
        query = request.GET.copy()
        query["offset"] = str(offset + limit)
        following = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    body = {"count": count, "next": following, "results": page}
    return JsonResponse(body, json_dumps_params=JSON_OPTIONS)


@api_view
def api_run_detail(request: HttpRequest, pk: int) -> JsonResponse:
    """The whole run document (see validation.analysis.exports.run_document)."""
    run = run_queryset().filter(pk=pk, pk__in=visible_runs(request.user).values("pk")).first()
    if run is None:
        return _error(_("No such run."), 404)
    return JsonResponse(run_document(run), json_dumps_params=JSON_OPTIONS)
