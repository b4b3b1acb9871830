"""What the run page shows, computed from a run without HTTP: matrix, per-label table, timing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from validation.analysis.evaluation import macro_averages
from validation.models import InferenceRun

# Above this many labels the matrix leaves its empty cells blank, neighbours merged into one
# <td colspan>: a full grid of (labels + 1) × (labels + 2) cells cost megabytes (300 labels made
# a 6.4 MB page) and helps nobody read it; smaller matrices keep every cell and its grid line.
COMPACT_MATRIX_LABELS = 50
SECTIONS = ("settings", "metrics", "whatif", "details", "curves", "categories")
DEFAULT_OPEN = ("details",)
TIMING_PARTS = ("load", "preprocess", "model", "match", "save")
CATEGORY_COLUMNS = ("precision", "recall", "f1", "ap50", "ap50_95", "annotations", "predictions")


def parse_open(params: Mapping) -> list[str]:
    """Open sections from ?open=a,b; inference details alone when the parameter is absent."""
    if "open" not in params:
        return list(DEFAULT_OPEN)
    names = [name.strip() for name in params.get("open", "").split(",")]
    return [name for name in SECTIONS if name in names]


def parse_cell(value: str | None, run: InferenceRun) -> tuple[int, int] | None:
    """A matrix cell from ?cell=ROW-COL, if it lies inside this run's matrix."""
    if not value or not run.matrix:
        return None
    try:
        row, col = (int(part) for part in value.split("-", 1))
    except ValueError:
        return None
    return (row, col) if cell_in_matrix(run, row, col) else None


def cell_in_matrix(run: InferenceRun, row: int, col: int) -> bool:
    n = len(run.labels)
    return bool(run.matrix) and 0 <= row <= n and 0 <= col <= n + 1


def page_query(open_sections: list[str], **extra) -> str:
    """The run page's query string for these open sections and extra parameters."""
    params = {"open": ",".join(open_sections), **{k: v for k, v in extra.items() if v}}
    return "?" + urlencode(params)


def row_name(run: InferenceRun, row: int) -> str:
    return run.labels[row] if row < len(run.labels) else "{}"


def col_name(run: InferenceRun, col: int) -> str:
    n = len(run.labels)
    if col < n:
        return run.labels[col]
    return "BG" if col == n else "LOC"


class Results(Protocol):
    """A run's results, saved (InferenceRun) or recomputed (a what-if)."""

    @property
    def labels(self) -> list[str]: ...
    @property
    def per_label(self) -> dict: ...
    @property
    def precision(self) -> float | None: ...
    @property
    def recall(self) -> float | None: ...
    @property
    def f1(self) -> float | None: ...
    @property
    def map50(self) -> float | None: ...
    @property
    def map50_95(self) -> float | None: ...


@dataclass(frozen=True)
class MatrixCell:
    row: int
    col: int
    count: int
    share: float
    diagonal: bool
    selected: bool
    href: str
    fragment_url: str
    delta: int | None = None  # what-if minus saved


@dataclass(frozen=True)
class MatrixRow:
    name: str
    title: str
    cells: list[MatrixCell | None]  # None: an empty cell of a large matrix, shown blank
    total: int


def build_matrix(
    run: InferenceRun, selected: tuple[int, int] | None, open_sections: list[str], whatif=None
) -> dict:
    """Rows and columns of the confusion matrix with each cell's share of its row and links."""
    # A what-if (its .result, .diff, .query) shows its counts, each with its change from the
    # saved run, and its cells drill into the what-if.
    n = len(run.labels)
    page_url = run.get_absolute_url()
    view = "validation:run-whatif-cell" if whatif else "validation:run-cell"
    fragment_base = reverse(view, args=[run.pk, 0, 0]).replace("/0-0/", "/{}-{}/")
    open_value = urlencode({"open": ",".join(open_sections)})
    query = f"&{whatif.query}" if whatif else ""
    fragment_query = f"?{whatif.query}" if whatif else ""
    matrix = whatif.result.matrix if whatif else run.matrix
    diff = whatif.diff if whatif else None
    compact = n > COMPACT_MATRIX_LABELS
    rows = []
    for r, counts in enumerate(matrix):
        total = sum(counts)
        cells: list[MatrixCell | None] = []
        for c, count in enumerate(counts):
            delta = diff[r][c] if diff is not None else None
            diagonal, chosen = r == c and r < n, selected == (r, c)
            if compact and not (count or delta or diagonal or chosen):
                cells.append(None)  # most of a large matrix: nothing to show, nothing to link
                continue
            linked = bool(count or delta)
            cells.append(
                MatrixCell(
                    row=r,
                    col=c,
                    count=count,
                    share=(count / total) if total else 0.0,
                    diagonal=diagonal,
                    selected=chosen,
                    href=f"{page_url}?cell={r}-{c}&{open_value}{query}" if linked else "",
                    fragment_url=fragment_base.format(r, c) + fragment_query if linked else "",
                    delta=delta,
                )
            )
        title = _("missed annotations") if r == n else run.labels[r]
        rows.append(MatrixRow(row_name(run, r), title, cells, total))
    columns = [(name, name) for name in run.labels]
    columns += [
        ("BG", _("BG: background, false alarms")),
        ("LOC", _("LOC: poorly localised")),
    ]
    column_totals = [sum(row[c] for row in matrix) for c in range(n + 2)]
    return {
        "rows": rows,
        "columns": columns,
        "column_totals": column_totals,
        "whatif": bool(whatif),
    }


def _sort_key(column: str):
    def key(row: dict):
        value = row[column]
        return (value is None, value if value is not None else 0)

    return key


def category_table(run: Results, sort: str | None) -> dict:
    """Per-label metrics in axis order (or sorted by ?sort=[-]column), with averages."""
    rows = [{"label": name, **(run.per_label.get(name) or {})} for name in run.labels]
    for row in rows:
        for column in CATEGORY_COLUMNS:
            row.setdefault(column, None)
    column = (sort or "").lstrip("-")
    if column in CATEGORY_COLUMNS or column == "label":
        descending = (sort or "").startswith("-")
        defined = [r for r in rows if r[column] is not None]
        undefined = [r for r in rows if r[column] is None]
        defined.sort(key=_sort_key(column), reverse=descending)
        rows = defined + undefined  # undefined ("—") last either way
    else:
        sort = None
    per_label = {r["label"]: r for r in rows}
    macro = macro_averages(per_label)
    overall = {
        "precision": run.precision,
        "recall": run.recall,
        "f1": run.f1,
        "ap50": run.map50,
        "ap50_95": run.map50_95,
        "annotations": sum(r["annotations"] or 0 for r in rows),
        "predictions": sum(r["predictions"] or 0 for r in rows),
    }
    return {"rows": rows, "macro": macro, "overall": overall, "sort": sort or ""}


def category_headers() -> list[tuple[str, str]]:
    """Column keys and titles of the category overview."""
    return [
        ("label", _("Label")),
        ("precision", _("Precision")),
        ("recall", _("Recall")),
        ("f1", _("F1 score")),
        ("ap50", "AP50"),
        ("ap50_95", "AP50-95"),
        ("annotations", _("Annotations")),
        ("predictions", _("Predictions")),
    ]


def sort_links(current: str) -> dict[str, str]:
    """For each column, the ?sort= value a click on its header asks for."""
    links = {}
    for column in ("label", *CATEGORY_COLUMNS):
        links[column] = f"-{column}" if current == column else column
    return links


def timing_rows(run: InferenceRun) -> list[tuple[str, float | None]]:
    names = {
        "load": _("loading images"),
        "preprocess": _("preprocessing"),
        "model": _("model"),
        "match": _("matching and metrics"),
        "save": _("saving results"),
    }
    timing = run.timing or {}
    return [(names[part], timing.get(part)) for part in TIMING_PARTS]


def describe_changes(run: InferenceRun, result: dict) -> dict:
    """Re-evaluation result with label names: changed cells and headline metrics."""
    cells = [
        {
            "row": row_name(run, r),
            "col": col_name(run, c),
            "before": before,
            "after": after,
        }
        for r, c, before, after in result.get("changed_cells", [])
    ]
    metrics = [
        (_("F1"), result["before"].get("f1"), result["after"].get("f1")),
        (_("Precision"), result["before"].get("precision"), result["after"].get("precision")),
        (_("Recall"), result["before"].get("recall"), result["after"].get("recall")),
    ]
    return {"cells": cells, "metrics": metrics}
