"""The line decision (SPEC §9) of metrics_rs.evaluate and .sweep against the reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import metrics_rs

from . import reference
from .strategies import Run, runs, thresholds

A = (0.0, 0.0, 10.0, 10.0)
FAR = (50.0, 50.0, 60.0, 60.0)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@st.composite
def decisions(draw, run: Run):
    """A reject set (None: the default, every label) as a mask or as indices, and skipped images."""
    reject = draw(st.none() | st.sets(st.integers(0, run.num_labels - 1)))
    as_mask = draw(st.booleans())
    skipped = draw(st.sets(st.integers(0, max(len(run.images) - 1, 0)), max_size=2))
    skipped = {i for i in skipped if i < len(run.images)}
    return reject, as_mask, skipped


def as_argument(items: set[int] | None, n: int, as_mask: bool):
    if items is None:
        return None
    return np.isin(np.arange(n), list(items)) if as_mask else sorted(items)


def evaluate(run: Run, labels, tau, lam, reject, as_mask, skipped):
    kwargs = {}
    if reject is not None:
        kwargs["reject_labels"] = as_argument(reject, run.num_labels, as_mask)
    if skipped or as_mask:
        kwargs["skip_images"] = as_argument(skipped, len(run.images), as_mask)
    return metrics_rs.evaluate(
        **run.arrays(),
        num_labels=run.num_labels,
        label_thresholds=np.array(labels, dtype=np.float64),
        iou_threshold=tau,
        low_overlap_threshold=lam,
        **kwargs,
    )


def expected(run: Run, labels, tau, lam, reject, skipped) -> reference.LineDecision:
    result = reference.evaluate(run.images, run.num_labels, labels, tau, lam)
    every = set(range(run.num_labels)) if reject is None else reject
    return reference.line_decision(run.images, result, every, frozenset(skipped))


def assert_same_totals(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    assert all(same(got[k], want[k]) for k in want), (got, want)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), run=runs(max_images=8))
def test_evaluate_equals_the_reference(data, run):
    labels, tau, lam = data.draw(thresholds(run.num_labels))
    reject, as_mask, skipped = data.draw(decisions(run))
    ev = evaluate(run, labels, tau, lam, reject, as_mask, skipped)
    ref = expected(run, labels, tau, lam, reject, skipped)
    assert ev.image_outcome.tolist() == ref.outcomes
    assert ev.image_by_chance.tolist() == ref.by_chance
    assert ev.label_outcomes.tolist() == ref.label_outcomes
    assert ev.label_by_chance.tolist() == ref.label_by_chance
    assert_same_totals(ev.line_totals, ref.totals)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), run=runs(max_images=8))
def test_sweep_equals_evaluate_at_each_threshold(data, run):
    _, tau, lam = data.draw(thresholds(run.num_labels))
    reject, as_mask, skipped = data.draw(decisions(run))
    scores = {s for _, preds in run.images for _, _, s in preds}
    grid = sorted(scores | set(data.draw(st.lists(st.sampled_from([0.0, 0.3, 0.93, 1.0])))))
    kwargs = {"reject_labels": as_argument(reject, run.num_labels, as_mask)}
    kwargs["skip_images"] = as_argument(skipped, len(run.images), as_mask)
    sw = metrics_rs.sweep(
        **run.arrays(),
        num_labels=run.num_labels,
        iou_threshold=tau,
        low_overlap_threshold=lam,
        thresholds=np.array(grid),
        **kwargs,
    )
    for j, t in enumerate(grid):
        labels = [t] * run.num_labels
        totals = evaluate(run, labels, tau, lam, reject, as_mask, skipped).line_totals
        assert_same_totals(totals, expected(run, labels, tau, lam, reject, skipped).totals)
        assert (sw.escapes[j], sw.overkills[j]) == (totals["escapes"], totals["overkills"])
        assert same(sw.escape_rate[j], totals["escape_rate"])
        assert same(sw.overkill_rate[j], totals["overkill_rate"])
        assert (sw.actual_ng, sw.actual_ok) == (totals["actual_ng"], totals["actual_ok"])


@settings(max_examples=60, deadline=None)
@given(data=st.data(), run=runs(max_images=8), target=st.sampled_from([0.0, 0.25, 0.5, 1.0]))
def test_recommended_confidence_is_the_highest_reaching_the_target(data, run, target):
    _, tau, lam = data.draw(thresholds(run.num_labels))
    reject, _, skipped = data.draw(decisions(run))
    sw = metrics_rs.sweep(
        **run.arrays(),
        num_labels=run.num_labels,
        iou_threshold=tau,
        low_overlap_threshold=lam,
        reject_labels=as_argument(reject, run.num_labels, False),
        skip_images=sorted(skipped),
    )
    # The answer is 1 or a score; any candidate reaching the target is a valid confidence.
    candidates = {s for _, preds in run.images for _, _, s in preds if 0 <= s <= 1} | {0.0, 1.0}
    reaching = [
        t
        for t in candidates
        if expected(run, [t] * run.num_labels, tau, lam, reject, skipped).totals["escape_rate"]
        <= target
    ]
    assert same(sw.confidence_for_escape_rate(target), max(reaching, default=math.nan))


def one_of_each() -> Run:
    """Caught, escape, overkill, an image with nothing at all, caught by chance."""
    return Run(
        [
            ([(A, 0)], [(A, 0, 0.9)]),
            ([(A, 1)], []),
            ([], [(A, 1, 0.8)]),
            ([], []),
            ([(A, 0)], [(FAR, 1, 0.7)]),
        ],
        2,
    )


def plain(run: Run, **kwargs):
    return metrics_rs.evaluate(
        **run.arrays(),
        num_labels=run.num_labels,
        label_thresholds=np.full(run.num_labels, 0.5),
        iou_threshold=0.5,
        low_overlap_threshold=0.5,
        **kwargs,
    )


def test_an_image_without_annotations_or_predictions_is_a_pass():
    ev = plain(one_of_each())
    c, e, o, p = (metrics_rs.CAUGHT, metrics_rs.ESCAPE, metrics_rs.OVERKILL, metrics_rs.PASS)
    assert ev.image_outcome.tolist() == [c, e, o, p, c]
    assert ev.image_by_chance.tolist() == [False, False, False, False, True]
    assert ev.line_totals == {
        "total": 5,
        "actual_ng": 3,
        "actual_ok": 2,
        "caught": 2,
        "escapes": 1,
        "overkills": 1,
        "passes": 1,
        "caught_by_chance": 1,
        "escape_rate": 1 / 3,
        "overkill_rate": 0.5,
    }


def test_no_reject_label_makes_the_escape_rate_undefined():
    ev = plain(one_of_each(), reject_labels=[])
    totals = ev.line_totals
    assert (totals["passes"], totals["actual_ng"], totals["overkill_rate"]) == (5, 0, 0.0)
    assert math.isnan(totals["escape_rate"])
    # Per label the reject set is ignored.
    assert ev.label_outcomes.tolist() == plain(one_of_each()).label_outcomes.tolist()


def test_skipped_images_are_counted_nowhere():
    ev = plain(one_of_each(), skip_images=np.array([False, True, False, False, False]))
    assert ev.image_outcome[1] == metrics_rs.SKIPPED
    assert ev.line_totals["total"] == 4 and ev.line_totals["escapes"] == 0
    assert ev.label_outcomes.sum(axis=1).tolist() == [4, 4]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reject_labels": [2]}, r"reject_labels\[0\]: 2 is out of range"),
        ({"reject_labels": [True]}, "reject_labels: expected 2 booleans"),
        ({"reject_labels": [0.5]}, "reject_labels: expected int32 or int64"),
        ({"reject_labels": [[0]]}, "reject_labels: expected a 1-D array"),
        ({"skip_images": [5]}, r"skip_images\[0\]: 5 is out of range"),
    ],
)
def test_bad_sets_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plain(one_of_each(), **kwargs)


def test_sweep_recommends_nothing_when_an_ng_image_has_no_reject_prediction():
    sw = metrics_rs.sweep(
        **one_of_each().arrays(), num_labels=2, iou_threshold=0.5, low_overlap_threshold=0.5
    )
    assert math.isnan(sw.confidence_for_escape_rate())
    assert sw.confidence_for_escape_rate(0.34) == 0.7
    with pytest.raises(ValueError, match="max_escape_rate"):
        sw.confidence_for_escape_rate(1.5)
