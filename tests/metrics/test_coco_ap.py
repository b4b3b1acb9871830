"""metrics_rs.coco_ap against pycocotools' COCOeval (bbox) on random data sets."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import metrics_rs

from .strategies import Run, boxes, runs


def pycocotools_eval(run: Run) -> COCOeval:
    """COCOeval over the run: image id i + 1, category id label + 1, xywh boxes."""
    images, annotations, results = [], [], []
    for i, (gts, preds) in enumerate(run.images):
        images.append({"id": i + 1, "width": 100, "height": 100})
        for b, label in gts:
            w, h = b[2] - b[0], b[3] - b[1]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": label + 1,
                    "bbox": [b[0], b[1], w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        for b, label, score in preds:
            box = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
            results.append(
                {"image_id": i + 1, "category_id": label + 1, "bbox": box, "score": score}
            )
    categories = [{"id": k + 1, "name": str(k)} for k in range(run.num_labels)]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": annotations, "categories": categories}
        gt.createIndex()
        dt = gt.loadRes(results) if results else COCO()
        if not results:
            dt.dataset = {"images": images, "annotations": [], "categories": categories}
            dt.createIndex()
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def per_label_ap(ev: COCOeval) -> np.ndarray:
    """pycocotools' AP per category and IoU threshold (area all, maxDets 100), NaN for -1."""
    precision = ev.eval["precision"][:, :, :, 0, -1]  # T, R, K
    ap = precision.mean(axis=1).T  # K, T
    return np.where((precision == -1).any(axis=1).T, np.nan, ap)


def assert_matches_pycocotools(run: Run, tol: float = 1e-12):
    ap = metrics_rs.coco_ap(**run.arrays(), num_labels=run.num_labels)
    assert ap.shape == (run.num_labels, 10) and ap.dtype == np.float64
    ev = pycocotools_eval(run)
    np.testing.assert_allclose(ap, per_label_ap(ev), rtol=0, atol=tol)
    if np.isnan(ap).all():
        assert ev.stats[0] == -1
        return
    assert abs(np.nanmean(ap) - ev.stats[0]) <= 1e-6
    assert abs(np.nanmean(ap[:, 0]) - ev.stats[1]) <= 1e-6


def with_annotations(run: Run) -> bool:
    return any(gts for gts, _ in run.images)


@settings(max_examples=40, deadline=None)
@given(runs(max_images=8, max_gt=6, max_pred=10).filter(with_annotations))
def test_grid_runs_equal_pycocotools(run):
    """Integer boxes: IoUs land exactly on thresholds and scores tie across images."""
    assert_matches_pycocotools(run)


@settings(max_examples=8, deadline=None)
@given(
    st.integers(1, 3)
    .flatmap(
        lambda n: st.builds(
            Run,
            st.lists(
                st.tuples(
                    st.lists(st.tuples(boxes(), st.integers(0, n - 1)), max_size=3),
                    st.lists(
                        st.tuples(boxes(), st.integers(0, n - 1), st.sampled_from([0.3, 0.6])),
                        min_size=95,
                        max_size=110,
                    ),
                ),
                min_size=1,
                max_size=2,
            ),
            st.just(n),
        )
    )
    .filter(with_annotations)
)
def test_more_than_a_hundred_detections_per_image_and_label(run):
    """pycocotools keeps the 100 best per image and category, ties in emission order."""
    assert_matches_pycocotools(run)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_float_data_set_equals_pycocotools(seed):
    rng = np.random.default_rng(seed)
    num_labels, images = 6, []
    for _ in range(60):
        n, m = rng.integers(0, 8), rng.integers(0, 15)
        centres = rng.random((n, 2)) * 200
        gts = []
        for c in centres:
            wh = rng.random(2) * 40 + 1
            gts.append(((*(c - wh / 2),) + (*(c + wh / 2),), int(rng.integers(num_labels))))
        preds = []
        for _ in range(m):
            if gts and rng.random() < 0.7:
                b, k = gts[rng.integers(len(gts))]
                b = tuple(np.asarray(b) + rng.normal(0, 3, 4))
                b = (min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3]))
                k = k if rng.random() < 0.8 else int(rng.integers(num_labels))
            else:
                c, wh = rng.random(2) * 200, rng.random(2) * 40 + 1
                b, k = (*(c - wh / 2),) + (*(c + wh / 2),), int(rng.integers(num_labels))
            preds.append((tuple(float(v) for v in b), k, float(rng.random())))
        images.append(([(tuple(float(v) for v in b), k) for b, k in gts], preds))
    assert_matches_pycocotools(Run(images, num_labels), tol=1e-9)


def test_label_without_annotations_is_nan_and_without_predictions_zero():
    a = (0.0, 0.0, 10.0, 10.0)
    run = Run([([(a, 0), (a, 2)], [(a, 0, 0.9), (a, 1, 0.8)])], 3)
    ap = metrics_rs.coco_ap(**run.arrays(), num_labels=3)
    assert np.allclose(ap[0], 1.0)
    assert np.isnan(ap[1]).all()
    assert (ap[2] == 0).all()
    assert_matches_pycocotools(run)
