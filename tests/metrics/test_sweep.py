"""metrics_rs.sweep: every point equals the reference matching re-run at that confidence."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import metrics_rs

from . import reference
from .strategies import OVERLAPS, Run, runs


def overlaps():
    return OVERLAPS.flatmap(
        lambda tau: st.tuples(st.just(tau), OVERLAPS.filter(lambda v: v >= tau))
    )


def brute_force(run: Run, t: float, tau: float, lam: float):
    ref = reference.evaluate(run.images, run.num_labels, [t] * run.num_labels, tau, lam)
    return ref, reference.scores(ref)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@settings(max_examples=60, deadline=None)
@given(run=runs(), taus=overlaps(), extra=st.lists(st.sampled_from([0.3, 0.5, 0.93, 1.0])))
def test_every_point_equals_the_reference_at_that_confidence(run, taus, extra):
    tau, lam = taus
    scores = sorted({s for _, preds in run.images for _, _, s in preds} | set(extra))
    sw = metrics_rs.sweep(
        **run.arrays(),
        num_labels=run.num_labels,
        iou_threshold=tau,
        low_overlap_threshold=lam,
        thresholds=np.array(scores),
    )
    assert sw.thresholds.tolist() == scores
    assert sw.tp.shape == sw.pred_count.shape == sw.f1.shape == (run.num_labels, len(scores))
    for j, t in enumerate(scores):
        ref, expected = brute_force(run, t, tau, lam)
        assert sw.tp[:, j].tolist() == ref.tp
        assert sw.pred_count[:, j].tolist() == ref.pred_count
        for name in ("precision", "recall", "f1"):
            got = getattr(sw, name)[:, j].tolist()
            assert all(map(same, got, expected[name])), (name, got, expected[name])
        for name in ("micro_precision", "micro_recall", "micro_f1"):
            assert same(float(getattr(sw, name)[j]), expected[name])
    labels = [label for gts, _ in run.images for _, label in gts]
    assert sw.gt_count.tolist() == [labels.count(k) for k in range(run.num_labels)]


@settings(max_examples=40, deadline=None)
@given(run=runs(), taus=overlaps(), target=st.sampled_from([0.0, 0.5, 0.7, 1.0]))
def test_recommended_confidences_are_the_best_distinct_scores(run, taus, target):
    tau, lam = taus
    sw = metrics_rs.sweep(
        **run.arrays(), num_labels=run.num_labels, iou_threshold=tau, low_overlap_threshold=lam
    )
    best_t, best_f1 = sw.best_f1()
    lowest = sw.threshold_for_precision(target)
    for k in range(run.num_labels):
        # Candidate confidences: this label's distinct scores, highest first.
        candidates = sorted(
            {s for _, preds in run.images for _, label, s in preds if label == k}, reverse=True
        )
        f1s = [brute_force(run, t, tau, lam)[1]["f1"][k] for t in candidates]
        if candidates:
            top = max(f1s)
            assert best_f1[k] == top
            assert best_t[k] == next(t for f, t in zip(f1s, candidates, strict=True) if f == top)
        else:
            # No prediction of the label: no confidence, and the F1 of keeping nothing
            # (0 with annotations, undefined without).
            nothing_kept = brute_force(run, math.inf, tau, lam)[1]["f1"][k]
            assert math.isnan(best_t[k]) and same(best_f1[k], nothing_kept)
        precise = [
            t for t in candidates if brute_force(run, t, tau, lam)[1]["precision"][k] >= target
        ]
        assert same(lowest[k], min(precise) if precise else math.nan)


def test_default_grid_is_101_confidences():
    a = (0.0, 0.0, 10.0, 10.0)
    run = Run([([(a, 0)], [(a, 0, 0.42)])], 1)
    sw = metrics_rs.sweep(
        **run.arrays(), num_labels=1, iou_threshold=0.5, low_overlap_threshold=0.5
    )
    assert sw.thresholds.shape == (101,)
    assert sw.thresholds[42] == 0.42
    assert sw.tp[0, :43].tolist() == [1] * 43 and sw.tp[0, 43:].sum() == 0
    assert np.isnan(sw.precision[0, 43:]).all() and sw.recall[0, 43] == 0.0
