"""A small self-contained detection evaluator for the demo model (SPEC §4 matching)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

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


def as_box(values: Sequence[float]) -> Box:
    """Four numbers as a float box tuple."""
    x1, y1, x2, y2 = (float(v) for v in values)
    return (x1, y1, x2, y2)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two x1 y1 x2 y2 boxes (continuous coordinates)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(iw, 0.0) * max(ih, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


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
    kept = sorted((p for p in preds if p.score >= conf), key=lambda p: -p.score)
    taken = [False] * len(truths)
    for t in truths:
        tally.actual[t.label] += 1
    for p in kept:
        tally.kept[p.label] += 1
        overlaps = [iou(p.box, t.box) for t in truths]
        choice = _choose(p, truths, overlaps, taken, iou_thr, low_overlap)
        if choice is None:
            dup = any(taken[j] and o >= iou_thr for j, o in enumerate(overlaps))
            tally.duplicates += dup
            tally.cells[(p.label, "BG")] += 1
            continue
        taken[choice] = True
        column = truths[choice].label if overlaps[choice] >= low_overlap else "LOC"
        tally.cells[(p.label, column)] += 1
    for j, t in enumerate(truths):
        if not taken[j]:
            tally.cells[(None, t.label)] += 1


def _choose(
    p: Pred,
    truths: list[Truth],
    overlaps: list[float],
    taken: list[bool],
    iou_thr: float,
    low_overlap: float,
) -> int | None:
    """Index of the free annotation this prediction takes, by SPEC §4 preference; or None."""
    free = [j for j in range(len(truths)) if not taken[j] and overlaps[j] >= iou_thr]
    tiers = (
        [j for j in free if truths[j].label == p.label and overlaps[j] >= low_overlap],
        [j for j in free if overlaps[j] >= low_overlap],
        free,
    )
    for tier in tiers:
        if tier:
            return max(tier, key=lambda j: (overlaps[j], -j))
    return None


def same_label_tp(
    preds: list[Pred], truths: list[Truth], *, conf: float = 0.25, iou_thr: float = 0.5
) -> tuple[int, int, int]:
    """Greedy by score, same label, IoU ≥ iou_thr, each annotation once: (tp, kept, actual)."""
    kept = sorted((p for p in preds if p.score >= conf), key=lambda p: -p.score)
    taken = [False] * len(truths)
    tp = 0
    for p in kept:
        best, best_iou = None, 0.0
        for j, t in enumerate(truths):
            o = iou(p.box, t.box)
            if not taken[j] and t.label == p.label and o >= iou_thr and o > best_iou:
                best, best_iou = j, o
        if best is not None:
            taken[best] = True
            tp += 1
    return tp, len(kept), len(truths)


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
    tp = kept = actual = 0
    tally = Tally()
    for p, t in zip(preds, truths, strict=True):
        a, b, c = same_label_tp(p, t, conf=conf)
        tp, kept, actual = tp + a, kept + b, actual + c
        match_image(p, t, tally, conf=conf, iou_thr=0.5, low_overlap=0.7)
    per_label = {}
    for k, name in enumerate(LABELS):
        tp_k = sum(
            same_label_tp(
                [q for q in p if q.label == k], [u for u in t if u.label == k], conf=conf
            )[0]
            for p, t in zip(preds, truths, strict=True)
        )
        per_label[name] = f1_from_counts(tp_k, tally.kept[k], tally.actual[k])
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
