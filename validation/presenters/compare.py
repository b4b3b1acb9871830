"""The compare page's context: both runs' metrics, the difference matrix, the drill-down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from validation.analysis import comparison as cmp
from validation.analysis import outcomes
from validation.models import InferenceRun
from validation.presenters.changes import STATE_NAMES, ChangeItem, annotation_items, instance_items
from validation.presenters.formatting import signed

PER_PAGE = 50
PICKER_SIZE = 100


def compare_url(a: InferenceRun, b: InferenceRun, **extra) -> str:
    query = {"a": a.pk, "b": b.pk, **{k: v for k, v in extra.items() if v not in (None, "")}}
    return reverse("validation:run-compare") + "?" + urlencode(query)


def picker_context(a: InferenceRun, visible: QuerySet[InferenceRun]) -> dict:
    """Run a and the other completed runs of its project among the visible ones, newest first."""
    candidates = (
        visible.filter(project_id=a.project_id, status=InferenceRun.Status.COMPLETED)
        .exclude(pk=a.pk)
        .select_related("model", "created_by")
        .order_by("-created_at", "-id")
    )
    return {"a": a, "candidates": candidates[:PICKER_SIZE]}


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


def transition_table(a, b, moves: outcomes.Transitions) -> dict:
    names = {state: str(STATE_NAMES[state]) for state in outcomes.STATES}
    rows = []
    for before in outcomes.STATES:
        cells = []
        for after in outcomes.STATES:
            group = outcomes.Group(f"{before}-{after}", before, after)
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
    return {"columns": [names[s] for s in outcomes.STATES], "rows": rows}


def headline_groups(a, b, moves: outcomes.Transitions) -> list[dict]:
    groups = [
        (outcomes.FOUND_TO_MISSED, _("Found → missed")),
        (outcomes.MISSED_TO_FOUND, _("Missed → found")),
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
    items: list[ChangeItem]
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


def group_selection(c: cmp.Comparison, group: outcomes.Group, params: Mapping) -> Selection:
    """A transition group's annotations (or deleted ones), both runs' instances side by side."""
    a, b = c.a, c.b
    page = _paged(c.group_ids(group), params.get("page"))
    ids = list(page.object_list)
    if group.deleted_in:
        run, other = (a, b) if group.deleted_in == "a" else (b, a)
        items = instance_items(run, other, ids, group.deleted_in)
        title = _("In run #%(run)s, annotations deleted since") % {"run": run.pk}
    else:
        items = annotation_items(a, b, ids)
        title = f"{STATE_NAMES[group.before]} → {STATE_NAMES[group.after]}"
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
    items = instance_items(run, other, list(page.object_list), side)
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
        group = outcomes.parse_group(params["group"])
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


# ---------------------------------------------------------------- the page and its fragment


def compare_context(c: cmp.Comparison, params: Mapping) -> dict:
    """Everything the page shows for these two comparable runs."""
    a, b, moves = c.a, c.b, c.transitions
    return {
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
        **drill_down_context(c, params),
    }


def drill_down_context(c: cmp.Comparison, params: Mapping) -> dict:
    """The drill-down alone, with the matrix that marks its chosen cell."""
    context = {"a": c.a, "b": c.b, **selection_context(c, params)}
    context["matrix"] = matrix_rows(c.a, c.b, c.diff, context.get("selected_cell"))
    return context


def kept_params(params: Mapping) -> dict:
    """The drill-down's own query values, for the URL an htmx swap pushes."""
    return {k: params[k] for k in ("group", "cell", "side", "page") if params.get(k)}
