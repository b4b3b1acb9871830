"""Curves and recommended confidences, from metrics_rs.sweep, on hand-made and random runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.validation.whatif_world import project_with_validation_task, random_run
from validation.analysis import curves, evaluation, whatif
from validation.analysis.evaluation import GroundTruth, Thresholds
from validation.analysis.predictions import StoredPredictions
from validation.presenters import charts

A = (0.0, 0.0, 10.0, 10.0)
B = (20.0, 0.0, 30.0, 10.0)
C = (40.0, 0.0, 50.0, 10.0)
FAR = (60.0, 60.0, 70.0, 70.0)


def hand_made(images: list[tuple[list, list]], labels: list[str]) -> whatif.RunData:
    """images: [(annotations [(box, label)], predictions [(box, label, score)])]."""
    gt_boxes, gt_labels, gt_offsets = [], [], [0]
    boxes, pred_labels, scores, offsets = [], [], [], [0]
    for image_annotations, image_predictions in images:
        for box, label in image_annotations:
            gt_boxes.append(box)
            gt_labels.append(label)
        for box, label, score in image_predictions:
            boxes.append(box)
            pred_labels.append(label)
            scores.append(score)
        gt_offsets.append(len(gt_labels))
        offsets.append(len(scores))
    preds = StoredPredictions(
        image_ids=np.arange(1, len(images) + 1, dtype=np.int64),
        offsets=np.array(offsets, dtype=np.int64),
        boxes=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        scores=np.array(scores, dtype=np.float32),
        labels=np.array(pred_labels, dtype=np.int32),
        skipped_ids=np.zeros(0, dtype=np.int64),
    )
    gt = GroundTruth(
        boxes=np.array(gt_boxes, dtype=np.float64).reshape(-1, 4),
        labels=np.array(gt_labels, dtype=np.int64),
        offsets=np.array(gt_offsets, dtype=np.int64),
        annotation_ids=np.arange(1, len(gt_labels) + 1, dtype=np.int64),
    )
    ap = evaluation.average_precision(preds, gt, len(labels))
    return whatif.RunData(preds, gt, labels, ap)


def recommend(data: whatif.RunData, min_precision: float, base: float = 0.0):
    thresholds = Thresholds(base, {}, 0.5, 0.5)
    sweep = evaluation.sweep_predictions(data.preds, data.gt, data.num_labels, 0.5, 0.5)
    return curves.recommend(data, thresholds, min_precision, sweep)


@pytest.fixture
def tie() -> whatif.RunData:
    # "scratch", two annotations: TP 0.9, FP 0.8, FP 0.7, TP 0.6, FP 0.55.
    #   F1: 0.667 at 0.9, 0.5 at 0.8, 0.4 at 0.7, 0.667 at 0.6, 0.571 at 0.55 (a tie: 0.9 wins).
    #   Precision: 1 at 0.9, 0.5 at 0.8, 0.333 at 0.7, 0.5 at 0.6, 0.4 at 0.55.
    # "dent": one annotation, only a false alarm (0.7): precision is never above 0.
    # "crack": annotations, no prediction at all.
    return hand_made(
        [
            (
                [(A, 0), (B, 0), (C, 1)],
                [
                    (A, 0, 0.9),
                    (FAR, 0, 0.8),
                    (FAR, 0, 0.7),
                    (B, 0, 0.6),
                    (FAR, 0, 0.55),
                    (FAR, 1, 0.7),
                ],
            ),
            ([(A, 2)], []),
        ],
        ["scratch", "dent", "crack"],
    )


def test_best_f1_tie_goes_to_the_higher_confidence(tie):
    scratch = recommend(tie, 0.9)[0]
    # 0.9 as float32 is 0.89999998; the next lower score is 0.8: 0.89 keeps exactly the same.
    assert scratch.f1_confidence == 0.89
    assert scratch.f1_point.f1 == pytest.approx(2 / 3)
    assert (scratch.f1_point.precision, scratch.f1_point.recall) == (1.0, 0.5)


@pytest.mark.parametrize(
    ("min_precision", "confidence", "precision"),
    [
        (1.0, 0.89, 1.0),
        (0.9, 0.89, 1.0),
        (0.5, 0.6, 0.5),
        (0.41, 0.6, 0.5),
        (0.4, 0.55, 0.4),
        (0.0, 0.55, 0.4),
    ],
)
def test_min_precision_gives_the_lowest_confidence_reaching_it(
    tie, min_precision, confidence, precision
):
    scratch = recommend(tie, min_precision)[0]
    assert scratch.precision_confidence == confidence
    assert scratch.precision_point.precision == pytest.approx(precision)


def test_unreachable_precision_and_labels_without_a_curve(tie):
    recs = recommend(tie, 0.01)
    dent, crack = recs[1], recs[2]
    assert dent.precision_confidence is None  # its only prediction is a false alarm
    assert dent.f1_confidence == 0.69 and dent.f1_point.f1 == 0.0
    assert crack.f1_confidence is None and crack.precision_confidence is None
    assert recommend(tie, 0.0)[1].precision_confidence == 0.69  # precision 0 reaches 0


def test_a_label_never_predicted_has_an_f1_curve_of_zeros_and_no_f1_recommendation(tie):
    sweep = evaluation.sweep_predictions(tie.preds, tie.gt, 3, 0.5, 0.5)
    crack = curves.label_curves(sweep, tie.labels, [0.25] * 3, {})[2]
    assert {p.f1 for p in crack.points} == {0.0}
    assert {p.precision for p in crack.points} == {None}
    chart = charts.f1_chart(crack)
    assert chart is not None and charts.pr_chart(crack) is None
    assert {marker.y for marker in chart.markers} == {charts.CHART_HEIGHT - charts.PAD_BOTTOM}
    assert recommend(tie, 0.5)[2].f1_confidence is None


def test_recommended_confidence_keeps_the_same_predictions_as_the_exact_score(tie):
    sweep = evaluation.sweep_predictions(tie.preds, tie.gt, 3, 0.5, 0.5)
    for min_precision in (0.0, 0.4, 0.5, 0.9):
        exact = np.asarray(sweep.threshold_for_precision(min_precision))
        nice = [r.precision_confidence for r in recommend(tie, min_precision)]
        for k, (e, n) in enumerate(zip(exact.tolist(), nice, strict=True)):
            if n is None:
                assert math.isnan(e)
                continue
            own = tie.preds.scores[tie.preds.labels == k].astype(np.float64)
            assert ((own >= e) == (own >= n)).all()


@pytest.mark.parametrize(
    ("exact", "below", "expected"),
    [
        (0.7300000190734863, 0.71, 0.73),
        (0.8999999761581421, 0.800000011920929, 0.89),
        (0.5, 0.1, 0.5),
        (0.123456, 0.1234, 0.12345),
        (0.123456, -math.inf, 0.12),
        (0.05, -math.inf, 0.05),
        (0.3, 0.29999, 0.3),
    ],
)
def test_nice_confidence_is_the_shortest_decimal_keeping_the_same_set(exact, below, expected):
    value = curves.nice_confidence(exact, below)
    assert value == expected
    assert below < value <= exact and exact - value < 0.01


def test_proposal_uses_recommendations_and_keeps_the_rest(tie):
    recs = recommend(tie, 0.9, base=0.25)
    base, own = curves.proposal(recs, "f1", run_base=0.25)
    assert base == 0.25
    assert own == {"scratch": 0.89, "dent": 0.69}  # crack has none: keeps the base
    base, own = curves.proposal(recommend(tie, 0.45, base=0.3), "precision", run_base=0.3)
    assert base == 0.3 and own == {"scratch": 0.6}  # dent: not reachable, keeps 0.3


def test_proposal_lowers_the_base_below_the_lowest_recommendation():
    data = hand_made([([(A, 0)], [(A, 0, 0.1), (FAR, 0, 0.05)])], ["scratch"])
    base, own = curves.proposal(recommend(data, 0.9, base=0.25), "f1", run_base=0.25)
    assert base == 0.1 and own == {}  # 0.1 as float32 is 0.10000000149: 0.1 keeps it


# ---------------------------------------------------------------- curves of a random run


@pytest.fixture
def run(world):
    whatif.clear_cache()
    project = project_with_validation_task([world.owner])
    return random_run(project, world.model, world.owner, images=20, seed=5)


@pytest.mark.django_db
def test_curves_have_monotone_recall_and_the_operating_point(run):
    data, sweep, operating = curves.run_sweep(run)
    label_curves = curves.label_curves(sweep, data.labels, operating.tolist(), run.per_label)
    assert [c.label for c in label_curves] == run.labels
    for curve in label_curves:
        confidences = [p.confidence for p in curve.points]
        assert confidences == sorted(confidences) and len(confidences) >= 101
        recalls = [p.recall for p in curve.points if p.recall is not None]
        assert all(a >= b for a, b in zip(recalls, recalls[1:], strict=False))
        assert curve.operating is not None and curve.operating.confidence == 0.25
        assert curve.ap50 == run.per_label[curve.label]["ap50"]


@pytest.mark.django_db
def test_a_curve_point_equals_evaluate_with_every_label_at_that_confidence(run):
    data, sweep, operating = curves.run_sweep(run)
    label_curves = curves.label_curves(sweep, data.labels, operating.tolist(), run.per_label)
    result = whatif.evaluate(run, Thresholds(0.4, {}, run.iou_threshold, run.low_overlap_threshold))
    for curve in label_curves:
        point = next(p for p in curve.points if p.confidence == 0.4)
        assert point.precision == result.per_label[curve.label]["precision"]
        assert point.recall == result.per_label[curve.label]["recall"]


@pytest.mark.django_db
def test_charts_stay_inside_their_frame(run):
    data, sweep, operating = curves.run_sweep(run)
    for curve in curves.label_curves(sweep, data.labels, operating.tolist(), run.per_label):
        pr_defined = any(p.precision is not None and p.recall is not None for p in curve.points)
        f1_defined = any(p.f1 is not None for p in curve.points)
        for chart, defined in (
            (charts.pr_chart(curve), pr_defined),
            (charts.f1_chart(curve), f1_defined),
        ):
            if chart is None:
                assert not defined
                continue
            assert chart.path.startswith("M")
            for marker in [*chart.markers, *([chart.operating] if chart.operating else [])]:
                assert charts.PAD_LEFT <= marker.x <= chart.width - charts.PAD_RIGHT
                assert charts.PAD_TOP <= marker.y <= chart.height - charts.PAD_BOTTOM
            assert len(chart.markers) <= 21


@pytest.mark.django_db
def test_deployment_config_has_what_a_line_needs(run):
    config = curves.deployment_config(run, 0.2, {"dent": 0.5}, "precision", 0.9)
    assert config == {
        "model": run.model.name,
        "model_id": run.model_id,
        "labels": ["scratch", "dent", "划痕"],
        "confidences": {"scratch": 0.2, "dent": 0.5, "划痕": 0.2},
        "iou_threshold": run.iou_threshold,
        "image_size": run.image_size,
        "base_confidence": 0.2,
        "created_from_run": run.pk,
        "basis": "precision",
        "min_precision": 0.9,
    }
