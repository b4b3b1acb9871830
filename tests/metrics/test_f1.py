"""F1 at the edges (SPEC §5): 2·TP / (2·TP + FP + FN), 0 unless the label has nothing at all."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings

import metrics_rs
from validation.analysis.coco import metrics_summary
from validation.analysis.evaluation import macro_averages

from .strategies import Run, runs, thresholds

A = (0.0, 0.0, 10.0, 10.0)
B = (20.0, 0.0, 30.0, 10.0)
FAR = (60.0, 60.0, 70.0, 70.0)


def evaluate(run: Run, labels: list[float] | None = None):
    return metrics_rs.evaluate(
        **run.arrays(),
        num_labels=run.num_labels,
        label_thresholds=labels or [0.0] * run.num_labels,
        iou_threshold=0.5,
        low_overlap_threshold=0.5,
    )


def test_a_label_with_annotations_but_no_prediction_has_f1_zero():
    ev = evaluate(Run([([(A, 0), (B, 1)], [(A, 0, 0.9)])], 2))
    assert math.isnan(ev.precision[1]) and ev.recall[1] == 0.0
    assert ev.f1[1] == 0.0


def test_a_label_with_predictions_but_no_annotation_has_f1_zero():
    ev = evaluate(Run([([(A, 0)], [(A, 0, 0.9), (FAR, 1, 0.8)])], 2))
    assert ev.precision[1] == 0.0 and math.isnan(ev.recall[1])
    assert ev.f1[1] == 0.0


def test_a_label_with_neither_is_undefined_and_left_out_of_the_macro_average():
    ev = evaluate(Run([([(A, 0)], [(A, 0, 0.9)])], 2))
    assert math.isnan(ev.f1[1])
    summary = metrics_summary(ev, np.full((2, 10), math.nan), ["scratch", "dent"])
    assert summary["per_label"]["dent"]["f1"] is None
    assert macro_averages(summary["per_label"])["f1"] == 1.0


def test_nothing_predicted_over_annotated_images_has_f1_zero_overall():
    ev = evaluate(Run([([(A, 0)], []), ([(B, 1)], [])], 2))
    assert math.isnan(ev.micro_precision) and ev.micro_recall == 0.0
    assert ev.micro_f1 == 0.0
    assert ev.f1.tolist() == [0.0, 0.0]


def test_nothing_kept_over_annotated_images_has_f1_zero_overall():
    ev = evaluate(Run([([(A, 0)], [(A, 0, 0.3)])], 1), labels=[0.5])
    assert ev.micro_f1 == 0.0 and ev.f1.tolist() == [0.0]


def test_nothing_at_all_is_undefined_overall():
    ev = evaluate(Run([([], [])], 1))
    assert math.isnan(ev.micro_f1) and math.isnan(ev.f1[0])


def test_macro_f1_counts_a_never_predicted_label_and_stays_below_micro():
    # scratch: 10 annotations, 9 found, 1 false alarm; dent: 5, 4 found; stain: 3, never predicted.
    boxes = [(float(20 * i), 0.0, float(20 * i + 10), 10.0) for i in range(18)]
    gts = [(boxes[i], 0) for i in range(10)] + [(boxes[10 + i], 1) for i in range(5)]
    gts += [(boxes[15 + i], 2) for i in range(3)]
    preds = [(boxes[i], 0, 0.9) for i in range(9)] + [(FAR, 0, 0.8)]
    preds += [(boxes[10 + i], 1, 0.9) for i in range(4)]
    ev = evaluate(Run([(gts, preds)], 3))
    summary = metrics_summary(ev, np.full((3, 10), math.nan), ["scratch", "dent", "stain"])
    macro, micro = macro_averages(summary["per_label"]), summary["overall"]
    assert summary["per_label"]["stain"]["f1"] == 0.0
    assert macro["f1"] == (18 / 20 + 8 / 9 + 0.0) / 3
    assert micro["f1"] == 26 / 32
    assert macro["f1"] <= micro["f1"]
    # Precision of stain is 0/0: left out of its macro average.
    assert macro["precision"] == (9 / 10 + 4 / 4) / 2


@settings(max_examples=100, deadline=None)
@given(data=runs().flatmap(lambda run: thresholds(run.num_labels).map(lambda t: (run, t))))
def test_f1_equals_2pr_over_p_plus_r_wherever_both_are_defined(data):
    run, (labels, tau, lam) = data
    ev = metrics_rs.evaluate(
        **run.arrays(),
        num_labels=run.num_labels,
        label_thresholds=labels,
        iou_threshold=tau,
        low_overlap_threshold=lam,
    )
    pairs = [*zip(ev.precision, ev.recall, ev.f1, strict=True)]
    pairs.append((ev.micro_precision, ev.micro_recall, ev.micro_f1))
    for p, r, f in pairs:
        if math.isnan(p) and math.isnan(r):
            assert math.isnan(f)
        elif math.isnan(p) or math.isnan(r) or p + r == 0:
            assert f == 0.0
        else:
            assert math.isclose(f, 2 * p * r / (p + r), rel_tol=1e-12)


def test_sweep_f1_is_zero_for_a_label_never_predicted_and_after_the_last_score():
    run = Run([([(A, 0), (B, 1)], [(A, 0, 0.6), (FAR, 2, 0.4)])], 4)
    sw = metrics_rs.sweep(
        **run.arrays(),
        num_labels=4,
        iou_threshold=0.5,
        low_overlap_threshold=0.5,
        thresholds=np.array([0.3, 0.5, 0.7]),
    )
    assert sw.f1[0].tolist() == [1.0, 1.0, 0.0]  # annotated; nothing kept at 0.7
    assert sw.f1[1].tolist() == [0.0, 0.0, 0.0]  # annotated, never predicted
    assert sw.f1[2, 0] == 0.0 and np.isnan(sw.f1[2, 1:]).all()  # no annotation: 0, then neither
    assert np.isnan(sw.f1[3]).all()  # neither
    assert sw.micro_f1.tolist() == [2 / 4, 2 / 3, 0.0]
