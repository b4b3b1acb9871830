"""Two completed runs of one project side by side: metrics, matrix difference, instance changes.

Everything is computed from stored results (no HTTP): the views only render it. Labels are
aligned by name; annotations are followed across runs by their id (Instance.annotation).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from validation.models import InferenceRun, Instance

Kind = Instance.Kind
# Instances that stand for one annotation: each annotation of a run is in exactly one of them.
ANNOTATION_KINDS = (Kind.TRUE_POSITIVE, Kind.CONFUSION, Kind.LOC, Kind.MISSED)
STATE_OF_KIND: dict[int, str] = {
    Kind.TRUE_POSITIVE: "tp",
    Kind.CONFUSION: "confusion",
    Kind.LOC: "loc",
    Kind.DUPLICATE: "duplicate",
    Kind.BACKGROUND: "background",
    Kind.MISSED: "missed",
}
# What became of an annotation in a run; "absent": it was not part of that run at all.
STATES = ("tp", "confusion", "loc", "missed", "absent")
STATE_NAMES = {
    "tp": gettext_lazy("found"),
    "confusion": gettext_lazy("confused"),
    "loc": gettext_lazy("poorly localised"),
    "missed": gettext_lazy("missed"),
    "absent": gettext_lazy("not in the run"),
    "duplicate": gettext_lazy("duplicate"),
    "background": gettext_lazy("background"),
    "none": gettext_lazy("no such prediction"),
}
# Higher is better; a change between equal ranks (confused ↔ LOC) is neither.
STATE_RANK = {"tp": 2, "confusion": 1, "loc": 1, "missed": 0}
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


# ---------------------------------------------------------------- annotations across runs


@dataclass
class Outcomes:
    """What became of each annotation in one run."""

    by_annotation: dict[int, tuple[str, int]]  # annotation id → (state, instance id)
    deleted: int  # annotation-side instances whose annotation has been deleted since

    def state(self, annotation_id: int) -> str:
        return self.by_annotation.get(annotation_id, ("absent", 0))[0]


def annotation_outcomes(run: InferenceRun) -> Outcomes:
    """One query: every annotation-side instance of the run, by annotation id."""
    rows = Instance.objects.filter(run=run, kind__in=ANNOTATION_KINDS).values_list(
        "annotation_id", "kind", "id"
    )
    by_annotation: dict[int, tuple[str, int]] = {}
    deleted = 0
    for annotation_id, kind, pk in rows.order_by().iterator(chunk_size=10_000):
        if annotation_id is None:
            deleted += 1
        else:
            by_annotation[annotation_id] = (STATE_OF_KIND[kind], pk)
    return Outcomes(by_annotation, deleted)


@dataclass(frozen=True)
class Group:
    """A set of changes the page can drill into: an annotation transition, or deleted ones."""

    key: str
    before: str = ""
    after: str = ""
    deleted_in: str = ""  # "a" or "b" for the instances whose annotation was deleted

    @property
    def direction(self) -> str:
        if self.deleted_in or "absent" in (self.before, self.after):
            return ""
        rank_a, rank_b = STATE_RANK[self.before], STATE_RANK[self.after]
        return "same" if rank_a == rank_b else ("better" if rank_b > rank_a else "worse")


FOUND_TO_MISSED = Group("tp-missed", "tp", "missed")
MISSED_TO_FOUND = Group("missed-tp", "missed", "tp")


def parse_group(value: str | None) -> Group | None:
    """A group from its key: "<state a>-<state b>" with two different states, or "deleted-a|b"."""
    if not value:
        return None
    if value in ("deleted-a", "deleted-b"):
        return Group(value, deleted_in=value[-1])
    before, sep, after = value.partition("-")
    if sep and before in STATES and after in STATES and before != after:
        return Group(value, before, after)
    return None


@dataclass
class Transitions:
    """How many annotations went from each state in run a to each state in run b."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    deleted_a: int = 0
    deleted_b: int = 0

    def count(self, before: str, after: str) -> int:
        return self.counts.get((before, after), 0)

    def group_count(self, group: Group) -> int:
        if group.deleted_in == "a":
            return self.deleted_a
        if group.deleted_in == "b":
            return self.deleted_b
        return self.count(group.before, group.after)

    @property
    def changed(self) -> int:
        return sum(n for (sa, sb), n in self.counts.items() if sa != sb)


def transitions(oa: Outcomes, ob: Outcomes) -> Transitions:
    """Count annotations by (state in a, state in b), over the annotations of either run."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for annotation_id in oa.by_annotation.keys() | ob.by_annotation.keys():
        counts[(oa.state(annotation_id), ob.state(annotation_id))] += 1
    return Transitions(dict(counts), oa.deleted, ob.deleted)


def group_annotation_ids(oa: Outcomes, ob: Outcomes, group: Group) -> list[int]:
    """The annotations of a transition group, in id order."""
    ids = oa.by_annotation.keys() | ob.by_annotation.keys()
    return sorted(i for i in ids if oa.state(i) == group.before and ob.state(i) == group.after)


def deleted_instance_ids(run: InferenceRun) -> list[int]:
    """Annotation-side instances whose annotation has been deleted since the run."""
    rows = Instance.objects.filter(run=run, kind__in=ANNOTATION_KINDS, annotation__isnull=True)
    return list(rows.order_by("id").values_list("id", flat=True))


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


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of x1y1x2y2 boxes (SPEC §4: continuous coordinates, a union of 0 gives 0)."""
    ax1, ay1, ax2, ay2 = (boxes_a[:, k, None] for k in range(4))
    bx1, by1, bx2, by2 = (boxes_b[None, :, k] for k in range(4))
    inter = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None) * np.clip(
        np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None
    )
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_boxes(rows_a: list[tuple], rows_b: list[tuple], threshold: float) -> list[tuple]:
    """Pairs (row a, row b) on the same image, greedily by highest IoU ≥ threshold."""
    by_image: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
    for row in rows_a:
        by_image[row[1]][0].append(row)
    for row in rows_b:
        by_image[row[1]][1].append(row)
    pairs = []
    for side_a, side_b in by_image.values():
        if not side_a or not side_b:
            continue
        ious = iou_matrix(
            np.array([_box(r) for r in side_a], dtype=np.float64),
            np.array([_box(r) for r in side_b], dtype=np.float64),
        )
        while ious.size and ious.max() >= threshold:
            i, j = np.unravel_index(int(np.argmax(ious)), ious.shape)
            pairs.append((side_a[i], side_b[j]))
            ious[i, :] = -1
            ious[:, j] = -1
    return pairs


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


# ---------------------------------------------------------------- what the drill-down shows


@dataclass(frozen=True)
class Side:
    """One run's side of a change: its instance (None when it has none) and its state."""

    run: InferenceRun
    instance: Instance | None
    state: str

    @property
    def state_name(self) -> str:
        return str(STATE_NAMES[self.state])

    @property
    def predicted(self) -> str | None:
        return predicted_name(self.run, self.instance) if self.instance else None

    @property
    def actual(self) -> str | None:
        return label_name(self.run, self.instance) if self.instance else None


@dataclass(frozen=True)
class ChangeItem:
    a: Side
    b: Side

    @property
    def sides(self) -> tuple[Side, Side]:
        return (self.a, self.b)

    @property
    def shown(self) -> Side:
        """The side whose instance the full-screen view highlights: run b's when it has one."""
        return self.b if self.b.instance is not None else self.a

    @property
    def image(self):
        return self.shown.instance.image

    @property
    def direction(self) -> str:
        if self.a.state in STATE_RANK and self.b.state in STATE_RANK:
            return Group("", self.a.state, self.b.state).direction
        return ""

    @property
    def annotation_edited(self) -> bool:
        """The annotation's box or label changed between the two runs."""
        ia, ib = self.a.instance, self.b.instance
        if ia is None or ib is None or ia.annotation_id is None or ia.kind not in ANNOTATION_KINDS:
            return False
        box_a, box_b = (ia.gx1, ia.gy1, ia.gx2, ia.gy2), (ib.gx1, ib.gy1, ib.gx2, ib.gy2)
        return box_a != box_b or label_name(self.a.run, ia) != label_name(self.b.run, ib)


def label_name(run: InferenceRun, instance: Instance) -> str | None:
    index = instance.actual_label
    return run.labels[index] if index is not None and index < len(run.labels) else None


def predicted_name(run: InferenceRun, instance: Instance) -> str | None:
    return run.labels[instance.row] if instance.row < len(run.labels) else None


def _side(run: InferenceRun, instance: Instance | None, missing: str = "absent") -> Side:
    state = STATE_OF_KIND[Instance.Kind(instance.kind)] if instance else missing
    return Side(run, instance, state)


def annotation_items(a: InferenceRun, b: InferenceRun, annotation_ids: list[int]):
    """Each annotation's instance in run a and in run b (one query for both runs)."""
    found = Instance.objects.filter(
        run__in=[a.pk, b.pk], annotation_id__in=annotation_ids, kind__in=ANNOTATION_KINDS
    ).select_related("image")
    by_key = {(inst.run_id, inst.annotation_id): inst for inst in found}
    return [
        ChangeItem(_side(a, by_key.get((a.pk, i))), _side(b, by_key.get((b.pk, i))))
        for i in annotation_ids
        if (a.pk, i) in by_key or (b.pk, i) in by_key
    ]


def instance_items(run: InferenceRun, other: InferenceRun, ids: list[int], side: str):
    """Instances of one run with, where they carry an annotation, its instance in the other run."""
    instances = Instance.objects.filter(run=run, pk__in=ids).select_related("image")
    by_id = {inst.pk: inst for inst in instances}
    annotated = [i.annotation_id for i in by_id.values() if i.annotation_id is not None]
    counterparts = {
        inst.annotation_id: inst
        for inst in Instance.objects.filter(
            run=other, annotation_id__in=annotated, kind__in=ANNOTATION_KINDS
        ).select_related("image")
    }
    items = []
    for pk in ids:
        inst = by_id.get(pk)
        if inst is None:
            continue
        mine = _side(run, inst)
        if inst.annotation_id is not None:
            theirs = _side(other, counterparts.get(inst.annotation_id))
        else:  # a false alarm, or an annotation deleted since: nothing to follow by id
            missing = "absent" if inst.kind in ANNOTATION_KINDS else "none"
            theirs = _side(other, None, missing=missing)
        items.append(ChangeItem(mine, theirs) if side == "a" else ChangeItem(theirs, mine))
    return items


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
