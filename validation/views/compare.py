"""Compare two completed runs of one project: metrics, matrix difference, instance changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.formats import number_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django_htmx.http import push_url

from validation.analysis import comparison as cmp
from validation.models import InferenceRun
from validation.views.access import _get_run_for_user, visible_runs, wants_fragment

TEMPLATE = "validation/run_compare.html"
PER_PAGE = 50


class BadComparison(Exception):
    """A request the page answers with a message instead of a comparison."""

    def __init__(self, message: str, status: int = 400, run: InferenceRun | None = None) -> None:
        super().__init__(message)
        self.status, self.run = status, run


# ---------------------------------------------------------------- formatting


def signed(value: float | int | None, digits: int = 3) -> str:
    """A change with its sign: "+0.052", "−3", "0"; "—" when undefined."""
    if value is None:
        return "—"
    if isinstance(value, int):
        text = number_format(abs(value))
    else:
        text = number_format(abs(value), digits)
    if abs(value) <= cmp.SAME:
        return text
    return ("+" if value > 0 else "−") + text


def compare_url(a: InferenceRun, b: InferenceRun, **extra) -> str:
    query = {"a": a.pk, "b": b.pk, **{k: v for k, v in extra.items() if v not in (None, "")}}
    return reverse("validation:run-compare") + "?" + urlencode(query)


# ---------------------------------------------------------------- the two runs


def _run_id(params: Mapping, name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadComparison(
            _("“%(value)s” is not a run number (parameter %(name)s).")
            % {"value": value, "name": name}
        ) from None


def candidate_runs(user, run: InferenceRun) -> QuerySet[InferenceRun]:
    """The other completed runs of the run's project this user may see, newest first."""
    return (
        visible_runs(user)
        .filter(project_id=run.project_id, status=InferenceRun.Status.COMPLETED)
        .exclude(pk=run.pk)
        .select_related("model", "created_by")
        .order_by("-created_at", "-id")
    )


def _picker_context(request: HttpRequest, a: InferenceRun) -> dict:
    return {"a": a, "candidates": candidate_runs(request.user, a)[:100]}


# ---------------------------------------------------------------- the page's tables


def metric_rows(a: InferenceRun, b: InferenceRun) -> list[dict]:
    names = {
        "f1": _("F1 score"),
        "precision": _("Precision"),
        "recall": _("Recall"),
        "map50": "mAP50",
        "map50_95": "mAP50-95",
    }
    return [
        {"key": key, "name": names[key], "delta": d, "change": signed(d.change)}
        for key, d in cmp.run_metric_deltas(a, b).items()
    ]


def label_rows(a: InferenceRun, b: InferenceRun) -> list[dict]:
    return [
        {
            "row": row,
            "metrics": [
                {"delta": row.metrics[key], "change": signed(row.metrics[key].change)}
                for key in cmp.LABEL_METRICS
            ],
            "annotations_change": signed(row.annotations.change),
        }
        for row in cmp.label_deltas(a, b)
    ]


def matrix_rows(a: InferenceRun, b: InferenceRun, diff: cmp.MatrixDiff, selected) -> dict:
    """The difference matrix with each cell's text, shade and links."""
    m, top = len(diff.labels), max(diff.max_abs, 1)
    rows = []
    for r, cells in enumerate(diff.cells):
        shown = []
        for cell in cells:
            shown.append(
                {
                    "cell": cell,
                    "text": signed(cell.diff) if cell.diff else "0",
                    "shade": f"--shade:{abs(cell.diff) / top:.3f}",
                    "href": compare_url(a, b, cell=f"{cell.row}-{cell.col}")
                    if cell.a or cell.b
                    else "",
                    "selected": selected == (cell.row, cell.col),
                }
            )
        name = diff.labels[r] if r < m else "{}"
        rows.append({"name": name, "cells": shown})
    columns = [*diff.labels, "BG", "LOC"]
    return {"rows": rows, "columns": columns}


def transition_table(a, b, moves: cmp.Transitions) -> dict:
    names = {state: str(cmp.STATE_NAMES[state]) for state in cmp.STATES}
    rows = []
    for before in cmp.STATES:
        cells = []
        for after in cmp.STATES:
            group = cmp.Group(f"{before}-{after}", before, after)
            count = moves.count(before, after)
            cells.append(
                {
                    "count": count,
                    "same": before == after,
                    "direction": group.direction if before != after else "",
                    "href": compare_url(a, b, group=group.key) if count and before != after else "",
                }
            )
        rows.append({"name": names[before], "cells": cells})
    return {"columns": [names[s] for s in cmp.STATES], "rows": rows}


def headline_groups(a, b, moves: cmp.Transitions) -> list[dict]:
    groups = [
        (cmp.FOUND_TO_MISSED, _("Found → missed")),
        (cmp.MISSED_TO_FOUND, _("Missed → found")),
    ]
    return [
        {
            "group": group,
            "title": title,
            "count": moves.group_count(group),
            "href": compare_url(a, b, group=group.key),
        }
        for group, title in groups
    ]


# ---------------------------------------------------------------- the drill-down


@dataclass
class Selection:
    title: str
    subtitle: str
    items: list[cmp.ChangeItem]
    page: Page
    prev: str
    next: str
    tabs: list[dict]
    params: dict


def _paged(ids: list[int], number) -> Page:
    return Paginator(ids, PER_PAGE).get_page(number)


def _pager(a, b, page: Page, **params) -> tuple[str, str]:
    prev = (
        compare_url(a, b, **params, page=page.previous_page_number()) if page.has_previous() else ""
    )
    nxt = compare_url(a, b, **params, page=page.next_page_number()) if page.has_next() else ""
    return prev, nxt


def group_selection(c: cmp.Comparison, group: cmp.Group, params: Mapping) -> Selection:
    """A transition group's annotations (or deleted ones), both runs' instances side by side."""
    a, b = c.a, c.b
    page = _paged(c.group_ids(group), params.get("page"))
    ids = list(page.object_list)
    if group.deleted_in:
        run, other = (a, b) if group.deleted_in == "a" else (b, a)
        items = cmp.instance_items(run, other, ids, group.deleted_in)
        title = _("In run #%(run)s, annotations deleted since") % {"run": run.pk}
    else:
        items = cmp.annotation_items(a, b, ids)
        title = f"{cmp.STATE_NAMES[group.before]} → {cmp.STATE_NAMES[group.after]}"
    prev, nxt = _pager(a, b, page, group=group.key)
    subtitle = _("Annotations followed by their id from run #%(a)s to run #%(b)s.") % {
        "a": a.pk,
        "b": b.pk,
    }
    return Selection(title, subtitle, items, page, prev, nxt, [], {"group": group.key})


def _side_tab(c: cmp.Comparison, cell_key: str, side: str, count: int, current: str) -> dict:
    run = c.b if side == "b" else c.a
    return {
        "side": side,
        "text": _("Only in run #%(run)s") % {"run": run.pk},
        "count": count,
        "href": compare_url(c.a, c.b, cell=cell_key, side=side),
        "current": side == current,
    }


def cell_selection(c: cmp.Comparison, row: int, col: int, params: Mapping) -> Selection:
    """A difference cell: the instances only run b has there, or only run a."""
    a, b, diff = c.a, c.b, c.diff
    changes = c.cell_changes(row, col)
    side = params.get("side")
    if side not in ("a", "b"):
        side = "b" if changes.entered or not changes.left else "a"
    page = _paged(changes.entered if side == "b" else changes.left, params.get("page"))
    run, other = (b, a) if side == "b" else (a, b)
    items = cmp.instance_items(run, other, list(page.object_list), side)
    cell_key = f"{row}-{col}"
    prev, nxt = _pager(a, b, page, cell=cell_key, side=side)
    m = len(diff.labels)
    row_name = diff.labels[row] if row < m else "{}"
    col_name = diff.labels[col] if col < m else ("BG" if col == m else "LOC")
    tabs = [
        _side_tab(c, cell_key, "b", len(changes.entered), side),
        _side_tab(c, cell_key, "a", len(changes.left), side),
    ]
    title = _("Predicted %(row)s · Actual %(col)s") % {"row": row_name, "col": col_name}
    cell = diff.cells[row][col]
    subtitle = _("%(a)s in run #%(ra)s, %(b)s in run #%(rb)s; %(same)s in both.") % {
        "a": cell.a,
        "ra": a.pk,
        "b": cell.b,
        "rb": b.pk,
        "same": changes.stayed,
    }
    return Selection(title, subtitle, items, page, prev, nxt, tabs, {"cell": cell_key})


def _parse_cell(value: str, diff: cmp.MatrixDiff) -> tuple[int, int] | None:
    try:
        row, col = (int(part) for part in value.split("-", 1))
    except ValueError:
        return None
    return (row, col) if diff.cell(row, col) is not None else None


def selection_context(c: cmp.Comparison, params: Mapping) -> dict:
    """The drill-down the query asks for (?group= or ?cell=), or a message when it is unknown."""
    if params.get("group"):
        group = cmp.parse_group(params["group"])
        if group is None:
            return {"selection_error": _("There is no group “%(key)s”.") % {"key": params["group"]}}
        return {"selection": group_selection(c, group, params)}
    if params.get("cell"):
        cell = _parse_cell(params["cell"], c.diff)
        if cell is None:
            message = _("There is no cell “%(key)s” in the difference matrix.")
            return {"selection_error": message % {"key": params["cell"]}}
        return {"selection": cell_selection(c, *cell, params), "selected_cell": cell}
    return {}


def compare_context(c: cmp.Comparison, params: Mapping) -> dict:
    """Everything the page shows for these two comparable runs."""
    a, b, moves = c.a, c.b, c.transitions
    context = {
        "a": a,
        "b": b,
        "swap_url": compare_url(b, a),
        "metrics": metric_rows(a, b),
        "labels": label_rows(a, b),
        "moves": moves,
        "headlines": headline_groups(a, b, moves),
        "transition_table": transition_table(a, b, moves),
        "deleted_links": {
            "a": compare_url(a, b, group="deleted-a"),
            "b": compare_url(a, b, group="deleted-b"),
        },
        **selection_context(c, params),
    }
    context["matrix"] = matrix_rows(a, b, c.diff, context.get("selected_cell"))
    return context


# ---------------------------------------------------------------- the view


def _two_runs(request: HttpRequest) -> tuple[InferenceRun, InferenceRun | None]:
    a_id, b_id = _run_id(request.GET, "a"), _run_id(request.GET, "b")
    if a_id is None:
        raise BadComparison(_("Choose a run first: open it and use “Compare with…”."))
    a = _get_run_for_user(request, a_id)
    b = _get_run_for_user(request, b_id) if b_id is not None else None
    if b is not None and (problem := cmp.comparability_problem(a, b)):
        raise BadComparison(problem, status=422, run=a)
    if b is None and (problem := cmp.completion_problem(a)):
        raise BadComparison(problem, status=422)
    return a, b


def _kept(params: Mapping) -> dict:
    return {k: params[k] for k in ("group", "cell", "side", "page") if params.get(k)}


def _comparison_response(request: HttpRequest, c: cmp.Comparison) -> HttpResponse:
    """The whole page, or only the drill-down for an htmx swap (its URL pushed)."""
    if wants_fragment(request):
        response = _drill_down_fragment(request, c)
    else:
        context = compare_context(c, request.GET)
        status = 400 if "selection_error" in context else 200
        response = render(request, TEMPLATE, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _drill_down_fragment(request: HttpRequest, c: cmp.Comparison) -> HttpResponse:
    """The drill-down, and the matrix out of band so that it marks the chosen cell."""
    context = {"a": c.a, "b": c.b, **selection_context(c, request.GET)}
    context["matrix"] = matrix_rows(c.a, c.b, c.diff, context.get("selected_cell"))
    html = render_to_string(f"{TEMPLATE}#compare-instances", context, request)
    html += render_to_string(f"{TEMPLATE}#compare-matrix", {**context, "oob": True}, request)
    response = HttpResponse(html, status=400 if "selection_error" in context else 200)
    return push_url(response, compare_url(c.a, c.b, **_kept(request.GET)))


@require_GET
def run_compare(request: HttpRequest) -> HttpResponse:
    """Two runs side by side (?a=&b=), or the list of runs to compare ?a= with."""
    try:
        a, b = _two_runs(request)
    except BadComparison as refusal:
        picker = _picker_context(request, refusal.run) if refusal.run else {}
        context = {"error": str(refusal), **picker}
        return render(request, TEMPLATE, context, status=refusal.status)
    if b is None:
        return render(request, TEMPLATE, _picker_context(request, a))
    return _comparison_response(request, cmp.Comparison(a, b))
