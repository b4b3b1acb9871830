"""Access checks and rendering helpers shared by the validation views."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, QueryDict
from django_htmx.middleware import HtmxDetails

from projects.models import Image, Project
from validation.models import InferenceRun, Instance
from validation.presenters.crops import CropUnavailable

# Query parsing that the views (and the API) share lives with the presenters; named here too.
from validation.presenters.params import first_by_pk as first_by_pk
from validation.presenters.params import parse_id as parse_id


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware."""

    htmx: HtmxDetails


def visible_runs(user) -> QuerySet[InferenceRun]:
    """Runs of the projects the user is a member of; staff see all."""
    return InferenceRun.objects.filter(project__in=Project.objects.visible_to(user).values("pk"))


def _get_run_for_user(request: HttpRequest, pk: int) -> InferenceRun:
    """The run with this id if the user may see its project, else 404."""
    run = (
        visible_runs(request.user)
        .select_related("process", "model", "project", "created_by")
        .filter(pk=pk)
        .first()
    )
    if run is None:
        raise Http404("No such run.")
    return run


def get_instance(run: InferenceRun, pk: int) -> Instance:
    """One instance of this run (the run was access-checked), else 404."""
    instance = Instance.objects.select_related("image").filter(run=run, pk=pk).first()
    if instance is None:
        raise Http404("No such instance.")
    return instance


def get_run_image(run: InferenceRun, pk: int) -> Image:
    """An image of the run's project, else 404."""
    image = Image.objects.filter(pk=pk, task__project_id=run.project_id).first()
    if image is None:
        raise Http404("No such image.")
    return image


def _htmx(request: HttpRequest) -> HtmxDetails | None:
    htmx: HtmxDetails | None = getattr(request, "htmx", None)
    return htmx if htmx else None


def wants_fragment(request: HttpRequest) -> bool:
    """An htmx request that swaps part of the page (a history restore wants the whole page)."""
    htmx = _htmx(request)
    return htmx is not None and not htmx.history_restore_request and htmx.request_type != "full"


def fragment_or_page(request: HttpRequest, template: str, fragment: str) -> str:
    """The fragment of the page for an htmx swap, the whole page otherwise."""
    return f"{template}#{fragment}" if wants_fragment(request) else template


def page_params(request: HttpRequest) -> QueryDict:
    """The query of the page an htmx request came from (HX-Current-URL), else this request's."""
    htmx = _htmx(request)
    current = htmx.current_url if htmx is not None else None
    if current:
        return QueryDict(urlsplit(current).query)
    return request.GET


def crop_response(draw: Callable[[], Path]) -> FileResponse:
    """The PNG crop that draw() reads or draws, privately cached for a day; 404 without one."""
    try:
        path = draw()
    except CropUnavailable as exc:
        raise Http404(str(exc)) from exc
    response = FileResponse(path.open("rb"), content_type="image/png")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=86400"
    return response
