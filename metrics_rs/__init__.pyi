"""Exact, parallel matching, confusion matrix, metrics and COCO AP for whole runs (SPEC §4).

Every function but :func:`pair_boxes` takes a whole run as flat arrays; image ``i`` owns
``gt_*[gt_offsets[i]:gt_offsets[i + 1]]`` and ``pred_*[pred_offsets[i]:pred_offsets[i + 1]]``.

- boxes: ``(N, 4)`` x1 y1 x2 y2 (continuous pixels, area ``(x2-x1)*(y2-y1)``), float32 or
  float64;
- labels: ``(N,)`` int32 or int64 in ``[0, num_labels)``;
- scores: ``(M,)`` float32 or float64;
- offsets: ``(images + 1,)`` int32 or int64, starting at 0, never decreasing, ending at N (M);
  ``gt_offsets`` and ``pred_offsets`` have the same length.

C-contiguous arrays of these dtypes are read in place, without a copy; strided arrays, other
numeric dtypes and lists are converted first (a copy).

Bad input (wrong shape or dtype, offsets, labels out of range, NaN or infinite values,
x2 < x1 or y2 < y1, thresholds out of range) raises ``ValueError`` naming the argument and the
index. The work runs without the GIL, over all cores.
"""

from os import PathLike
from typing import Final, Generic, TypedDict, TypeVar, final, type_check_only

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "evaluate",
    "coco_ap",
    "sweep",
    "pair_boxes",
    "read_coco",
    "Evaluation",
    "Sweep",
    "TRUE_POSITIVE",
    "CONFUSION",
    "LOC",
    "DUPLICATE",
    "BACKGROUND",
    "DROPPED",
    "CAUGHT",
    "ESCAPE",
    "OVERKILL",
    "PASS",
    "SKIPPED",
]

TRUE_POSITIVE: Final[int]
"""``pred_kind``: matched, IoU >= λ, same label (0)."""
CONFUSION: Final[int]
"""``pred_kind``: matched, IoU >= λ, another label (1)."""
LOC: Final[int]
"""``pred_kind``: matched with IoU in [τ, λ): poorly localised (2)."""
DUPLICATE: Final[int]
"""``pred_kind``: unmatched, but overlaps an already taken annotation with IoU >= τ (3)."""
BACKGROUND: Final[int]
"""``pred_kind``: unmatched, overlapping no annotation with IoU >= τ (4)."""
DROPPED: Final[int]
"""``pred_kind``: score below its label's confidence; in no cell (5)."""

CAUGHT: Final[int]
"""``image_outcome``: actually NG, called NG (0)."""
ESCAPE: Final[int]
"""``image_outcome``: actually NG, called OK (1)."""
OVERKILL: Final[int]
"""``image_outcome``: actually OK, called NG (2)."""
PASS: Final[int]
"""``image_outcome``: actually OK, called OK (3)."""
SKIPPED: Final[int]
"""``image_outcome``: left out by ``skip_images`` (-1); in no count."""

@type_check_only
class LineTotals(TypedDict):
    """The line decision over a run (SPEC §9); skipped images are in none of these."""

    total: int
    actual_ng: int
    actual_ok: int
    caught: int
    escapes: int
    overkills: int
    passes: int
    caught_by_chance: int
    escape_rate: float
    """``escapes / actual_ng``; NaN for 0/0."""
    overkill_rate: float
    """``overkills / actual_ok``; NaN for 0/0."""

_Micro = TypeVar("_Micro", float, NDArray[np.float64])

@type_check_only
class _Scores(Generic[_Micro]):
    """The counts and ratios per label that :class:`Evaluation` and :class:`Sweep` share.

    In an :class:`Evaluation` they are ``(num_labels,)`` arrays and the micro averages floats;
    in a :class:`Sweep`, ``(num_labels, T)`` arrays (``gt_count`` aside) and ``(T,)`` arrays,
    one value per threshold.
    """

    @property
    def tp(self) -> NDArray[np.int64]:
        """True positives per label (in an Evaluation, the diagonal of the matrix)."""
    @property
    def pred_count(self) -> NDArray[np.int64]:
        """Kept predictions per label (in an Evaluation, the row sums; in a Sweep, those
        scoring ``>= thresholds[j]``)."""
    @property
    def gt_count(self) -> NDArray[np.int64]:
        """``(num_labels,)``: annotations per label."""
    @property
    def precision(self) -> NDArray[np.float64]:
        """``tp / pred_count``, NaN for 0/0 (no prediction kept)."""
    @property
    def recall(self) -> NDArray[np.float64]:
        """``tp / gt_count``, NaN for 0/0 (a label without annotations)."""
    @property
    def f1(self) -> NDArray[np.float64]:
        """``2·tp / (pred_count + gt_count)`` (= ``2PR / (P + R)``): 0 for a label with
        annotations but no kept prediction or the reverse, NaN only with neither."""
    @property
    def micro_precision(self) -> _Micro:
        """Overall precision: sums over labels first, then the ratio; NaN for 0/0."""
    @property
    def micro_recall(self) -> _Micro:
        """Overall recall, micro-averaged; NaN for 0/0."""
    @property
    def micro_f1(self) -> _Micro:
        """Overall F1 from the sums, ``2·Σtp / (Σpred_count + Σgt_count)``: 0 when nothing is
        kept over annotated images; NaN only with no annotation and no kept prediction."""

@final
class Evaluation(_Scores[float]):
    """Result of :func:`evaluate`. Indices are global (into the flat arrays).

    Its counts and ratios per label (:class:`_Scores`) are ``(num_labels,)`` arrays; the micro
    averages, floats.
    """

    @property
    def matrix(self) -> NDArray[np.int64]:
        """``(num_labels + 1, num_labels + 2)``: rows labels, ``{}``; columns labels, BG, LOC."""
    @property
    def pred_gt(self) -> NDArray[np.int64]:
        """``(M,)``: matched annotation; -1 unmatched; -2 dropped by confidence."""
    @property
    def pred_iou(self) -> NDArray[np.float64]:
        """``(M,)``: IoU with the matched annotation, 0 where there is none."""
    @property
    def pred_kind(self) -> NDArray[np.int8]:
        """``(M,)``: TRUE_POSITIVE, CONFUSION, LOC, DUPLICATE, BACKGROUND or DROPPED."""
    @property
    def gt_pred(self) -> NDArray[np.int64]:
        """``(N,)``: the prediction that took the annotation, -1 when missed."""
    @property
    def num_labels(self) -> int: ...
    @property
    def image_outcome(self) -> NDArray[np.int8]:
        """``(images,)``: CAUGHT, ESCAPE, OVERKILL, PASS, or SKIPPED (SPEC §9).

        Actually NG: the image has an annotation with a reject label; called NG: it has a kept
        prediction with a reject label."""
    @property
    def image_by_chance(self) -> NDArray[np.bool_]:
        """``(images,)``: caught, yet none of its reject-label annotations was taken by a kept
        prediction (IoU >= τ, any label): rejected for a box somewhere else."""
    @property
    def label_outcomes(self) -> NDArray[np.int64]:
        """``(num_labels, 4)``: per label, images caught, escaped, overkilled and passed with
        "has an annotation of the label" as truth and "has a kept prediction of it" as the
        decision (the reject set ignored); each row sums to ``line_totals["total"]``."""
    @property
    def label_by_chance(self) -> NDArray[np.int64]:
        """``(num_labels,)``: per label, images caught by that label (as in
        ``label_outcomes``) none of whose annotations of the label was taken by a kept
        prediction (IoU >= τ, any label)."""
    @property
    def line_totals(self) -> LineTotals:
        """The ten totals of the line decision (a new dict at each access)."""

def evaluate(
    gt_boxes: ArrayLike,
    gt_labels: ArrayLike,
    gt_offsets: ArrayLike,
    pred_boxes: ArrayLike,
    pred_labels: ArrayLike,
    pred_scores: ArrayLike,
    pred_offsets: ArrayLike,
    *,
    num_labels: int,
    label_thresholds: ArrayLike,
    iou_threshold: float,
    low_overlap_threshold: float,
    reject_labels: ArrayLike | None = None,
    skip_images: ArrayLike | None = None,
) -> Evaluation:
    """Match a whole run, build its confusion matrix and decide each image OK or NG
    (SPEC §4.1-4.5, §9), in one pass over the images.

    ``label_thresholds``: ``(num_labels,)`` confidence per label in [0, 1], already
    ``max(base, own)``; a prediction is kept iff ``score >= label_thresholds[label]``.
    Requires ``0 < iou_threshold <= low_overlap_threshold <= 1``.

    Every image of the offsets counts in the line decision, those with no annotation and no
    prediction included (an offset repeated), except the ``skip_images``.
    ``reject_labels``: the labels that make a part NG, a ``(num_labels,)`` boolean mask or
    label indices (an empty sequence: none); default every label. ``skip_images``: images
    left out of the line decision (unreadable ones), a ``(images,)`` boolean mask or image
    indices; default none. They change neither the matching nor the matrix.
    """

def coco_ap(
    gt_boxes: ArrayLike,
    gt_labels: ArrayLike,
    gt_offsets: ArrayLike,
    pred_boxes: ArrayLike,
    pred_labels: ArrayLike,
    pred_scores: ArrayLike,
    pred_offsets: ArrayLike,
    *,
    num_labels: int,
) -> NDArray[np.float64]:
    """COCO AP per label, ``(num_labels, 10)`` at IoU 0.50, 0.55, ..., 0.95 (SPEC §4.7).

    Over all predictions given (no confidence filter), as pycocotools ``COCOeval`` (bbox,
    iscrowd 0, all areas, the best 100 detections per image and label, 101-point
    interpolation). NaN for a label without annotations; 0 for one with annotations and no
    prediction. pycocotools' ``stats[0]`` (mAP50-95) is ``np.nanmean(ap)`` and ``stats[1]``
    (mAP50) ``np.nanmean(ap[:, 0])``. Equal scores across images are ranked in image order,
    as pycocotools ranks them in ascending image id.
    """

@final
class Sweep(_Scores[NDArray[np.float64]]):
    """Result of :func:`sweep`: per-label curves over ``thresholds``.

    ``T = len(thresholds)``; its counts and ratios per label (:class:`_Scores`) are
    ``(num_labels, T)`` arrays indexed ``[label, j]``, at every label's confidence
    ``thresholds[j]`` (``gt_count`` aside, ``(num_labels,)``); the micro averages, ``(T,)``.
    """

    @property
    def thresholds(self) -> NDArray[np.float64]:
        """``(T,)``: the confidences evaluated."""
    def best_f1(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per label, over every distinct score of that label: (confidence with the highest
        F1, that F1). Ties go to the higher confidence. A label without predictions has no
        confidence (NaN) and F1 0, or NaN when it has no annotation either."""
    def threshold_for_precision(self, min_precision: float) -> NDArray[np.float64]:
        """Per label: the lowest confidence (a score of that label) whose precision is
        ``>= min_precision`` (in [0, 1]); NaN where none is."""
    @property
    def escapes(self) -> NDArray[np.int64]:
        """``(T,)``: actually NG images called OK at each threshold (SPEC §9)."""
    @property
    def overkills(self) -> NDArray[np.int64]:
        """``(T,)``: actually OK images called NG at each threshold."""
    @property
    def escape_rate(self) -> NDArray[np.float64]:
        """``(T,)``: ``escapes / actual_ng``; NaN for 0/0."""
    @property
    def overkill_rate(self) -> NDArray[np.float64]:
        """``(T,)``: ``overkills / actual_ok``; NaN for 0/0."""
    @property
    def actual_ng(self) -> int:
        """Images with an annotation of a reject label (skipped images aside)."""
    @property
    def actual_ok(self) -> int:
        """The other images counted."""
    def confidence_for_escape_rate(self, max_escape_rate: float = 0.0) -> float:
        """The recommended confidence for a target escape rate (in [0, 1]; default 0): the
        highest confidence ``t`` in [0, 1], one for every label, whose escape rate is
        ``<= max_escape_rate`` (so the lowest overkill among such uniform confidences). Exact,
        not limited to ``thresholds``: 1, or the top reject-label score of an NG image. NaN
        when no ``t`` reaches the target (an NG image without any reject-label prediction
        escapes at every ``t``), or when no image is actually NG."""

def sweep(
    gt_boxes: ArrayLike,
    gt_labels: ArrayLike,
    gt_offsets: ArrayLike,
    pred_boxes: ArrayLike,
    pred_labels: ArrayLike,
    pred_scores: ArrayLike,
    pred_offsets: ArrayLike,
    *,
    num_labels: int,
    iou_threshold: float,
    low_overlap_threshold: float,
    thresholds: ArrayLike | None = None,
    reject_labels: ArrayLike | None = None,
    skip_images: ArrayLike | None = None,
) -> Sweep:
    """Precision, recall and F1 per label, and escape and overkill rates, as functions of one
    confidence for every label.

    Exact: each value equals what :func:`evaluate` gives with
    ``label_thresholds = [t] * num_labels``. Predictions are visited highest score first, so
    those kept at ``t`` are a prefix of the visiting order and their matching is the prefix
    of the matching of all predictions: one matching of everything, then cumulative counts
    per label read by binary search (O(M log M + num_labels * T)).

    ``thresholds``: confidences in [0, 1], any order; default the 101-point grid
    ``0.00, 0.01, ..., 1.00``. Pass ``np.unique(pred_scores)`` for every step of the curves.
    ``reject_labels`` and ``skip_images`` as in :func:`evaluate`; the escape and overkill
    rates at ``t`` equal :func:`evaluate`'s ``line_totals`` there.
    """

def pair_boxes(
    image_a: ArrayLike,
    boxes_a: ArrayLike,
    image_b: ArrayLike,
    boxes_b: ArrayLike,
    *,
    iou_threshold: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Pair the boxes of two runs that lie on the same image, greedily by IoU (run comparison).

    ``image_a``: ``(N,)`` int32 or int64 image ids, one per row of ``boxes_a`` (``(N, 4)``
    x1 y1 x2 y2, float32 or float64); likewise ``image_b`` and ``boxes_b`` (``(K,)`` and
    ``(K, 4)``). On each image, the pair with the highest IoU ``>= iou_threshold`` is taken
    (equal IoUs: the lowest index in ``a``, then in ``b``, as ``np.argmax`` over the
    row-major IoU matrix), both boxes leave, and so on until no pair of boxes still unpaired
    reaches the threshold. IoU as :func:`evaluate` computes it (SPEC §4: continuous
    coordinates, a union of 0 gives 0).

    Returns ``(index_a, index_b)``: the pairs' row indices into ``a`` and into ``b``, ordered
    by ``index_a``. Requires ``0 < iou_threshold <= 1``; boxes are validated as for
    :func:`evaluate`.
    """

def read_coco(
    gt_path: str | PathLike[str], pred_path: str | PathLike[str]
) -> tuple[
    list[str],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.float64],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.float64],
    NDArray[np.int64],
    NDArray[np.float64],
    NDArray[np.int64],
]:
    """A COCO data set file and a COCO results file as the flat arrays of :func:`evaluate`.

    Returns ``(labels, category_ids, image_ids, gt_boxes, gt_labels, gt_offsets, pred_boxes,
    pred_labels, pred_scores, pred_offsets)``: labels are the category names by ascending id,
    images by ascending id, boxes ``x1 y1 x2 y2`` (COCO's ``[x, y, w, h]`` converted), each
    image's boxes in file order.

    Both files are streamed (never held whole) and parsed at once, on two threads, without
    the GIL. Fields COCO adds (``iscrowd``, ``area``, ``segmentation``...) are allowed and
    ignored. A file that cannot be used raises ``ValueError`` whose message starts with the
    file's path and locates the problem: ``not valid JSON (... at line L column C)`` (``NaN``
    and ``Infinity`` are not JSON), or the element and field with line and column
    (``pred.json[7]: "score": invalid type: string "high", expected a number at line 1 column
    90``), or a COCO rule: a repeated image or category id, a category without a string name or
    with a repeated name, a negative width or height, an ``image_id`` or ``category_id`` the
    data set does not have.
    """
