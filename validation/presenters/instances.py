"""A run's saved instances as the pages show them: cards, a cell's page, one image, JSON."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from django.core.paginator import Page, Paginator
from django.db.models import Count
from django.urls import reverse
from django.utils.http import urlencode

from projects.models import Annotation, Image
from validation.analysis import exports
from validation.models import InferenceRun, Instance
from validation.presenters.params import first_by_pk, listed_ids, parse_int
from validation.presenters.results import page_query, row_name

INSTANCES_PER_PAGE = 50
MAX_SELECTION = 500  # entries the Modify dialog lists at the most
# The page's kind codes (CSS classes kind-…, the editor's JSON): the export's, LOC kept short.
KIND_CODES = exports.KIND_CODES | {Instance.Kind.LOC: "loc"}

Link = Callable[..., dict[str, str]]


@dataclass(frozen=True)
class InstanceItem:
    """One instance as the page shows it."""

    instance: Instance
    predicted: str | None
    actual: str | None
    kind: str
    kind_label: str
    crop_url: str


@dataclass(frozen=True)
class CellPage:
    """One page of a matrix cell's entries, saved or what-if, and how its links are made."""

    page: Page
    items: list
    splits: Sequence[tuple[int | None, str, int]]  # a LOC cell's (actual label, name, count)
    actual: int | None  # the split shown, None for all
    link: Link  # link(page=, actual=) → {"href": the page, "fragment": the cell's fragment}


def label_names(run: InferenceRun, row: int, actual: int | None) -> tuple[str | None, str | None]:
    """(predicted, actual) label names of an entry; None for a side it does not have."""
    n = len(run.labels)
    predicted = run.labels[row] if row < n else None
    return predicted, run.labels[actual] if actual is not None and actual < n else None


def describe(run: InferenceRun, instance: Instance) -> InstanceItem:
    """One saved instance's card: its label names, kind and crop."""
    predicted, actual = label_names(run, instance.row, instance.actual_label)
    kind = Instance.Kind(instance.kind)
    crop_url = reverse("validation:instance-crop", args=[run.pk, instance.pk])
    return InstanceItem(instance, predicted, actual, KIND_CODES[kind], str(kind.label), crop_url)


def _label_name(run: InferenceRun, index: int | None) -> str:
    return row_name(run, index) if index is not None else "—"


def _saved_link(
    run: InferenceRun, open_sections: list[str], cell: str, fragment_url: str, **extra
) -> dict[str, str]:
    query = {k: v for k, v in extra.items() if v not in (None, "")}
    return {
        "href": run.get_absolute_url() + page_query(open_sections, cell=cell, **query),
        "fragment": fragment_url + ("?" + urlencode(query) if query else ""),
    }


def saved_cell(
    run: InferenceRun, row: int, col: int, params: Mapping, open_sections: list[str]
) -> CellPage:
    """One page of a cell's saved instances; a LOC cell can be split by the actual label."""
    n = len(run.labels)
    instances = Instance.objects.filter(run=run, row=row, col=col)
    splits, actual = [], None
    if col == n + 1:
        counts = instances.values("actual_label").annotate(count=Count("id")).order_by()
        splits = sorted(
            ((c["actual_label"], _label_name(run, c["actual_label"]), c["count"]) for c in counts),
            key=lambda split: split[0] if split[0] is not None else n,
        )
        actual = parse_int(params.get("actual"))
        if actual is not None:
            instances = instances.filter(actual_label=actual)
    paginator = Paginator(instances.select_related("image").order_by("id"), INSTANCES_PER_PAGE)
    page: Page = paginator.get_page(params.get("page"))
    fragment_url = reverse("validation:run-cell", args=[run.pk, row, col])
    link = partial(_saved_link, run, open_sections, f"{row}-{col}", fragment_url)
    items = [describe(run, instance) for instance in page.object_list]
    return CellPage(page, items, splits, actual, link)


def kept_paging(params: Mapping) -> dict[str, str]:
    """The cell page's own parameters (page, actual) from a query, where given."""
    return {name: params[name] for name in ("page", "actual") if params.get(name)}


# ---------------------------------------------------------------- one image, full screen


def box_rect(*box: float | None) -> dict[str, float]:
    """x, y, w, h and bottom of a box (x1, y1, x2, y2) for the SVG of the full-screen view."""
    x1, y1, x2, y2 = (float(v or 0.0) for v in box)
    return {"x": x1, "y": y1, "w": max(0.0, x2 - x1), "h": max(0.0, y2 - y1), "bottom": y2}


def image_context(run: InferenceRun, image: Image, highlight: int | None) -> dict:
    """The image with all its current annotations and this run's predicted boxes on it."""
    n = len(run.labels)
    annotations = [
        {"id": a.pk, "label": a.label.name, **box_rect(a.x1, a.y1, a.x2, a.y2)}
        for a in Annotation.objects.filter(image=image).select_related("label").order_by("id")
    ]
    predictions = [
        {
            "id": inst.pk,
            "label": run.labels[inst.row],
            "score": inst.score,
            "kind": str(Instance.Kind(inst.kind).label),
            "highlight": inst.pk == highlight,
            **box_rect(inst.px1, inst.py1, inst.px2, inst.py2),
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


# ---------------------------------------------------------------- the selection, as JSON


def selection_items(run: InferenceRun, params: Mapping) -> list[InstanceItem]:
    """The Modify dialog's instances (?ids=1,2,3), in the order given."""
    ids = listed_ids(params, MAX_SELECTION)
    found = Instance.objects.filter(run=run, pk__in=ids).select_related("image")
    by_id = {instance.pk: instance for instance in found}
    return [describe(run, by_id[i]) for i in ids if i in by_id]


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
