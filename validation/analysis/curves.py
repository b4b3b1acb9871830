"""Per-label precision–recall and F1-versus-confidence curves, recommended confidences, and the
deployment config built from them. Everything comes from ``metrics_rs.sweep`` (through
``validation.analysis.evaluation``); nothing is written. The charts' SVG geometry is drawn by
``validation.presenters.charts``.

A sweep applies one confidence to every label at a time, so a label's curve is read on its own;
with different confidences per label its figures can move slightly, because predictions of other
labels compete for the same annotations. What-if (same arrays, per-label thresholds) shows the
exact result.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from validation.analysis import evaluation
from validation.analysis.evaluation import Thresholds
from validation.analysis.whatif import RunData, run_data
from validation.models import InferenceRun

GRID = np.round(np.linspace(0.0, 1.0, 101), 2)
DEFAULT_MIN_PRECISION = 0.9
BASES = ("f1", "precision")


def _defined(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


# ---------------------------------------------------------------- curves


@dataclass(frozen=True)
class CurvePoint:
    confidence: float
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass(frozen=True)
class LabelCurve:
    label: str
    index: int
    points: list[CurvePoint]  # ascending confidence
    operating: CurvePoint | None  # at the run's threshold for this label
    annotations: int
    ap50: float | None
    ap50_95: float | None


def confidence_grid(operating: Sequence[float]) -> np.ndarray:
    """The 101-point grid 0.00 … 1.00 and the run's own thresholds, ascending, no repeats."""
    return np.unique(np.concatenate([GRID, np.asarray(operating, dtype=np.float64)]))


def label_curves(
    sweep: Any, labels: list[str], operating: Sequence[float], per_label: dict[str, dict]
) -> list[LabelCurve]:
    """One curve per label from a sweep over (at least) the run's own thresholds."""
    thresholds = np.asarray(sweep.thresholds, dtype=np.float64)
    order = np.argsort(thresholds, kind="stable")
    precision, recall, f1 = (np.asarray(a) for a in (sweep.precision, sweep.recall, sweep.f1))
    gt_count = np.asarray(sweep.gt_count)
    curves = []
    for k, name in enumerate(labels):
        points = [
            CurvePoint(
                float(thresholds[j]),
                _defined(precision[k, j]),
                _defined(recall[k, j]),
                _defined(f1[k, j]),
            )
            for j in order.tolist()
        ]
        at = {p.confidence: p for p in points}
        metrics = per_label.get(name) or {}
        curves.append(
            LabelCurve(
                label=name,
                index=k,
                points=points,
                operating=at.get(float(operating[k])),
                annotations=int(gt_count[k]),
                ap50=metrics.get("ap50"),
                ap50_95=metrics.get("ap50_95"),
            )
        )
    return curves


# ---------------------------------------------------------------- recommended confidences


def nice_confidence(exact: float, below: float) -> float:
    """The shortest decimal d with below < d <= exact: it keeps exactly the same predictions."""
    # Never more than 0.01 under the exact score: on new images a lower value keeps more.
    below = max(below, exact - 0.01)
    for digits in range(1, 8):
        scale = 10**digits
        d = math.floor(exact * scale) / scale
        if d > exact:  # floating-point noise in the product
            d = (math.floor(exact * scale) - 1) / scale
        if below < d <= exact and d >= 0:
            return d
    return exact


def next_lower_scores(scores: np.ndarray, labels: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per label k: the highest score of that label strictly below targets[k] (-inf if none)."""
    out = np.full(targets.shape, -np.inf)
    for k, target in enumerate(targets.tolist()):
        if math.isnan(target):
            continue
        own = scores[labels == k]
        lower = own[own < target]
        if lower.size:
            out[k] = float(lower.max())
    return out


@dataclass(frozen=True)
class Recommendation:
    label: str
    current: float
    f1_confidence: float | None
    f1_point: CurvePoint | None
    precision_confidence: float | None  # None: the precision asked for is not reachable
    precision_point: CurvePoint | None


def _nice(
    preds_scores: np.ndarray, preds_labels: np.ndarray, exact: np.ndarray
) -> list[float | None]:
    below = next_lower_scores(preds_scores.astype(np.float64), preds_labels, exact)
    return [
        None if math.isnan(t) else nice_confidence(float(t), float(b))
        for t, b in zip(exact.tolist(), below.tolist(), strict=True)
    ]


def recommend(
    data: RunData, thresholds: Thresholds, min_precision: float, sweep: Any
) -> list[Recommendation]:
    """Per label: the confidence with the best F1 and the lowest one reaching min_precision."""
    best_t, _best_f1 = sweep.best_f1()
    precise_t = sweep.threshold_for_precision(min_precision)
    scores, labels = data.preds.scores, data.preds.labels
    f1_conf = _nice(scores, labels, np.asarray(best_t, dtype=np.float64))
    precision_conf = _nice(scores, labels, np.asarray(precise_t, dtype=np.float64))
    wanted = [v for v in f1_conf + precision_conf if v is not None]
    points = _points_at(data, thresholds, wanted)
    current = thresholds.vector(data.labels)
    return [
        Recommendation(
            label=name,
            current=float(current[k]),
            f1_confidence=f1_conf[k],
            f1_point=_point(points, k, f1_conf[k]),
            precision_confidence=precision_conf[k],
            precision_point=_point(points, k, precision_conf[k]),
        )
        for k, name in enumerate(data.labels)
    ]


def _point(
    points: dict[tuple[int, float], CurvePoint], k: int, confidence: float | None
) -> CurvePoint | None:
    return None if confidence is None else points.get((k, confidence))


def _points_at(
    data: RunData, thresholds: Thresholds, confidences: list[float]
) -> dict[tuple[int, float], CurvePoint]:
    """Precision, recall and F1 of every label at each of these confidences (one sweep)."""
    if not confidences:
        return {}
    grid = np.unique(np.asarray(confidences, dtype=np.float64))
    sweep = evaluation.sweep_predictions(
        data.preds, data.gt, data.num_labels, thresholds.iou, thresholds.low_overlap, grid
    )
    t = np.asarray(sweep.thresholds)
    p, r, f = (np.asarray(a) for a in (sweep.precision, sweep.recall, sweep.f1))
    return {
        (k, float(t[j])): CurvePoint(
            float(t[j]), _defined(p[k, j]), _defined(r[k, j]), _defined(f[k, j])
        )
        for k in range(data.num_labels)
        for j in range(t.size)
    }


def proposal(
    recommendations: list[Recommendation], basis: str, run_base: float
) -> tuple[float, dict[str, float]]:
    """(base, label confidences) for a new run: recommended where there is one, else current."""
    values = {}
    for rec in recommendations:
        chosen = rec.f1_confidence if basis == "f1" else rec.precision_confidence
        values[rec.label] = rec.current if chosen is None else chosen
    base = min([run_base, *values.values()])
    return base, {label: v for label, v in values.items() if v != base}


# ---------------------------------------------------------------- for a run


def run_thresholds(run: InferenceRun) -> Thresholds:
    return Thresholds.of_run(run)


def run_sweep(run: InferenceRun, data: RunData | None = None) -> tuple[RunData, Any, np.ndarray]:
    """The run's sweep over the grid and its own thresholds, cached with its arrays."""
    data = data or run_data(run)
    thresholds = run_thresholds(run)
    operating = thresholds.vector(data.labels)
    key = ("sweep", thresholds.iou, thresholds.low_overlap, tuple(operating.tolist()))
    sweep = data.extra(
        key,
        lambda: evaluation.sweep_predictions(
            data.preds,
            data.gt,
            data.num_labels,
            thresholds.iou,
            thresholds.low_overlap,
            confidence_grid(operating.tolist()),
        ),
    )
    return data, sweep, operating


def run_recommendations(run: InferenceRun, min_precision: float) -> list[Recommendation]:
    """The run's recommended confidences per label, from its cached sweep."""
    data, sweep, _operating = run_sweep(run)
    return recommend(data, Thresholds.of_run(run), min_precision, sweep)


def run_proposal(
    run: InferenceRun, basis: str, min_precision: float
) -> tuple[float, dict[str, float]]:
    """(base, label confidences) that this basis recommends for a new run of the run's model."""
    return proposal(run_recommendations(run, min_precision), basis, run.base_confidence)


def deployment_config(
    run: InferenceRun,
    base: float,
    confidences: dict[str, float],
    basis: str,
    min_precision: float | None,
) -> dict[str, Any]:
    """What a line needs to run the model as validated: labels, confidences, IoU, image size."""
    labels = list(run.model.label_names)
    config: dict[str, Any] = {
        "model": run.model.name,
        "model_id": run.model_id,
        "labels": labels,
        "confidences": {name: confidences.get(name, base) for name in labels},
        "iou_threshold": run.iou_threshold,
        "image_size": run.image_size,
        "base_confidence": base,
        "created_from_run": run.pk,
        "basis": basis,
    }
    if basis == "precision":
        config["min_precision"] = min_precision
    return config


def wizard_source(confidences: dict[str, float]) -> str:
    """The label confidences as the wizard's source tab holds them (JSON text)."""
    return json.dumps(confidences, ensure_ascii=False, indent=2) if confidences else ""
