"""Drill-down: a matrix cell's instances, one image in full, the selection, stored predictions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET
from django_htmx.http import push_url

from projects.models import Annotation, Image
from validation.models import InferenceRun, Instance
from validation.presenters.results import (
    cell_in_matrix,
    col_name,
    page_query,
    parse_open,
    row_name,
)
from validation.views.access import (
    HtmxHttpRequest,
    _get_run_for_user,
    first_by_pk,
    fragment_or_page,
    get_run_image,
    page_params,
    parse_id,
    wants_fragment,
)

INSTANCES_PER_PAGE = 50
MAX_SELECTION = 500
KIND_CODES = {
    Instance.Kind.TRUE_POSITIVE: "true_positive",
    Instance.Kind.CONFUSION: "confusion",
    Instance.Kind.LOC: "loc",
    Instance.Kind.DUPLICATE: "duplicate",
    Instance.Kind.BACKGROUND: "background",
    Instance.Kind.MISSED: "missed",
}


@dataclass(frozen=True)
class InstanceItem:
    """One instance as the page shows it."""

    instance: Instance
    predicted: str | None
    actual: str | None
    kind: str
    kind_label: str
    crop_url: str


def describe(run: InferenceRun, instance: Instance) -> InstanceItem:
    n = len(run.labels)
    predicted = run.labels[instance.row] if instance.row < n else None
    actual_index = instance.actual_label
    actual = run.labels[actual_index] if actual_index is not None and actual_index < n else None
    kind = Instance.Kind(instance.kind)
    crop_url = reverse("validation:instance-crop", args=[run.pk, instance.pk])
    return InstanceItem(instance, predicted, actual, KIND_CODES[kind], str(kind.label), crop_url)


def _label_name(run: InferenceRun, index: int | None) -> str:
    return row_name(run, index) if index is not None else "—"


def _int(value, default: int | None = None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def cell_context(
    run: InferenceRun, row: int, col: int, params: Mapping, open_sections: list[str]
) -> dict:
    """One page of a cell's instances; a LOC cell can be split by the actual label."""
    n = len(run.labels)
    instances = Instance.objects.filter(run=run, row=row, col=col)
    splits, actual = [], None
    if col == n + 1:
        counts = instances.values("actual_label").annotate(count=Count("id")).order_by()
        splits = sorted(
            ((c["actual_label"], _label_name(run, c["actual_label"]), c["count"]) for c in counts),
            key=lambda split: split[0] if split[0] is not None else n,
        )
        actual = _int(params.get("actual"))
        if actual is not None:
            instances = instances.filter(actual_label=actual)
    paginator = Paginator(instances.select_related("image").order_by("id"), INSTANCES_PER_PAGE)
    page: Page = paginator.get_page(params.get("page"))
    cell = f"{row}-{col}"
    fragment_url = reverse("validation:run-cell", args=[run.pk, row, col])

    def link(**extra) -> dict[str, str]:
        query = {k: v for k, v in extra.items() if v not in (None, "")}
        return {
            "href": run.get_absolute_url() + page_query(open_sections, cell=cell, **query),
            "fragment": fragment_url + ("?" + urlencode(query) if query else ""),
        }

    return {
        "cell": {
            "row": row,
            "col": col,
            "row_name": row_name(run, row),
            "col_name": col_name(run, col),
        },
        "cell_page": page,
        "cell_items": [describe(run, instance) for instance in page.object_list],
        "cell_splits": [
            {"index": index, "name": name, "count": count, "link": link(actual=index)}
            for index, name, count in splits
        ],
        "cell_actual": actual,
        "cell_all_link": link(),
        "cell_prev": link(page=page.previous_page_number(), actual=actual)
        if page.has_previous()
        else None,
        "cell_next": link(page=page.next_page_number(), actual=actual) if page.has_next() else None,
    }


@require_GET
def run_cell(request: HtmxHttpRequest, pk: int, row: int, col: int) -> HttpResponse:
    """The instances of one matrix cell, a page at a time."""
    run = _get_run_for_user(request, pk)
    if not cell_in_matrix(run, row, col):
        raise Http404("No such cell.")
    open_sections = parse_open(page_params(request) if wants_fragment(request) else request.GET)
    page_url = run.get_absolute_url() + page_query(
        open_sections, cell=f"{row}-{col}", **_keep(request.GET)
    )
    if not wants_fragment(request):
        return redirect(page_url)
    context = {"run": run, **cell_context(run, row, col, request.GET, open_sections)}
    response = render(request, "validation/run_detail.html#run-instances", context)
    return push_url(response, page_url)


def _keep(params: Mapping) -> dict[str, str]:
    return {name: params[name] for name in ("page", "actual") if params.get(name)}


# ---------------------------------------------------------------- one image, full screen


def _rect(*box: float | None) -> dict[str, float]:
    x1, y1, x2, y2 = (float(v or 0.0) for v in box)
    return {"x": x1, "y": y1, "w": max(0.0, x2 - x1), "h": max(0.0, y2 - y1), "bottom": y2}


def image_context(run: InferenceRun, image: Image, highlight: int | None) -> dict:
    """The image with all its current annotations and this run's predicted boxes on it."""
    n = len(run.labels)
    annotations = [
        {"id": a.pk, "label": a.label.name, **_rect(a.x1, a.y1, a.x2, a.y2)}
        for a in Annotation.objects.filter(image=image).select_related("label").order_by("id")
    ]
    predictions = [
        {
            "id": inst.pk,
            "label": run.labels[inst.row],
            "score": inst.score,
            "kind": str(Instance.Kind(inst.kind).label),
            "highlight": inst.pk == highlight,
            **_rect(inst.px1, inst.py1, inst.px2, inst.py2),
        }
        for inst in Instance.objects.filter(run=run, image=image, row__lt=n).order_by("score")
    ]
    highlighted = first_by_pk(Instance.objects.filter(run=run, image=image), highlight)
    return {
        "run": run,
        "image": image,
        "annotations": annotations,
        "predictions": predictions,
        "highlight_annotation": highlighted.annotation_id if highlighted else None,
        "font_size": max(12, round(max(image.width, image.height) / 60)),
    }


@require_GET
def image_view(request: HtmxHttpRequest, pk: int, image_pk: int) -> HttpResponse:
    """One image enlarged, with every box, for the Full screen view."""
    run = _get_run_for_user(request, pk)
    image = get_run_image(run, image_pk)
    context = image_context(run, image, _int(request.GET.get("instance")))
    template = "validation/image_view.html"
    return render(request, fragment_or_page(request, template, "image-view"), context)


# ---------------------------------------------------------------- the selection (Modify)


def selected_ids(params) -> list[int]:
    """Instance ids from ?ids=1,2,3 (or repeated ids=), in the order given, without repeats."""
    raw = params.getlist("ids") if hasattr(params, "getlist") else [params.get("ids", "")]
    ids: list[int] = []
    for chunk in raw:
        for part in chunk.split(","):
            value = parse_id(part)
            if value is not None and value not in ids:
                ids.append(value)
    return ids[:MAX_SELECTION]


@require_GET
def instance_selection(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The Modify dialog's list: each selected instance, its title opening the editor."""
    run = _get_run_for_user(request, pk)
    ids = selected_ids(request.GET)
    found = Instance.objects.filter(run=run, pk__in=ids).select_related("image")
    by_id = {instance.pk: instance for instance in found}
    items = [describe(run, by_id[i]) for i in ids if i in by_id]
    context = {"run": run, "items": items}
    template = fragment_or_page(request, "validation/selection.html", "modify-list")
    return render(request, template, context)


# ---------------------------------------------------------------- stored predictions, as JSON


def image_predictions(run: InferenceRun, image: Image) -> list[dict]:
    """The run's kept predictions on one image (at the run's thresholds), best score first."""
    n = len(run.labels)
    instances = Instance.objects.filter(run=run, image=image, row__lt=n).order_by("-score", "id")
    return [
        {
            "label": run.labels[inst.row],
            "score": inst.score,
            "box": [inst.px1, inst.py1, inst.px2, inst.py2],
            "kind": KIND_CODES[Instance.Kind(inst.kind)],
        }
        for inst in instances
    ]


@require_GET
def image_predictions_json(request: HtmxHttpRequest, pk: int, image_pk: int) -> JsonResponse:
    """GET JSON of this run's predictions for one image, for the editor's accept-prediction."""
    run = _get_run_for_user(request, pk)
    image = get_run_image(run, image_pk)
    return JsonResponse(image_predictions(run, image), safe=False)
