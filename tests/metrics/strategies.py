"""Hypothesis strategies for whole runs, and flattening them into metrics_rs's arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from .reference import Image

# A coarse grid makes the hard cases common: boxes overlapping several annotations, equal
# IoUs, zero-area boxes, IoU exactly at a threshold.
COORD = st.integers(0, 6).map(float)
SIZE = st.integers(0, 4).map(float)
SCORE = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0])
OVERLAPS = st.sampled_from([0.1, 0.25, 0.5, 0.6, 0.75, 1.0])


@dataclass
class Run:
    """A run as lists (for the reference) and its labels count."""

    images: list[Image]
    num_labels: int

    def arrays(self, box_dtype=np.float64, int_dtype=np.int64, score_dtype=np.float64) -> dict:
        """The seven positional arrays of metrics_rs's functions, as keyword arguments."""
        gts = [g for image in self.images for g in image[0]]
        preds = [p for image in self.images for p in image[1]]
        return {
            "gt_boxes": np.array([b for b, _ in gts], dtype=box_dtype).reshape(-1, 4),
            "gt_labels": np.array([label for _, label in gts], dtype=int_dtype),
            "gt_offsets": offsets([len(image[0]) for image in self.images], int_dtype),
            "pred_boxes": np.array([b for b, _, _ in preds], dtype=box_dtype).reshape(-1, 4),
            "pred_labels": np.array([label for _, label, _ in preds], dtype=int_dtype),
            "pred_scores": np.array([s for _, _, s in preds], dtype=score_dtype),
            "pred_offsets": offsets([len(image[1]) for image in self.images], int_dtype),
        }


def offsets(counts: list[int], dtype=np.int64) -> np.ndarray:
    """Per-image counts -> offsets starting at 0."""
    return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(dtype)


@st.composite
def boxes(draw, coord=COORD, size=SIZE) -> tuple[float, float, float, float]:
    """A box on the grid, possibly of zero width or height."""
    x, y = draw(coord), draw(coord)
    return (x, y, x + draw(size), y + draw(size))


@st.composite
def image(draw, label, max_gt: int, max_pred: int) -> Image:
    """One image; about half the predictions copy or nudge an annotation's box."""
    gts = draw(st.lists(st.tuples(boxes(), label), max_size=max_gt))
    preds = []
    for _ in range(draw(st.integers(0, max_pred))):
        if gts and draw(st.booleans()):
            b = draw(st.sampled_from(gts))[0]
            dx, dy = draw(st.sampled_from([(0, 0), (0, 0), (1, 0), (0, 1), (-1, 1)]))
            box = (b[0] + dx, b[1] + dy, b[2] + max(dx, 0), b[3] + max(dy, 0))
        else:
            box = draw(boxes())
        preds.append((box, draw(label), draw(SCORE)))
    return gts, preds


@st.composite
def runs(draw, max_images: int = 5, max_gt: int = 6, max_pred: int = 8) -> Run:
    """A small run: some images without annotations or without predictions."""
    num_labels = draw(st.integers(1, 4))
    label = st.integers(0, num_labels - 1)
    images = draw(st.lists(image(label, max_gt, max_pred), max_size=max_images))
    return Run(images, num_labels)


@st.composite
def thresholds(draw, num_labels: int) -> tuple[list[float], float, float]:
    """Label confidences (some above every score) and τ <= λ (τ = λ and λ = 1 included)."""
    labels = draw(
        st.lists(
            st.sampled_from([0.0, 0.1, 0.5, 0.8, 0.95, 1.0]),
            min_size=num_labels,
            max_size=num_labels,
        )
    )
    tau = draw(OVERLAPS)
    lam = draw(OVERLAPS.filter(lambda v: v >= tau) | st.just(tau) | st.just(1.0))
    return labels, tau, lam
