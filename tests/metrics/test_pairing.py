"""metrics_rs.pair_boxes: the run comparison's greedy box pairing, against the reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import metrics_rs
from validation.analysis.comparison import match_boxes

from . import reference as ref
from .strategies import OVERLAPS, boxes

Side = tuple[list[int], list[ref.Box]]

# Few images, so that most boxes share one with boxes of the other side.
IMAGE = st.integers(-1, 2)


@st.composite
def sides(draw, max_size: int = 8) -> tuple[Side, Side]:
    """Two runs' boxes; about half of b's copy a box of a (equal IoUs, exact matches)."""
    a = draw(st.lists(st.tuples(IMAGE, boxes()), max_size=max_size))
    b = []
    for _ in range(draw(st.integers(0, max_size))):
        if a and draw(st.booleans()):
            b.append(draw(st.sampled_from(a)))
        else:
            b.append((draw(IMAGE), draw(boxes())))
    return ([i for i, _ in a], [x for _, x in a]), ([i for i, _ in b], [x for _, x in b])


def crate_pairs(a: Side, b: Side, threshold: float, box_dtype=np.float64, id_dtype=np.int64):
    """metrics_rs.pair_boxes on arrays of the given dtypes, as a list of pairs."""
    index_a, index_b = metrics_rs.pair_boxes(
        np.array(a[0], dtype=id_dtype),
        np.array(a[1], dtype=box_dtype).reshape(-1, 4),
        np.array(b[0], dtype=id_dtype),
        np.array(b[1], dtype=box_dtype).reshape(-1, 4),
        iou_threshold=threshold,
    )
    assert index_a.dtype == index_b.dtype == np.int64
    return list(zip(index_a.tolist(), index_b.tolist(), strict=True))


@settings(max_examples=400, deadline=None)
@given(
    sides(),
    OVERLAPS,
    st.sampled_from([np.float64, np.float32]),
    st.sampled_from([np.int64, np.int32]),
)
def test_pairs_equal_the_reference(runs, threshold, box_dtype, id_dtype):
    a, b = runs
    assert crate_pairs(a, b, threshold, box_dtype, id_dtype) == ref.pair_boxes(*a, *b, threshold)


def comparison_rows(side: Side) -> list[tuple]:
    """Instance rows as comparison.match_boxes reads them: id, image, no annotation, box."""
    return [
        (k, image, None, *box, None, None, None, None)
        for k, (image, box) in enumerate(zip(*side, strict=True))
    ]


@settings(max_examples=300, deadline=None)
@given(sides(), OVERLAPS)
def test_the_comparisons_matcher_equals_the_reference(runs, threshold):
    a, b = runs
    pairs = match_boxes(comparison_rows(a), comparison_rows(b), threshold)
    assert sorted((ra[0], rb[0]) for ra, rb in pairs) == ref.pair_boxes(*a, *b, threshold)


def test_the_highest_iou_is_paired_first_and_ties_go_to_the_lowest_indices():
    full, short = (0, 0, 10, 10), (0, 0, 10, 9)
    # a0's best is b1, but a1-b1 (IoU 1) comes first; a0 then takes b0.
    assert crate_pairs(([5, 5], [short, full]), ([5, 5], [(0, 0, 10, 6), full]), 0.5) == [
        (0, 0),
        (1, 1),
    ]
    assert crate_pairs(([5, 5], [full, full]), ([5], [full]), 0.5) == [(0, 0)]
    assert crate_pairs(([5], [full]), ([5, 5], [full, full]), 0.5) == [(0, 0)]


def test_boxes_on_other_images_and_empty_sides_have_no_pairs():
    full = (0, 0, 10, 10)
    assert crate_pairs(([1], [full]), ([2], [full]), 0.5) == []
    assert crate_pairs(([], []), ([2], [full]), 0.5) == []
    assert crate_pairs(([], []), ([], []), 0.5) == []


def test_lists_are_accepted():
    index_a, index_b = metrics_rs.pair_boxes(
        [7], [[0, 0, 4, 4]], [7], [[0, 0, 4, 4]], iou_threshold=1.0
    )
    assert (index_a.tolist(), index_b.tolist()) == ([0], [0])


GOOD = {
    "image_a": np.array([1, 1]),
    "boxes_a": np.array([[0, 0, 4, 4], [1, 1, 2, 2]], dtype=np.float64),
    "image_b": np.array([1], dtype=np.int32),
    "boxes_b": np.array([[0, 0, 4, 4]], dtype=np.float32),
}

BAD = [
    ({"boxes_a": np.zeros((2, 3))}, "boxes_a: expected shape (N, 4), got (2, 3)"),
    ({"boxes_b": np.zeros(4)}, "boxes_b: expected shape (N, 4), got shape (4,)"),
    ({"image_a": np.array([1])}, "image_a: expected 2 values (one per rows of boxes_a), got 1"),
    ({"image_b": np.array([1.0])}, "image_b: expected int32 or int64 values, got dtype float64"),
    (
        {"boxes_a": np.array([[0, 0, np.nan, 4], [1, 1, 2, 2]])},
        "boxes_a[0]: [0, 0, NaN, 4] is not finite",
    ),
    ({"boxes_b": np.array([[4, 0, 0, 4]])}, "boxes_b[0]: [4, 0, 0, 4] is x2 < x1 or y2 < y1"),
    ({"iou_threshold": 0.0}, "iou_threshold: expected 0 < iou_threshold <= 1, got 0"),
    ({"iou_threshold": float("nan")}, "iou_threshold: expected 0 < iou_threshold <= 1, got NaN"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_input_raises_value_error_naming_the_argument(change, message):
    args = {**GOOD, "iou_threshold": 0.5, **change}
    with pytest.raises(ValueError) as raised:
        metrics_rs.pair_boxes(**args)
    assert str(raised.value).startswith(message)
