"""metrics_rs.evaluate against the pure-Python reference of SPEC §4, on random runs."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import metrics_rs

from . import reference
from .strategies import Run, boxes, runs, thresholds

DTYPES = st.sampled_from(
    [
        (np.float64, np.int64, np.float64),
        (np.float32, np.int32, np.float32),
        (np.float64, np.int32, np.float32),
    ]
)


def box(row) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in row)
    return (x1, y1, x2, y2)


def run_both(run: Run, labels, tau, lam, dtypes=(np.float64, np.int64, np.float64)):
    box_dtype, int_dtype, score_dtype = dtypes
    arrays = run.arrays(box_dtype, int_dtype, score_dtype)
    ev = metrics_rs.evaluate(
        **arrays,
        num_labels=run.num_labels,
        label_thresholds=np.array(labels),
        iou_threshold=tau,
        low_overlap_threshold=lam,
    )
    # The reference sees exactly the values metrics_rs sees (float32 rounding included).
    images, g, p = [], 0, 0
    for gts, preds in run.images:
        ref_gts = [(box(arrays["gt_boxes"][g + j]), label) for j, (_, label) in enumerate(gts)]
        ref_preds = [
            (box(arrays["pred_boxes"][p + i]), label, float(arrays["pred_scores"][p + i]))
            for i, (_, label, _) in enumerate(preds)
        ]
        images.append((ref_gts, ref_preds))
        g, p = g + len(gts), p + len(preds)
    ref = reference.evaluate(images, run.num_labels, labels, tau, lam)
    return ev, ref


def assert_same_floats(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        assert (math.isnan(a) and math.isnan(e)) or a == e, (list(actual), expected)


def assert_equal(ev, ref: reference.Result):
    assert ev.matrix.dtype == np.int64 and ev.pred_gt.dtype == np.int64
    assert ev.pred_iou.dtype == np.float64 and ev.pred_kind.dtype == np.int8
    assert ev.gt_pred.dtype == np.int64
    assert ev.matrix.tolist() == ref.matrix
    assert ev.pred_gt.tolist() == ref.pred_gt
    assert ev.pred_kind.tolist() == ref.pred_kind
    assert ev.pred_iou.tolist() == ref.pred_iou
    assert ev.gt_pred.tolist() == ref.gt_pred
    assert ev.tp.tolist() == ref.tp
    assert ev.pred_count.tolist() == ref.pred_count
    assert ev.gt_count.tolist() == ref.gt_count
    expected = reference.scores(ref)
    for name in ("precision", "recall", "f1"):
        assert_same_floats(getattr(ev, name).tolist(), expected[name])
    for name in ("micro_precision", "micro_recall", "micro_f1"):
        assert_same_floats([getattr(ev, name)], [expected[name]])


@settings(max_examples=200, deadline=None)
@given(data=st.data(), run=runs(), dtypes=DTYPES)
def test_evaluate_equals_reference(data, run, dtypes):
    labels, tau, lam = data.draw(thresholds(run.num_labels))
    ev, ref = run_both(run, labels, tau, lam, dtypes)
    assert_equal(ev, ref)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), run=runs(max_images=3, max_gt=12, max_pred=16))
def test_crowded_images_equal_reference(data, run):
    labels, tau, lam = data.draw(thresholds(run.num_labels))
    assert_equal(*run_both(run, labels, tau, lam))


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    run=runs(max_images=4).filter(lambda r: any(r.images)),
    seed=st.integers(0, 2**32 - 1),
)
def test_real_valued_boxes_equal_reference(data, run, seed):
    """Off-grid coordinates: the IoUs must be bit-identical to the reference's."""
    rng = np.random.default_rng(seed)

    def jitter(b):
        corners = np.sort(np.add(b, rng.random(4) * 2).reshape(2, 2), axis=0)
        return box(corners.ravel())

    images = [
        ([(jitter(b), k) for b, k in gts], [(jitter(b), k, s) for b, k, s in preds])
        for gts, preds in run.images
    ]
    labels, tau, lam = data.draw(thresholds(run.num_labels))
    assert_equal(*run_both(Run(images, run.num_labels), labels, tau, lam))


@settings(max_examples=15, deadline=None)
@given(data=st.data(), run=runs(max_images=1, max_gt=80, max_pred=30))
def test_images_with_more_than_64_annotations_equal_reference(data, run):
    """Past 64 annotations per image metrics_rs takes another path; same answers."""
    labels, tau, lam = data.draw(thresholds(run.num_labels))
    extra = data.draw(
        st.lists(st.tuples(boxes(), st.integers(0, run.num_labels - 1)), min_size=65, max_size=70)
    )
    images = [(extra + gts, preds) for gts, preds in run.images] or [(extra, [])]
    assert_equal(*run_both(Run(images, run.num_labels), labels, tau, lam))


A = (0.0, 0.0, 10.0, 10.0)


def evaluate(images, num_labels, labels=None, tau=0.5, lam=0.5):
    run = Run(images, num_labels)
    labels = labels if labels is not None else [0.0] * num_labels
    ev, ref = run_both(run, labels, tau, lam)
    assert_equal(ev, ref)
    return ev


def test_prediction_overlapping_two_annotations_takes_the_same_label_one():
    near = (0.0, 0.0, 10.0, 9.0)
    ev = evaluate([([(near, 1), (A, 0)], [(A, 1, 0.9)])], 2)
    assert ev.pred_gt.tolist() == [0]
    assert ev.pred_kind.tolist() == [metrics_rs.TRUE_POSITIVE]
    assert ev.matrix[2].tolist() == [1, 0, 0, 0], "the label-0 annotation is missed"


def test_duplicate_is_a_background_prediction_on_a_taken_annotation():
    ev = evaluate([([(A, 0)], [(A, 0, 0.9), (A, 0, 0.8), ((20.0, 20.0, 30.0, 30.0), 0, 0.7)])], 1)
    assert ev.pred_kind.tolist() == [
        metrics_rs.TRUE_POSITIVE,
        metrics_rs.DUPLICATE,
        metrics_rs.BACKGROUND,
    ]


def test_loc_keeps_the_annotation_taken():
    half = (0.0, 0.0, 10.0, 6.0)
    ev = evaluate([([(A, 1)], [(half, 0, 0.9)])], 2, tau=0.5, lam=0.7)
    assert ev.pred_kind.tolist() == [metrics_rs.LOC]
    assert ev.gt_pred.tolist() == [0]
    assert ev.matrix.tolist() == [[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]


def test_thresholds_above_every_score_drop_everything():
    ev = evaluate([([(A, 0)], [(A, 0, 0.9), (A, 1, 0.99)])], 2, labels=[0.95, 1.0])
    assert ev.pred_kind.tolist() == [metrics_rs.DROPPED] * 2
    assert ev.pred_gt.tolist() == [-2, -2]
    assert math.isnan(ev.precision[0]) and ev.recall[0] == 0.0 and ev.f1[0] == 0.0
    assert math.isnan(ev.f1[1])  # label 1: no annotation and nothing kept
    assert math.isnan(ev.micro_precision) and ev.micro_f1 == 0.0


def test_empty_run_has_an_empty_matrix():
    ev = evaluate([], 3)
    assert ev.matrix.shape == (4, 5) and ev.matrix.sum() == 0
    assert ev.pred_gt.shape == (0,) and ev.gt_pred.shape == (0,)


def test_non_contiguous_and_list_inputs_give_the_same_result():
    run = Run([([(A, 0)], [(A, 0, 0.9), ((1.0, 1.0, 9.0, 9.0), 0, 0.8)])], 1)
    arrays = run.arrays()
    wide = np.zeros((2, 8))
    wide[:, ::2] = arrays["pred_boxes"]
    kwargs = dict(
        num_labels=1, label_thresholds=[0.5], iou_threshold=0.5, low_overlap_threshold=0.5
    )
    base = metrics_rs.evaluate(**arrays, **kwargs)
    strided = metrics_rs.evaluate(**{**arrays, "pred_boxes": wide[:, ::2]}, **kwargs)
    listed = metrics_rs.evaluate(**{k: v.tolist() for k, v in arrays.items()}, **kwargs)
    for other in (strided, listed):
        assert other.pred_gt.tolist() == base.pred_gt.tolist()
        assert other.matrix.tolist() == base.matrix.tolist()


def test_concurrent_calls_from_threads_agree():
    run = Run([([(A, k % 3)], [(A, k % 3, 0.5 + k / 100)]) for k in range(50)], 3)
    kwargs = dict(
        num_labels=3, label_thresholds=[0.5] * 3, iou_threshold=0.5, low_overlap_threshold=0.5
    )
    arrays = run.arrays()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: metrics_rs.evaluate(**arrays, **kwargs), range(8)))
    assert all(r.matrix.tolist() == results[0].matrix.tolist() for r in results)
    assert results[0].tp.tolist() == [17, 17, 16]


@pytest.mark.parametrize("tau,lam", [(0.5, 0.5), (0.3, 0.7), (0.5, 1.0)])
def test_kind_codes_match_the_shared_table(tau, lam):
    assert (
        metrics_rs.TRUE_POSITIVE,
        metrics_rs.CONFUSION,
        metrics_rs.LOC,
        metrics_rs.DUPLICATE,
        metrics_rs.BACKGROUND,
        metrics_rs.DROPPED,
    ) == (0, 1, 2, 3, 4, 5)
    evaluate([([(A, 0), (A, 1)], [(A, 1, 0.9), (A, 1, 0.9), (A, 0, 0.2)])], 2, tau=tau, lam=lam)
