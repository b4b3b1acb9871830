"""Bad input raises ValueError naming the argument and the index; nothing panics."""

from __future__ import annotations

import re

import numpy as np
import pytest

import metrics_rs


def arrays() -> dict:
    """Two images: 2 annotations, 3 predictions, labels in range(2)."""
    return {
        "gt_boxes": np.array([[0, 0, 10, 10], [5, 5, 9, 9]], dtype=np.float64),
        "gt_labels": np.array([0, 1]),
        "gt_offsets": np.array([0, 2, 2]),
        "pred_boxes": np.array([[0, 0, 10, 10], [1, 1, 2, 2], [3, 3, 4, 4]], dtype=np.float32),
        "pred_labels": np.array([0, 1, 1], dtype=np.int32),
        "pred_scores": np.array([0.9, 0.5, 0.1]),
        "pred_offsets": np.array([0, 1, 3], dtype=np.int32),
    }


OPTIONS = {
    "num_labels": 2,
    "label_thresholds": np.array([0.25, 0.5]),
    "iou_threshold": 0.5,
    "low_overlap_threshold": 0.5,
}


def evaluate(**changes):
    args = arrays()
    options = dict(OPTIONS)
    for key, value in changes.items():
        (args if key in args else options)[key] = value
    return metrics_rs.evaluate(**args, **options)


def test_valid_input_is_accepted():
    ev = evaluate()
    assert ev.matrix.shape == (3, 4)


CASES = [
    ({"gt_boxes": np.zeros((2, 5))}, "gt_boxes: expected shape (N, 4), got (2, 5)"),
    ({"gt_boxes": np.zeros(8)}, "gt_boxes: expected shape (N, 4), got shape (8,)"),
    ({"pred_boxes": "boxes"}, "pred_boxes: expected float32 or float64 values, got dtype <U5"),
    ({"gt_labels": np.array([0, 1, 1])}, "gt_labels: expected 2 values (one per rows of gt_boxes)"),
    ({"pred_labels": np.array([0.0, 1.0, 1.0])}, "pred_labels: expected int32 or int64 values"),
    ({"pred_scores": np.array([0.9, 0.5])}, "pred_scores: expected 3 values"),
    ({"pred_scores": np.ones((3, 1))}, "pred_scores: expected a 1-D array, got shape (3, 1)"),
    ({"gt_offsets": np.array([1, 2, 2])}, "gt_offsets[0]: expected 0, got 1"),
    ({"gt_offsets": np.array([0, 2, 1])}, "gt_offsets[2]: 1 is less than gt_offsets[1] = 2"),
    ({"pred_offsets": np.array([0, 1, 2])}, "pred_offsets[2]: expected 3 (the number of rows"),
    ({"pred_offsets": np.array([], dtype=np.int64)}, "pred_offsets: expected images + 1 values"),
    (
        {"gt_offsets": np.array([0, 1, 2, 2])},
        "pred_offsets: expected 4 values like gt_offsets (images + 1), got 3",
    ),
    ({"pred_labels": np.array([0, 2, 1])}, "pred_labels[1]: 2 is out of range for num_labels = 2"),
    ({"gt_labels": np.array([0, -1])}, "gt_labels[1]: -1 is out of range"),
    ({"gt_boxes": np.array([[0, 0, 10, 10], [5, np.nan, 9, 9]])}, "gt_boxes[1]: [5, NaN, 9, 9]"),
    (
        {"pred_boxes": np.array([[0, 0, 10, 10], [1, 1, 2, 2], [3, 3, 4, np.inf]])},
        "pred_boxes[2]: [3, 3, 4, inf] is not finite",
    ),
    (
        {"pred_boxes": np.array([[0, 0, 10, 10], [2, 1, 1, 2], [3, 3, 4, 4]])},
        "pred_boxes[1]: [2, 1, 1, 2] is x2 < x1 or y2 < y1",
    ),
    ({"pred_scores": np.array([0.9, np.nan, 0.1])}, "pred_scores[1]: NaN is not finite"),
    ({"pred_scores": np.array([0.9, 0.5, -np.inf])}, "pred_scores[2]: -inf is not finite"),
    ({"num_labels": -1}, "num_labels: expected >= 0, got -1"),
    ({"label_thresholds": np.array([0.5])}, "label_thresholds: expected 2 values (num_labels)"),
    ({"label_thresholds": [0.5, 1.5]}, "label_thresholds[1]: 1.5 is outside [0, 1]"),
    ({"label_thresholds": [np.nan, 0.5]}, "label_thresholds[0]: NaN is outside [0, 1]"),
    ({"iou_threshold": 0.0}, "expected 0 < iou_threshold <= low_overlap_threshold <= 1"),
    ({"iou_threshold": 0.6}, "got 0.6 and 0.5"),
    ({"low_overlap_threshold": 1.01}, "low_overlap_threshold <= 1, got 0.5 and 1.01"),
    ({"iou_threshold": float("nan")}, "iou_threshold, low_overlap_threshold: expected"),
]


@pytest.mark.parametrize("changes,message", CASES)
def test_bad_input_is_a_located_value_error(changes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        evaluate(**changes)


def test_ragged_lists_are_rejected_with_the_argument_name():
    with pytest.raises(ValueError, match="^gt_boxes: "):
        evaluate(gt_boxes=[[0, 0, 1, 1], [0, 0]])


def test_coco_ap_validates_the_same_way():
    args = arrays()
    args["pred_labels"] = np.array([0, 1, 7])
    with pytest.raises(ValueError, match=re.escape("pred_labels[2]: 7 is out of range")):
        metrics_rs.coco_ap(**args, num_labels=2)


def test_sweep_validates_thresholds():
    kwargs = dict(num_labels=2, iou_threshold=0.5, low_overlap_threshold=0.5)
    with pytest.raises(ValueError, match=re.escape("thresholds[1]: 2 is outside [0, 1]")):
        metrics_rs.sweep(**arrays(), **kwargs, thresholds=[0.5, 2.0])
    with pytest.raises(ValueError, match="iou_threshold"):
        metrics_rs.sweep(**arrays(), num_labels=2, iou_threshold=0.7, low_overlap_threshold=0.5)
    sw = metrics_rs.sweep(**arrays(), **kwargs)
    with pytest.raises(ValueError, match=re.escape("min_precision: 1.5 is outside [0, 1]")):
        sw.threshold_for_precision(1.5)


def test_float32_and_int32_inputs_are_accepted_and_agree_with_float64():
    args = arrays()
    wide = {
        k: v.astype(np.float64) if v.dtype.kind == "f" else v.astype(np.int64)
        for k, v in args.items()
    }
    a = metrics_rs.evaluate(**args, **OPTIONS)
    b = metrics_rs.evaluate(**wide, **OPTIONS)
    assert a.matrix.tolist() == b.matrix.tolist()
    assert a.pred_iou.tolist() == b.pred_iou.tolist()
