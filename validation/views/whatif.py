"""What-if on the run page: other thresholds, recomputed from stored predictions; save as run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core import signing
from django.core.paginator import Page, Paginator
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, push_url

from projects.models import Image
from validation.analysis import whatif
from validation.forms.whatif import WhatIfForm
from validation.models import InferenceRun, Instance
from validation.presenters.crops import CropUnavailable, cached_crop, crop_digest
from validation.presenters.results import (
    build_matrix,
    category_headers,
    category_table,
    col_name,
    parse_cell,
    parse_open,
    row_name,
    sort_links,
    timing_rows,
)
from validation.runs import derive as derived
from validation.views.access import (
    HtmxHttpRequest,
    _get_run_for_user,
    get_run_image,
    page_params,
    wants_fragment,
)
from validation.views.instances import INSTANCES_PER_PAGE, KIND_CODES, image_context
from validation.views.instances import cell_context as db_cell_context

TEMPLATE = "validation/run_whatif.html"
PAGE_KEYS = ("open", "cell", "actual", "sort")
MAX_SELECTION = 500


# ---------------------------------------------------------------- state from the URL query


@dataclass
class WhatIfState:
    """The what-if panel: its form, what its inputs show, and the result when it is valid."""

    form: WhatIfForm
    values: dict[str, Any]
    active: bool
    result: whatif.WhatIf | None = None
    diff: list[list[int]] | None = None
    query: str = ""

    @property
    def labels(self) -> list[dict[str, Any]]:
        """Each label's input: name, saved confidence, what-if value, errors."""
        own = self.values["labels"]
        saved = self.values["saved"]
        errors = self.form.label_errors if self.form.is_bound else {}
        return [
            {
                "index": i,
                "name": name,
                "saved": saved.get(name),
                "value": own.get(name, ""),
                "errors": errors.get(name, []),
            }
            for i, name in enumerate(self.form.labels)
        ]

    @property
    def error_slots(self) -> list[tuple[str, list[str]]]:
        """(DOM id, messages) of every place an error can show, empty ones included."""
        form = self.form
        errors = form.errors if form.is_bound else {}
        slots = [
            (f"wi-err-{name}", [str(m) for m in errors.get(f"wi_{name}", [])])
            for name in ("base", "iou", "low")
        ]
        slots.append(("wi-err-general", [str(m) for m in errors.get("__all__", [])]))
        slots += [(f"wi-err-lc-{label['index']}", label["errors"]) for label in self.labels]
        return slots

    @property
    def slot_errors(self) -> dict[str, list[str]]:
        return dict(self.error_slots)


def whatif_state(run: InferenceRun, params: Mapping, evaluate: bool = True) -> WhatIfState:
    """The panel for this query; evaluated when it asks for a valid what-if."""
    labels = list(run.labels)
    own_map = run.label_threshold_map()
    values = whatif.initial_values(run, params, labels, own_map)
    values["saved"] = {name: whatif.number(v) for name, v in own_map.items()}
    active = whatif.has_whatif(params)
    form = WhatIfForm(params if active else None, labels=labels)
    state = WhatIfState(form=form, values=values, active=active)
    if active and form.is_valid() and evaluate:
        thresholds = form.thresholds()
        state.result = whatif.evaluate(run, thresholds)
        state.diff = whatif.matrix_difference(run, state.result)
        state.query = urlencode(whatif.query_items(thresholds, labels))
    return state


def page_url(run: InferenceRun, params: Mapping, query: str, **extra: str) -> str:
    """The run page with its open sections, cell and sort kept, and this what-if query."""
    kept = {k: str(params.get(k)) for k in PAGE_KEYS if params.get(k) not in (None, "")}
    kept.update({k: v for k, v in extra.items() if v})
    parts = [urlencode(kept)] if kept else []
    if query:
        parts.append(query)
    return run.get_absolute_url() + ("?" + "&".join(parts) if parts else "")


# ---------------------------------------------------------------- a cell, in memory


@dataclass(frozen=True)
class MemoryInstance:
    """A what-if entry with an Instance's attribute names, for the instance card."""

    member: whatif.Member
    image: Image

    @property
    def pk(self) -> str:
        return self.member.key

    @property
    def image_id(self) -> int:
        return self.member.image_id

    @property
    def score(self) -> float | None:
        return self.member.score

    @property
    def iou(self) -> float | None:
        return self.member.iou


@dataclass(frozen=True)
class WhatIfItem:
    instance: MemoryInstance
    predicted: str | None
    actual: str | None
    kind: str
    kind_label: str
    crop_url: str
    image_url: str


def _signer(run: InferenceRun) -> signing.Signer:
    return signing.Signer(salt=f"validation.analysis.whatif-crop.{run.pk}")


def _box_text(box: tuple[float, float, float, float] | None) -> str:
    return "n" if box is None else ",".join(f"{v:.2f}" for v in box)


def crop_token(
    run: InferenceRun, member: whatif.Member, signer: signing.Signer | None = None
) -> str:
    """A signed "image_annotation-box_prediction-box": the crop view draws nothing else."""
    value = "_".join(
        (str(member.image_id), _box_text(member.annotation_box), _box_text(member.prediction_box))
    )
    return (signer or _signer(run)).sign(value)


def read_crop_token(run: InferenceRun, token: str) -> tuple[int, tuple | None, tuple | None]:
    """(image id, annotation box, prediction box) of a token this run's pages made, else 404."""
    try:
        image, annotation, prediction = _signer(run).unsign(token).split("_")

        def box(text: str) -> tuple[float, ...] | None:
            return None if text == "n" else tuple(float(v) for v in text.split(","))

        return int(image), box(annotation), box(prediction)
    except (signing.BadSignature, ValueError) as exc:
        raise Http404("No such crop.") from exc


def items_for(run: InferenceRun, found: list[whatif.Member], query: str) -> list[WhatIfItem]:
    """The cards of these entries (one query for their images; URLs built without reverse)."""
    images = Image.objects.in_bulk({m.image_id for m in found})
    crop_base = reverse("validation:run-whatif-crop", args=[run.pk, "TOKEN"])
    image_base = reverse("validation:run-whatif-image", args=[run.pk, 0])[: -len("0/")]
    n = len(run.labels)
    signer = _signer(run)
    items = []
    for m in found:
        if m.image_id not in images:
            continue
        kind = Instance.Kind(m.kind)
        actual = m.actual_label
        items.append(
            WhatIfItem(
                instance=MemoryInstance(m, images[m.image_id]),
                predicted=run.labels[m.row] if m.row < n else None,
                actual=run.labels[actual] if actual is not None and actual < n else None,
                kind=KIND_CODES[kind],
                kind_label=str(kind.label),
                crop_url=crop_base.replace("TOKEN", crop_token(run, m, signer)),
                image_url=f"{image_base}{m.image_id}/?{query}&instance={m.key}",
            )
        )
    return items


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def cell_context(
    run: InferenceRun,
    state: WhatIfState,
    row: int,
    col: int,
    params: Mapping,
    open_sections: list[str],
) -> dict:
    """One page of a what-if cell's entries, built from the arrays (not in the database)."""
    assert state.result is not None
    n = len(run.labels)
    entries = whatif.cell(state.result, row, col)
    splits = entries.splits() if col == n + 1 else []
    actual = _int(params.get("actual")) if col == n + 1 else None
    shown = entries.only_actual(actual)
    page: Page = Paginator(shown.indices, INSTANCES_PER_PAGE).get_page(params.get("page"))
    members = whatif.members(state.result, shown, np.asarray(page.object_list))
    cell = f"{row}-{col}"
    fragment = reverse("validation:run-whatif-cell", args=[run.pk, row, col])

    def link(**extra) -> dict[str, str]:
        query = {k: v for k, v in extra.items() if v not in (None, "")}
        tail = "&".join(p for p in (urlencode(query), state.query) if p)
        return {
            "href": page_url(
                run,
                {"open": ",".join(open_sections)},
                state.query,
                cell=cell,
                **{k: str(v) for k, v in query.items()},
            ),
            "fragment": fragment + "?" + tail,
        }

    return {
        "cell": {
            "row": row,
            "col": col,
            "row_name": row_name(run, row),
            "col_name": col_name(run, col),
        },
        "cell_page": page,
        "cell_items": items_for(run, members, state.query),
        "cell_splits": [
            {"index": i, "name": row_name(run, i), "count": c, "link": link(actual=i)}
            for i, c in splits
        ],
        "cell_actual": actual,
        "cell_all_link": link(),
        "cell_prev": link(page=page.previous_page_number(), actual=actual)
        if page.has_previous()
        else None,
        "cell_next": link(page=page.next_page_number(), actual=actual) if page.has_next() else None,
        "selection_url": reverse("validation:run-whatif-selection", args=[run.pk])
        + "?"
        + state.query,
    }


def results_context(
    run: InferenceRun, state: WhatIfState | None, params: Mapping, open_sections: list[str]
) -> dict:
    """Matrix, metrics and the chosen cell: of the what-if when there is one, else the run's."""
    active = state if state is not None and state.result is not None else None
    results: Any = active.result if active else run
    selected = parse_cell(params.get("cell"), run)
    categories = category_table(results, params.get("sort", ""))
    context = {
        "results": results,
        "matrix": build_matrix(run, selected, open_sections, active),
        "categories": categories,
        "sort_links": sort_links(categories["sort"]),
        "whatif_query": active.query if active else "",
        "headline": _headline(run, active),
        "category_headers": category_headers(),
        "timing_rows": timing_rows(run),
    }
    if selected is not None:
        if active:
            context.update(cell_context(run, active, *selected, params, open_sections))
        else:
            context.update(db_cell_context(run, *selected, params, open_sections))
    return context


def _headline(run: InferenceRun, state: WhatIfState | None) -> list[dict]:
    """F1, precision, recall with their change from the saved run (what-if only)."""
    if state is None or state.result is None:
        return []
    names = {"f1": _("F1 score"), "precision": _("Precision"), "recall": _("Recall")}
    return [
        {
            "key": key,
            "name": names[key],
            "saved": saved,
            "value": value,
            "delta": signed(None if saved is None or value is None else value - saved),
        }
        for key, saved, value in whatif.headline_changes(run, state.result)
    ]


def signed(value: float | None, digits: int = 3) -> str:
    """A change with its sign, "+0.052" or "−0.010"; "±0" when nothing changed; "" undefined."""
    if value is None:
        return ""
    if abs(value) < 0.5 * 10**-digits:
        return "±0"
    return ("+" if value > 0 else "−") + number_format(abs(value), digits)


# ---------------------------------------------------------------- views


def _completed_run(request: HtmxHttpRequest, pk: int) -> InferenceRun:
    run = _get_run_for_user(request, pk)
    if not whatif.can_whatif(run):
        raise Http404("What-if needs a completed run with stored predictions.")
    return run


def _page_state(request: HtmxHttpRequest) -> QueryDict:
    """The page's sections, cell and sort (HX-Current-URL) with this request's wi_ query."""
    page = page_params(request) if wants_fragment(request) else request.GET
    merged = QueryDict(mutable=True)
    for key in PAGE_KEYS:
        value = page.get(key)
        if value:
            merged[key] = str(value)
    for key in request.GET:
        if key.startswith(whatif.PREFIX):
            merged.setlist(key, request.GET.getlist(key))
    return merged


@require_GET
def run_whatif(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Recompute the matrix, metrics and chosen cell at the query's thresholds (htmx swaps them)."""
    run = _completed_run(request, pk)
    params = _page_state(request)
    state = whatif_state(run, params)
    if not wants_fragment(request):
        return redirect(page_url(run, params, state.query or request.GET.urlencode()))
    open_sections = parse_open(params)
    context = {"run": run, "whatif": state, "open_param": ",".join(open_sections)}
    if state.result is None:
        return render(request, f"{TEMPLATE}#whatif-response", context, status=422)
    context.update(results_context(run, state, params, open_sections))
    response = render(request, f"{TEMPLATE}#whatif-response", context)
    return push_url(response, page_url(run, params, state.query))


@require_GET
def run_whatif_cell(request: HtmxHttpRequest, pk: int, row: int, col: int) -> HttpResponse:
    """One page of a what-if cell's instances."""
    run = _completed_run(request, pk)
    n = len(run.labels)
    if not (0 <= row <= n and 0 <= col <= n + 1):
        raise Http404("No such cell.")
    params = _page_state(request)
    state = whatif_state(run, params)
    keep = {k: request.GET[k] for k in ("page", "actual") if request.GET.get(k)}
    url = page_url(run, params, state.query, cell=f"{row}-{col}", **keep)
    if not wants_fragment(request) or state.result is None:
        return redirect(url)
    merged = {**{k: params.get(k) for k in PAGE_KEYS}, **keep}
    open_sections = parse_open(params)
    context = {"run": run, **cell_context(run, state, row, col, merged, open_sections)}
    response = render(request, "validation/run_detail.html#run-instances", context)
    return push_url(response, url)


@require_POST
def run_whatif_save(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Save the what-if as a new completed run derived from this one, and open it."""
    run = _completed_run(request, pk)
    form = WhatIfForm(request.POST, labels=list(run.labels))
    if not form.is_valid():
        if not request.htmx:
            query = urlencode(
                [
                    (k, v)
                    for k in request.POST
                    if k.startswith(whatif.PREFIX)
                    for v in request.POST.getlist(k)
                ]
            )
            return redirect(run.get_absolute_url() + "?" + query)
        state = WhatIfState(
            form=form,
            values=whatif.initial_values(run, request.POST, list(run.labels)) | {"saved": {}},
            active=True,
        )
        context = {"run": run, "whatif": state}
        return render(request, f"{TEMPLATE}#whatif-response", context, status=422)
    new = derived.save_as_new_run(run, form.thresholds(), request.user)
    if request.htmx:
        return HttpResponseClientRedirect(new.get_absolute_url())
    return redirect(new)


# ---------------------------------------------------------------- crops, full screen, Modify


def _crop_path(run: InferenceRun, payload: tuple) -> Path:
    digest = crop_digest(*payload)[:20]
    return Path(settings.MEDIA_ROOT) / "crops" / str(run.pk) / "whatif" / f"{digest}.png"


@require_GET
def run_whatif_crop(request: HtmxHttpRequest, pk: int, token: str) -> FileResponse:
    """The crop of a what-if entry: boxes and image come signed from the page, cached on disk."""
    run = _get_run_for_user(request, pk)
    payload = read_crop_token(run, token)
    image_id, annotation, prediction = payload
    image = get_run_image(run, image_id)
    try:
        path = cached_crop(_crop_path(run, payload), image, annotation, prediction)
    except CropUnavailable as exc:
        raise Http404(str(exc)) from exc
    response = FileResponse(path.open("rb"), content_type="image/png")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=86400"
    return response


@require_GET
def run_whatif_image(request: HtmxHttpRequest, pk: int, image_pk: int) -> HttpResponse:
    """Full screen: the image with its annotations and the what-if's kept predictions."""
    run = _completed_run(request, pk)
    image = get_run_image(run, image_pk)
    state = whatif_state(run, request.GET)
    if state.result is None:
        return redirect(reverse("validation:image-view", args=[run.pk, image.pk]))
    context = image_context(run, image, None)
    highlight = request.GET.get("instance", "")
    predictions = []
    for m in whatif.image_predictions(state.result, image.pk):
        x1, y1, x2, y2 = m.prediction_box or (0.0, 0.0, 0.0, 0.0)
        predictions.append(
            {
                "id": m.key,
                "label": run.labels[m.row],
                "score": m.score,
                "kind": str(Instance.Kind(m.kind).label),
                "highlight": m.key == highlight,
                "x": x1,
                "y": y1,
                "w": max(0.0, x2 - x1),
                "h": max(0.0, y2 - y1),
                "bottom": y2,
            }
        )
    context["predictions"] = predictions
    chosen = whatif.members_by_key(state.result, [highlight]) if highlight else []
    context["highlight_annotation"] = chosen[0].annotation_id if chosen else None
    template = "validation/image_view.html"
    return render(
        request, f"{template}#image-view" if wants_fragment(request) else template, context
    )


@require_GET
def run_whatif_selection(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The Modify dialog's list for what-if entries (?ids=p12,a34)."""
    run = _completed_run(request, pk)
    state = whatif_state(run, request.GET)
    keys: list[str] = []
    for chunk in request.GET.getlist("ids"):
        keys += [k.strip() for k in chunk.split(",") if k.strip() and k.strip() not in keys]
    found = whatif.members_by_key(state.result, keys[:MAX_SELECTION]) if state.result else []
    context = {"run": run, "items": items_for(run, found, state.query)}
    template = "validation/selection.html"
    return render(
        request, f"{template}#modify-list" if wants_fragment(request) else template, context
    )
