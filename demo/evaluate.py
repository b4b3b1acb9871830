"""A small detection evaluator for the demo model: SPEC §4 matching, done by metrics_rs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

import metrics_rs
from demo import LABELS

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Pred:
    """A prediction: label index, score, box x1 y1 x2 y2 in image pixels."""

    label: int
    score: float
    box: Box


@dataclass(frozen=True)
class Truth:
    """An annotation: label index, box x1 y1 x2 y2 in image pixels."""

    label: int
    box: Box


# One image: its predictions and its annotations.
Image = tuple[Sequence[Pred], Sequence[Truth]]


@dataclass
class Tally:
    """Counts over a dataset: matrix cells keyed (pred label|None, actual label|'BG'|'LOC')."""

    cells: Counter = field(default_factory=Counter)
    duplicates: int = 0
    kept: Counter = field(default_factory=Counter)
    actual: Counter = field(default_factory=Counter)

    def true_positives(self) -> int:
        """Sum of the diagonal."""
        return sum(n for (p, a), n in self.cells.items() if p is not None and p == a)

    def scores(self) -> dict[str, float | None]:
        """Micro precision, recall and F1 (SPEC §5, see f1_from_counts)."""
        tp, kept, actual = self.true_positives(), sum(self.kept.values()), sum(self.actual.values())
        return f1_from_counts(tp, kept, actual)

    def add(self, ev: metrics_rs.Evaluation) -> None:
        """Adds the cells, kept predictions, annotations and duplicates of an evaluation."""
        n = ev.num_labels
        for row, col in zip(*np.nonzero(ev.matrix), strict=True):
            actual = int(col) if col < n else ("BG", "LOC")[col - n]
            self.cells[(None if row == n else int(row), actual)] += int(ev.matrix[row, col])
        for counter, counts in ((self.kept, ev.pred_count), (self.actual, ev.gt_count)):
            for k in np.flatnonzero(counts):
                counter[int(k)] += int(counts[k])
        self.duplicates += int(np.count_nonzero(ev.pred_kind == metrics_rs.DUPLICATE))


def as_box(values: Sequence[float]) -> Box:
    """Four numbers as a float box tuple."""
    x1, y1, x2, y2 = (float(v) for v in values)
    return (x1, y1, x2, y2)


def _num_labels(images: Sequence[Image]) -> int:
    """The demo's labels, or more where the boxes use more."""
    labels = [p.label for preds, _ in images for p in preds]
    labels += [t.label for _, truths in images for t in truths]
    return max([len(LABELS), *(label + 1 for label in labels)])


def _offsets(counts: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)


def _evaluate(
    images: Sequence[Image], num_labels: int, conf: float, iou_thr: float, low_overlap: float
) -> metrics_rs.Evaluation:
    """SPEC §4 over the images, in one call: every label kept at `conf`."""
    preds = [p for ps, _ in images for p in ps]
    truths = [t for _, ts in images for t in ts]
    return metrics_rs.evaluate(
        np.array([t.box for t in truths], dtype=np.float64).reshape(-1, 4),
        np.array([t.label for t in truths], dtype=np.int64),
        _offsets([len(ts) for _, ts in images]),
        np.array([p.box for p in preds], dtype=np.float64).reshape(-1, 4),
        np.array([p.label for p in preds], dtype=np.int64),
        np.array([p.score for p in preds], dtype=np.float64),
        _offsets([len(ps) for ps, _ in images]),
        num_labels=num_labels,
        label_thresholds=np.full(num_labels, conf),
        iou_threshold=iou_thr,
        low_overlap_threshold=low_overlap,
    )


def match_image(
    preds: list[Pred],
    truths: list[Truth],
    tally: Tally,
    *,
    conf: float = 0.25,
    iou_thr: float = 0.5,
    low_overlap: float = 0.5,
) -> None:
    """Match one image's predictions to its annotations (SPEC §4) and add to tally."""
    image = [(preds, truths)]
    tally.add(_evaluate(image, _num_labels(image), conf, iou_thr, low_overlap))


def same_label_tp_per_label(
    images: Sequence[Image], *, conf: float = 0.25, iou_thr: float = 0.5
) -> list[int]:
    """True positives per label when a prediction may only take an annotation of its label.

    Each label of each image is matched on its own, with τ = λ = iou_thr: SPEC §4 then
    takes, by score, the free annotation with the highest IoU ≥ iou_thr (ties to the first).
    """
    num_labels = _num_labels(images)
    by_label = [
        ([p for p in preds if p.label == k], [t for t in truths if t.label == k])
        for preds, truths in images
        for k in range(num_labels)
    ]
    return _evaluate(by_label, num_labels, conf, iou_thr, iou_thr).tp.tolist()


def same_label_tp(
    preds: list[Pred], truths: list[Truth], *, conf: float = 0.25, iou_thr: float = 0.5
) -> tuple[int, int, int]:
    """Greedy by score, same label, IoU ≥ iou_thr, each annotation once: (tp, kept, actual)."""
    tp = sum(same_label_tp_per_label([(preds, truths)], conf=conf, iou_thr=iou_thr))
    return tp, sum(p.score >= conf for p in preds), len(truths)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def f1_from_counts(tp: int, kept: int, actual: int) -> dict[str, float | None]:
    """Precision, recall (None for 0/0) and F1 = 2·TP / (2·TP + FP + FN) (SPEC §5).

    F1 is 0 when only one side is empty (nothing kept, or nothing annotated), None when both are.
    """
    return {
        "precision": _ratio(tp, kept),
        "recall": _ratio(tp, actual),
        "f1": _ratio(2 * tp, kept + actual),
    }


def val_report(preds: list[list[Pred]], truths: list[list[Truth]], conf: float = 0.25) -> dict:
    """Same-label F1 (the brief's rule) and SPEC §4 matrix counts at IoU 0.5 / low overlap 0.7."""
    images = list(zip(preds, truths, strict=True))
    tp_per_label = same_label_tp_per_label(images, conf=conf)
    tp = sum(tp_per_label)
    kept = sum(p.score >= conf for ps in preds for p in ps)
    actual = sum(len(ts) for ts in truths)
    tally = Tally()
    tally.add(_evaluate(images, _num_labels(images), conf, 0.5, 0.7))
    per_label = {
        name: f1_from_counts(tp_per_label[k], tally.kept[k], tally.actual[k])
        for k, name in enumerate(LABELS)
    }
    cells: Counter[str] = Counter()
    for (p, a), n in tally.cells.items():
        pname = "{}" if p is None else LABELS[p]
        aname = a if isinstance(a, str) else LABELS[a]
        cells[f"{pname}->{aname}"] = n
    return {
        "same_label": {
            "tp": tp,
            "kept": kept,
            "actual": actual,
            **f1_from_counts(tp, kept, actual),
        },
        "per_label": per_label,
        "spec_iou_0_5_low_0_7": {
            **tally.scores(),
            "duplicates": tally.duplicates,
            "cells": dict(sorted(cells.items())),
        },
    }
