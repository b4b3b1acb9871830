"""Two completed runs of one project side by side: metrics, matrix difference, instance changes.

Everything is computed from stored results (no HTTP): the presenters only shape it for the page.
Labels are aligned by name; annotations are followed across runs by their id (see `outcomes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from django.utils.translation import gettext as _

import metrics_rs

# The groups a comparison drills into are named here too, with the comparison they belong to.
from validation.analysis.outcomes import FOUND_TO_MISSED as FOUND_TO_MISSED
from validation.analysis.outcomes import MISSED_TO_FOUND as MISSED_TO_FOUND
from validation.analysis.outcomes import (
    Group,
    Outcomes,
    Transitions,
    annotation_outcomes,
    deleted_instance_ids,
    group_annotation_ids,
    transitions,
)
from validation.analysis.outcomes import parse_group as parse_group
from validation.models import InferenceRun, Instance

RUN_METRICS = ("f1", "precision", "recall", "map50", "map50_95")
LABEL_METRICS = ("f1", "precision", "recall", "ap50", "ap50_95")
BOX_MATCH_IOU = 0.5  # a false alarm "stays" when the other run has one of its label within this IoU
SAME = 1e-12


class NotComparable(ValueError):
    """Two runs that cannot be compared; the message says why."""


def comparability_problem(a: InferenceRun, b: InferenceRun) -> str | None:
    """Why these two runs cannot be compared, or None when they can."""
    if a.pk == b.pk:
        return _("Choose two different runs: both sides are run #%(run)s.") % {"run": a.pk}
    if a.project_id != b.project_id:
        return _(
            "Run #%(a)s belongs to project “%(pa)s” and run #%(b)s to project “%(pb)s”: "
            "only runs of the same project can be compared."
        ) % {"a": a.pk, "pa": a.project.name, "b": b.pk, "pb": b.project.name}
    return completion_problem(a) or completion_problem(b)


def completion_problem(run: InferenceRun) -> str | None:
    """Why this run has nothing to compare yet, or None when it has results."""
    if run.status != InferenceRun.Status.COMPLETED or not run.matrix:
        return _("Run #%(run)s is %(status)s: only completed runs can be compared.") % {
            "run": run.pk,
            "status": run.get_status_display(),
        }
    return None


def check_comparable(a: InferenceRun, b: InferenceRun) -> None:
    problem = comparability_problem(a, b)
    if problem:
        raise NotComparable(problem)


# ---------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Delta:
    """One number in both runs and its change b − a; higher is better unless told otherwise."""

    a: float | None
    b: float | None
    higher_is_better: bool = True

    @property
    def change(self) -> float | None:
        if self.a is None or self.b is None:
            return None
        return self.b - self.a

    @property
    def direction(self) -> str:
        """ "better", "worse", "same", or "" when either side is undefined."""
        change = self.change
        if change is None:
            return ""
        if abs(change) <= SAME:
            return "same"
        return "better" if (change > 0) == self.higher_is_better else "worse"


def run_metric_deltas(a: InferenceRun, b: InferenceRun) -> dict[str, Delta]:
    """F1, precision, recall, mAP50 and mAP50-95 of both runs."""
    return {key: Delta(getattr(a, key), getattr(b, key)) for key in RUN_METRICS}


def union_labels(a_labels: list[str], b_labels: list[str]) -> list[str]:
    """Run a's labels in its order, then the labels only run b has, in b's order."""
    seen = set(a_labels)
    return list(a_labels) + [name for name in b_labels if name not in seen]


@dataclass(frozen=True)
class LabelDeltas:
    """One label's metrics and counts in both runs, and whether each run has the label."""

    name: str
    metrics: dict[str, Delta]
    annotations: Delta
    predictions: Delta
    in_a: bool
    in_b: bool


def label_deltas(a: InferenceRun, b: InferenceRun) -> list[LabelDeltas]:
    """Per label (union of both runs, by name): each metric and count in both runs."""
    rows = []
    for name in union_labels(a.labels, b.labels):
        ma, mb = a.per_label.get(name) or {}, b.per_label.get(name) or {}
        rows.append(
            LabelDeltas(
                name=name,
                metrics={key: Delta(ma.get(key), mb.get(key)) for key in LABEL_METRICS},
                annotations=Delta(ma.get("annotations"), mb.get("annotations")),
                predictions=Delta(ma.get("predictions"), mb.get("predictions")),
                in_a=name in a.labels,
                in_b=name in b.labels,
            )
        )
    return rows


# ---------------------------------------------------------------- matrix difference


def run_row(run: InferenceRun, labels: list[str], row: int) -> int | None:
    """This run's matrix row for a row of the union matrix (None: the run lacks the label)."""
    m = len(labels)
    if row == m:
        return len(run.labels)
    if 0 <= row < m and labels[row] in run.labels:
        return run.labels.index(labels[row])
    return None


def run_col(run: InferenceRun, labels: list[str], col: int) -> int | None:
    """This run's matrix column for a column of the union matrix: labels, then BG, LOC."""
    m, n = len(labels), len(run.labels)
    if col in (m, m + 1):
        return n + (col - m)
    if 0 <= col < m and labels[col] in run.labels:
        return run.labels.index(labels[col])
    return None


def run_cell(run: InferenceRun, labels: list[str], row: int, col: int) -> tuple[int, int] | None:
    r, c = run_row(run, labels, row), run_col(run, labels, col)
    return None if r is None or c is None else (r, c)


def cell_count(run: InferenceRun, labels: list[str], row: int, col: int) -> int:
    cell = run_cell(run, labels, row, col)
    return 0 if cell is None else int(run.matrix[cell[0]][cell[1]])


@dataclass(frozen=True)
class DiffCell:
    row: int
    col: int
    a: int
    b: int
    diagonal: bool

    @property
    def diff(self) -> int:
        return self.b - self.a

    @property
    def direction(self) -> str:
        """More on the diagonal is better; more anywhere else (an error) is worse."""
        return Delta(self.a, self.b, higher_is_better=self.diagonal).direction


@dataclass(frozen=True)
class MatrixDiff:
    labels: list[str]
    cells: list[list[DiffCell]]  # rows: labels then {}; columns: labels then BG, LOC

    @property
    def max_abs(self) -> int:
        return max((abs(c.diff) for row in self.cells for c in row), default=0)

    def cell(self, row: int, col: int) -> DiffCell | None:
        if 0 <= row < len(self.cells) and 0 <= col < len(self.cells[row]):
            return self.cells[row][col]
        return None


def matrix_difference(a: InferenceRun, b: InferenceRun) -> MatrixDiff:
    """Both confusion matrices over the union of their labels (aligned by name), cell by cell."""
    labels = union_labels(a.labels, b.labels)
    m = len(labels)
    cells = [
        [
            DiffCell(
                row=r,
                col=c,
                a=cell_count(a, labels, r, c),
                b=cell_count(b, labels, r, c),
                diagonal=r == c and r < m,
            )
            for c in range(m + 2)
        ]
        for r in range(m + 1)
    ]
    return MatrixDiff(labels, cells)


# ---------------------------------------------------------------- one difference cell


@dataclass(frozen=True)
class CellChanges:
    """A cell's instances in b that a did not have there (entered), and the other way (left)."""

    entered: list[int]  # instance ids of run b
    left: list[int]  # instance ids of run a
    stayed: int


_CELL_FIELDS = (
    "id",
    "image_id",
    "annotation_id",
    "px1",
    "py1",
    "px2",
    "py2",
    "gx1",
    "gy1",
    "gx2",
    "gy2",
)


def _cell_rows(run: InferenceRun, cell: tuple[int, int] | None) -> list[tuple]:
    if cell is None:
        return []
    rows = Instance.objects.filter(run=run, row=cell[0], col=cell[1]).order_by("id")
    return list(rows.values_list(*_CELL_FIELDS))


def _box(row: tuple) -> tuple[float, float, float, float]:
    """The predicted box, or the annotation box for a missed annotation."""
    return row[3:7] if row[3] is not None else row[7:11]


def match_boxes(rows_a: list[tuple], rows_b: list[tuple], threshold: float) -> list[tuple]:
    """Pairs (row a, row b) on the same image, greedily by highest IoU ≥ threshold (metrics_rs)."""
    if not rows_a or not rows_b:
        return []
    index_a, index_b = metrics_rs.pair_boxes(
        np.array([r[1] for r in rows_a], dtype=np.int64),
        np.array([_box(r) for r in rows_a], dtype=np.float64),
        np.array([r[1] for r in rows_b], dtype=np.int64),
        np.array([_box(r) for r in rows_b], dtype=np.float64),
        iou_threshold=threshold,
    )
    return [(rows_a[i], rows_b[j]) for i, j in zip(index_a.tolist(), index_b.tolist(), strict=True)]


def cell_changes(a: InferenceRun, b: InferenceRun, labels: list[str], row: int, col: int):
    """Follow a union-matrix cell's instances across the runs: by annotation, else by box."""
    rows_a = _cell_rows(a, run_cell(a, labels, row, col))
    rows_b = _cell_rows(b, run_cell(b, labels, row, col))
    annotated_b = {r[2] for r in rows_b if r[2] is not None}
    annotated_a = {r[2] for r in rows_a if r[2] is not None}
    stayed = len(annotated_a & annotated_b)
    left = {r[0] for r in rows_a if r[2] is not None and r[2] not in annotated_b}
    entered = {r[0] for r in rows_b if r[2] is not None and r[2] not in annotated_a}
    # False alarms (and instances of deleted annotations) have no id to follow: match boxes.
    loose_a = [r for r in rows_a if r[2] is None]
    loose_b = [r for r in rows_b if r[2] is None]
    pairs = match_boxes(loose_a, loose_b, BOX_MATCH_IOU)
    matched_a = {pa[0] for pa, _pb in pairs}
    matched_b = {pb[0] for _pa, pb in pairs}
    left |= {r[0] for r in loose_a if r[0] not in matched_a}
    entered |= {r[0] for r in loose_b if r[0] not in matched_b}
    return CellChanges(sorted(entered), sorted(left), stayed + len(pairs))


class Comparison:
    """Two comparable runs; each part is computed once, when first asked for."""

    def __init__(self, a: InferenceRun, b: InferenceRun) -> None:
        check_comparable(a, b)
        self.a, self.b = a, b

    @cached_property
    def diff(self) -> MatrixDiff:
        return matrix_difference(self.a, self.b)

    @cached_property
    def outcomes(self) -> tuple[Outcomes, Outcomes]:
        return annotation_outcomes(self.a), annotation_outcomes(self.b)

    @cached_property
    def transitions(self) -> Transitions:
        return transitions(*self.outcomes)

    def group_ids(self, group: Group) -> list[int]:
        """Annotation ids of a transition group, or instance ids of a deleted group."""
        if group.deleted_in:
            return deleted_instance_ids(self.a if group.deleted_in == "a" else self.b)
        return group_annotation_ids(*self.outcomes, group)

    def cell_changes(self, row: int, col: int) -> CellChanges:
        return cell_changes(self.a, self.b, self.diff.labels, row, col)
