"""The demo's evaluator: SPEC §4 cells and the same-label F1, matched by metrics_rs."""

from __future__ import annotations

import math

import pytest

from demo.evaluate import (
    Pred,
    Tally,
    Truth,
    f1_from_counts,
    match_image,
    same_label_tp,
    val_report,
)


def cells_at(pred_box, truth_box, threshold: float) -> dict:
    """The cells of one prediction and one annotation of the same label, τ = λ = threshold."""
    tally = Tally()
    match_image(
        [Pred(0, 0.9, pred_box)],
        [Truth(0, truth_box)],
        tally,
        iou_thr=threshold,
        low_overlap=threshold,
    )
    return dict(tally.cells)


def test_iou_of_half_overlapping_boxes():
    # IoU 1/3: matched at a threshold of exactly 1/3, not at the next float above it.
    half = ((0, 0, 2, 2), (1, 0, 3, 2))
    assert cells_at(*half, 1 / 3) == {(0, 0): 1}
    assert cells_at(*half, math.nextafter(1 / 3, 1)) == {(0, "BG"): 1, (None, 0): 1}
    # IoU 0: not matched at the smallest positive threshold.
    smallest = math.ulp(0.0)
    assert cells_at((0, 0, 1, 1), (2, 2, 3, 3), smallest) == {(0, "BG"): 1, (None, 0): 1}
    assert cells_at((0, 0, 0, 0), (0, 0, 0, 0), smallest) == {(0, "BG"): 1, (None, 0): 1}


def test_cells_cover_every_kind_of_outcome():
    truths = [
        Truth(0, (0, 0, 10, 10)),
        Truth(1, (20, 0, 30, 10)),
        Truth(2, (40, 0, 50, 10)),
        Truth(3, (60, 0, 70, 10)),
    ]
    preds = [
        Pred(0, 0.9, (0, 0, 10, 10)),  # true positive
        Pred(0, 0.8, (0, 0, 10, 9)),  # duplicate of the first
        Pred(2, 0.7, (20, 0, 30, 10)),  # confusion: a dent called a stain
        Pred(2, 0.6, (40, 0, 50, 6)),  # IoU 0.6: poorly localised
        Pred(1, 0.5, (90, 0, 99, 9)),  # background
        Pred(3, 0.1, (60, 0, 70, 10)),  # below the confidence: dropped, so crack is missed
    ]
    tally = Tally()
    match_image(preds, truths, tally, conf=0.25, iou_thr=0.5, low_overlap=0.7)
    assert dict(tally.cells) == {
        (0, 0): 1,
        (0, "BG"): 1,
        (2, 1): 1,
        (2, "LOC"): 1,
        (1, "BG"): 1,
        (None, 3): 1,
    }
    assert tally.duplicates == 1
    assert tally.scores() == pytest.approx({"precision": 1 / 5, "recall": 1 / 4, "f1": 2 / 9})


def test_same_label_matching_takes_each_annotation_once():
    truths = [Truth(0, (0, 0, 10, 10)), Truth(1, (20, 0, 30, 10))]
    preds = [
        Pred(0, 0.9, (0, 0, 10, 10)),
        Pred(0, 0.8, (0, 0, 10, 10)),
        Pred(0, 0.7, (20, 0, 30, 10)),
        Pred(1, 0.2, (20, 0, 30, 10)),
    ]
    assert same_label_tp(preds, truths, conf=0.25) == (1, 3, 2)
    assert f1_from_counts(1, 3, 2) == pytest.approx({"precision": 1 / 3, "recall": 0.5, "f1": 0.4})


def test_nothing_predicted_and_nothing_annotated_is_undefined():
    assert f1_from_counts(0, 0, 0) == {"precision": None, "recall": None, "f1": None}


def test_annotations_but_nothing_kept_is_f1_zero():
    assert f1_from_counts(0, 0, 4) == {"precision": None, "recall": 0.0, "f1": 0.0}


def test_predictions_but_nothing_annotated_is_f1_zero():
    assert f1_from_counts(0, 3, 0) == {"precision": 0.0, "recall": None, "f1": 0.0}


def test_nothing_kept_over_annotated_images_is_f1_zero_overall():
    tally = Tally()
    match_image([Pred(0, 0.1, (0, 0, 10, 10))], [Truth(0, (0, 0, 10, 10))], tally, conf=0.25)
    assert tally.scores() == {"precision": None, "recall": 0.0, "f1": 0.0}


def test_the_report_counts_all_images_as_image_by_image():
    images = [
        ([Pred(0, 0.9, (0, 0, 10, 10)), Pred(1, 0.8, (0, 0, 10, 10))], [Truth(0, (0, 0, 10, 10))]),
        ([], [Truth(1, (0, 0, 5, 5))]),
        ([Pred(1, 0.6, (0, 0, 5, 4))], [Truth(1, (0, 0, 5, 5)), Truth(2, (9, 9, 12, 12))]),
    ]
    tally = Tally()
    for preds, truths in images:
        match_image(preds, truths, tally, iou_thr=0.5, low_overlap=0.7)
    report = val_report([p for p, _ in images], [t for _, t in images])
    spec = report["spec_iou_0_5_low_0_7"]
    assert spec["cells"] == {
        "dent->BG": 1,
        "dent->dent": 1,
        "scratch->scratch": 1,
        "{}->dent": 1,
        "{}->stain": 1,
    }
    assert spec["duplicates"] == tally.duplicates == 1
    assert {k: spec[k] for k in ("precision", "recall", "f1")} == tally.scores()
    same = report["same_label"]
    per_image = [same_label_tp(preds, truths) for preds, truths in images]
    assert (same["tp"], same["kept"], same["actual"]) == (2, 3, 4)
    assert [sum(counts) for counts in zip(*per_image, strict=True)] == [2, 3, 4]
