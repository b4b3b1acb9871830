"""What-if: a run re-evaluated at other thresholds from its stored predictions; nothing is written.

The arrays of a run (stored predictions, ground truth, AP) are loaded once and kept in a small
in-process LRU keyed by (run, evaluated_at), so a change of threshold costs one matching call.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from validation.analysis import evaluation
from validation.analysis import predictions as stored
from validation.analysis.evaluation import Thresholds
from validation.models import InferenceRun, Instance

PREFIX = "wi_"
LABEL_PREFIX = "wi_lc."
CACHE_SIZE = 4
DROPPED = evaluation.DROPPED
LOC = Instance.Kind.LOC.value
MISSED = Instance.Kind.MISSED.value


# ---------------------------------------------------------------- the run's arrays, cached


@dataclass
class RunData:
    """Everything a what-if needs from one evaluated run, loaded once."""

    preds: stored.StoredPredictions
    gt: evaluation.GroundTruth
    labels: list[str]
    ap: np.ndarray
    # Derived, filled on first use: sweeps by (iou, low), per-label sorted scores.
    extras: dict[Any, Any] = field(default_factory=dict)

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def extra(self, key: Any, build: Callable[[], Any]) -> Any:
        """A value derived from these arrays, built on first use and kept with them."""
        with _lock:
            if key in self.extras:
                return self.extras[key]
        value = build()
        with _lock:
            return self.extras.setdefault(key, value)


_cache: OrderedDict[tuple, RunData] = OrderedDict()
_lock = threading.Lock()


def cache_key(run: InferenceRun) -> tuple:
    evaluated = run.evaluated_at.isoformat() if run.evaluated_at else ""
    return (run.pk, evaluated, run.predictions_file.name or "")


def can_whatif(run: InferenceRun) -> bool:
    """Only a completed run with stored predictions and results can be re-thresholded."""
    return (
        run.status == InferenceRun.Status.COMPLETED
        and bool(run.predictions_file)
        and bool(run.matrix)
    )


def run_data(run: InferenceRun) -> RunData:
    """The run's arrays, from the cache or loaded now (and cached)."""
    key = cache_key(run)
    with _lock:
        data = _cache.get(key)
        if data is not None:
            _cache.move_to_end(key)
            return data
    preds = stored.load(run.predictions_file.name or "")
    labels = evaluation.run_axis_labels(run)
    gt = evaluation.load_ground_truth(preds, labels)
    data = RunData(preds, gt, labels, evaluation.average_precision(preds, gt, len(labels)))
    with _lock:
        _cache[key] = data
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return data


def clear_cache() -> None:
    with _lock:
        _cache.clear()


# ---------------------------------------------------------------- one what-if evaluation


@dataclass
class WhatIf:
    """A run's results at other thresholds; attribute names follow InferenceRun's."""

    thresholds: Thresholds
    data: RunData
    matrix: list[list[int]]
    precision: float | None
    recall: float | None
    f1: float | None
    per_label: dict[str, dict]
    map50: float | None
    map50_95: float | None
    pred_kind: np.ndarray
    pred_gt: np.ndarray
    pred_iou: np.ndarray
    gt_pred: np.ndarray
    # SPEC §9: the ten totals of the line decision at these thresholds.
    line_decision: dict[str, int | float | None] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return self.data.labels


def evaluate(run: InferenceRun, thresholds: Thresholds) -> WhatIf:
    """Match the stored predictions again at these thresholds: matrix and metrics, no writes."""
    data = run_data(run)
    ev = evaluation.match_predictions(
        data.preds, data.gt, data.labels, thresholds, run.reject_labels
    )
    matrix = np.asarray(ev.matrix, dtype=np.int64)
    overall, per_label, map50, map50_95 = evaluation.summarise(data.labels, ev, data.ap)
    totals = evaluation.line_results(ev, data.labels, per_label)
    return WhatIf(
        thresholds=thresholds,
        data=data,
        matrix=matrix.tolist(),
        precision=overall["precision"],
        recall=overall["recall"],
        f1=overall["f1"],
        per_label=per_label,
        map50=map50,
        map50_95=map50_95,
        pred_kind=np.asarray(ev.pred_kind),
        pred_gt=np.asarray(ev.pred_gt),
        pred_iou=np.asarray(ev.pred_iou),
        gt_pred=np.asarray(ev.gt_pred),
        line_decision=totals,
    )


def matrix_difference(run: InferenceRun, result: WhatIf) -> list[list[int]] | None:
    """What-if minus saved, cell by cell; None when the axes differ (labels changed since)."""
    if list(run.labels) != result.labels or not run.matrix:
        return None
    return (np.asarray(result.matrix) - np.asarray(run.matrix)).tolist()


def headline_changes(
    run: InferenceRun, result: WhatIf
) -> list[tuple[str, float | None, float | None]]:
    """(metric, saved, what-if) for F1, precision and recall."""
    return [
        ("f1", run.f1, result.f1),
        ("precision", run.precision, result.precision),
        ("recall", run.recall, result.recall),
    ]


# ---------------------------------------------------------------- a cell's instances, in memory


@dataclass(frozen=True)
class Member:
    """One entry of a what-if cell: the fields an Instance row would have."""

    key: str  # "p<prediction index>" or "a<annotation id>": unique within the run
    image_id: int
    row: int
    col: int
    kind: int
    actual_label: int | None
    annotation_id: int | None
    prediction_index: int | None
    score: float | None
    iou: float | None
    prediction_box: tuple[float, float, float, float] | None
    annotation_box: tuple[float, float, float, float] | None


@dataclass(frozen=True)
class Cell:
    """Indices into the run's arrays of one cell's entries (predictions, or missed annotations)."""

    row: int
    col: int
    side: str  # "pred" or "gt"
    indices: np.ndarray
    actual: np.ndarray  # actual label per entry, -1 for none

    def __len__(self) -> int:
        return int(self.indices.size)

    def only_actual(self, actual: int | None) -> Cell:
        if actual is None:
            return self
        keep = self.actual == actual
        return Cell(self.row, self.col, self.side, self.indices[keep], self.actual[keep])

    def splits(self) -> list[tuple[int, int]]:
        """(actual label, count) of the cell's entries, by label index."""
        values, counts = np.unique(self.actual[self.actual >= 0], return_counts=True)
        return [(int(v), int(c)) for v, c in zip(values, counts, strict=True)]


def cell(result: WhatIf, row: int, col: int) -> Cell:
    """The entries of one cell, in the run's order, with vector operations only."""
    data, n = result.data, result.data.num_labels
    gt_labels = data.gt.labels
    if row == n:
        if col >= n:
            empty = np.zeros(0, dtype=np.int64)
            return Cell(row, col, "gt", empty, empty)
        idx = np.flatnonzero((result.gt_pred < 0) & (gt_labels == col))
        return Cell(row, col, "gt", idx, gt_labels[idx])
    sel = np.flatnonzero((data.preds.labels == row) & (result.pred_kind != DROPPED))
    matched = result.pred_gt[sel]
    has_gt = matched >= 0
    actual = np.where(has_gt, gt_labels[np.where(has_gt, matched, 0)] if gt_labels.size else -1, -1)
    kinds = result.pred_kind[sel]
    cols = np.where(kinds == LOC, n + 1, np.where(has_gt, actual, n))
    keep = cols == col
    return Cell(row, col, "pred", sel[keep], actual[keep])


def _box(boxes: np.ndarray, i: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in boxes[i])
    return (x1, y1, x2, y2)


def members(result: WhatIf, entries: Cell, indices: np.ndarray) -> list[Member]:
    """The entries at these positions of the cell (a page), as Instance-like records."""
    data = result.data
    if entries.side == "gt":
        images = data.preds.image_ids[np.searchsorted(data.gt.offsets, indices, side="right") - 1]
        return [
            _member(result, entries, int(image_id), j, None)
            for j, image_id in zip(indices.tolist(), images.tolist(), strict=True)
        ]
    images = data.preds.image_ids[np.searchsorted(data.preds.offsets, indices, side="right") - 1]
    return [
        _member(result, entries, int(image_id), int(result.pred_gt[i]), i)
        for i, image_id in zip(indices.tolist(), images.tolist(), strict=True)
    ]


def _member(result: WhatIf, entries: Cell, image_id: int, g: int, i: int | None) -> Member:
    """Prediction i (None: a missed annotation) with annotation g (-1: none) as a record."""
    preds, gt = result.data.preds, result.data.gt
    annotation = int(gt.annotation_ids[g]) if g >= 0 else None
    return Member(
        key=f"a{annotation}" if i is None else f"p{i}",
        image_id=image_id,
        row=entries.row,
        col=entries.col,
        kind=MISSED if i is None else int(result.pred_kind[i]),
        actual_label=int(gt.labels[g]) if g >= 0 else None,
        annotation_id=annotation,
        prediction_index=i,
        score=None if i is None else float(preds.scores[i]),
        iou=float(result.pred_iou[i]) if i is not None and g >= 0 else None,
        prediction_box=None if i is None else _box(preds.boxes, i),
        annotation_box=_box(gt.boxes, g) if g >= 0 else None,
    )


def members_by_key(result: WhatIf, keys: list[str]) -> list[Member]:
    """Entries named by their keys ("p12", "a34"), in the order given; unknown keys are skipped."""
    data = result.data
    n = data.num_labels
    position = (
        {int(a): j for j, a in enumerate(data.gt.annotation_ids.tolist())}
        if any(k.startswith("a") for k in keys)
        else {}
    )
    found: list[Member] = []
    for key in keys:
        try:
            number = int(key[1:])
        except ValueError:
            continue
        if key.startswith("p") and 0 <= number < data.preds.count:
            if result.pred_kind[number] == DROPPED:
                continue
            row = int(data.preds.labels[number])
            single = cell_of_prediction(result, number)
            found += members(
                result,
                Cell(row, single, "pred", np.array([number]), np.array([-1])),
                np.array([number]),
            )
        elif key.startswith("a") and number in position:
            j = position[number]
            if result.gt_pred[j] >= 0:
                continue
            col = int(data.gt.labels[j])
            found += members(
                result, Cell(n, col, "gt", np.array([j]), np.array([col])), np.array([j])
            )
    return found


def cell_of_prediction(result: WhatIf, i: int) -> int:
    """The matrix column of one kept prediction."""
    n = result.data.num_labels
    g = int(result.pred_gt[i])
    if int(result.pred_kind[i]) == LOC:
        return n + 1
    return int(result.data.gt.labels[g]) if g >= 0 else n


def image_predictions(result: WhatIf, image_id: int) -> list[Member]:
    """The kept predictions of one image at the what-if thresholds, lowest score first."""
    preds = result.data.preds
    positions = np.flatnonzero(preds.image_ids == image_id)
    if positions.size == 0:
        return []
    start, stop = int(preds.offsets[positions[0]]), int(preds.offsets[positions[0] + 1])
    idx = np.arange(start, stop)
    idx = idx[result.pred_kind[idx] != DROPPED]
    idx = idx[np.argsort(preds.scores[idx], kind="stable")]
    return members_by_key(result, [f"p{i}" for i in idx.tolist()])


# ---------------------------------------------------------------- the what-if URL query


def has_whatif(params: Mapping) -> bool:
    """Whether the query asks for a what-if (any wi_ parameter)."""
    return any(str(key).startswith(PREFIX) for key in params)


def label_values(params) -> list[tuple[str, str]]:
    """(label, raw value) from wi_lc=label:value entries and wi_lc.<label> inputs."""
    values: dict[str, str] = {}
    getlist = params.getlist if hasattr(params, "getlist") else (lambda k: [params.get(k, "")])
    for entry in getlist("wi_lc"):  # one label per entry: a label name may hold a comma
        label, sep, value = str(entry).rpartition(":")
        if sep and label.strip():
            values[label.strip()] = value.strip()
    for key in params:
        if str(key).startswith(LABEL_PREFIX):
            values[str(key)[len(LABEL_PREFIX) :]] = str(params.get(key, "")).strip()
    return [(label, value) for label, value in values.items() if value != ""]


def number(value: float) -> str:
    """The shortest text that reads back as the same float ("0.4", not "0.40000000000000002")."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def query_items(thresholds: Thresholds, labels: list[str]) -> list[tuple[str, str]]:
    """The canonical what-if query: wi_base, wi_iou, wi_low, then wi_lc=label:value per label."""
    items = [
        ("wi_base", number(thresholds.base)),
        ("wi_iou", number(thresholds.iou)),
        ("wi_low", number(thresholds.low_overlap)),
    ]
    ordered = [name for name in labels if name in thresholds.per_label]
    ordered += sorted(set(thresholds.per_label) - set(ordered))
    items += [("wi_lc", f"{name}:{number(thresholds.per_label[name])}") for name in ordered]
    return items


def initial_values(
    run: InferenceRun, params: Mapping, labels: list[str], own_map: dict[str, float] | None = None
) -> dict[str, Any]:
    """What the form's inputs show: the query's raw values, else the run's own thresholds."""
    if has_whatif(params):
        own = dict(label_values(params))
        base = params.get("wi_base", "")
        iou, low = params.get("wi_iou", ""), params.get("wi_low", "")
    else:
        saved = run.label_threshold_map() if own_map is None else own_map
        own = {name: number(v) for name, v in saved.items()}
        base = number(run.base_confidence)
        iou, low = number(run.iou_threshold), number(run.low_overlap_threshold)
    return {"base": base, "iou": iou, "low": low, "labels": own}
