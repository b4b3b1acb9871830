"""Access checks and rendering helpers shared by the validation views."""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import urlsplit

from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, QueryDict
from django_htmx.middleware import HtmxDetails

from projects.models import Image, Project
from validation.models import InferenceRun, Instance


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware."""

    htmx: HtmxDetails


M = TypeVar("M", bound=Model)
MAX_ID = 2**63 - 1  # the largest id a 64-bit primary key can hold


def parse_id(value) -> int | None:
    """An id from a query or form: a whole number the database can hold, else None.

    SQLite raises OverflowError for larger numbers in filters such as `pk__in` and `fk_id=`.
    """
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def first_by_pk(queryset: QuerySet[M], value) -> M | None:
    """The row with this id, or None for a missing or malformed id."""
    pk = parse_id(value)
    return queryset.filter(pk=pk).first() if pk is not None else None


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
