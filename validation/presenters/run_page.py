"""The run page's context: settings, progress, metrics, categories, matrix and the chosen cell."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.urls import reverse

from validation.models import InferenceRun
from validation.presenters.instances import saved_cell
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
from validation.presenters.whatif import WhatIfState, asked_state, headline, run_state
from validation.presenters.whatif_cells import whatif_cell
from validation.runs import devices


def cell_context(
    run: InferenceRun,
    row: int,
    col: int,
    params: Mapping,
    open_sections: list[str],
    whatif: WhatIfState | None = None,
) -> dict:
    """One page of a matrix cell's entries: the run's saved instances, or a what-if's."""
    if whatif is not None:
        cell = whatif_cell(run, whatif, row, col, params, open_sections)
    else:
        cell = saved_cell(run, row, col, params, open_sections)
    page, link, actual = cell.page, cell.link, cell.actual
    context: dict[str, Any] = {
        "cell": {
            "row": row,
            "col": col,
            "row_name": row_name(run, row),
            "col_name": col_name(run, col),
        },
        "cell_page": page,
        "cell_items": cell.items,
        "cell_splits": [
            {"index": index, "name": name, "count": count, "link": link(actual=index)}
            for index, name, count in cell.splits
        ],
        "cell_actual": actual,
        "cell_all_link": link(),
        "cell_prev": link(page=page.previous_page_number(), actual=actual)
        if page.has_previous()
        else None,
        "cell_next": link(page=page.next_page_number(), actual=actual) if page.has_next() else None,
    }
    if whatif is not None:
        selection = reverse("validation:run-whatif-selection", args=[run.pk])
        context["selection_url"] = selection + "?" + whatif.query
    return context


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
        "headline": headline(run, active),
        "category_headers": category_headers(),
        "timing_rows": timing_rows(run),
    }
    if selected is not None:
        context.update(cell_context(run, *selected, params, open_sections, active))
    return context


def unserved(run: InferenceRun) -> str:
    """Why a queued run cannot start (no live worker on its queue), else ""."""
    if run.status != InferenceRun.Status.QUEUED:
        return ""
    return devices.unserved_reason(run.device)


def detail_context(run: InferenceRun, params: Mapping, reevaluation: dict | None) -> dict:
    """Everything the run page shows, for these query parameters."""
    open_sections = parse_open(params)
    context = {
        "run": run,
        "open_sections": open_sections,
        "open_param": ",".join(open_sections),
        "label_confidences": list(run.label_confidences.all()),
        "timing_rows": timing_rows(run),
        "category_headers": category_headers(),
        "reevaluation": reevaluation,
        "unserved": unserved(run),
    }
    if run.status == InferenceRun.Status.COMPLETED and run.matrix:
        state = run_state(run, params)
        context["whatif"] = state
        context.update(results_context(run, state, params, open_sections))
    return context


def categories_context(run: InferenceRun, page: Mapping, sort: str) -> dict:
    """The category overview, sorted, of the what-if the page shows or else of the run."""
    state = asked_state(run, page)
    categories = category_table(state.result if state and state.result else run, sort)
    return {
        "run": run,
        "categories": categories,
        "sort_links": sort_links(categories["sort"]),
        "category_headers": category_headers(),
        "open_param": ",".join(parse_open(page)),
    }
