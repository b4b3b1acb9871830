"""SPEC §4.1–4.4 as vectorised NumPy: the peer that bench/metrics.py times metrics_rs against.

The greedy matching is sequential within an image, so the loop runs over visiting ranks and
processes every image's prediction of that rank at once: padded (images, ranks, annotations)
IoU tensors, tiers as masks, `argmax` for "highest IoU, ties to the first listed". Images are
taken in blocks so that the tensors stay a few tens of MB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRUE_POSITIVE, CONFUSION, LOC, DUPLICATE, BACKGROUND, DROPPED = range(6)


@dataclass
class Result:
    matrix: np.ndarray
    pred_gt: np.ndarray
    pred_iou: np.ndarray
    pred_kind: np.ndarray
    gt_pred: np.ndarray


def _padded(offsets: np.ndarray, index: np.ndarray, image: np.ndarray, width: int):
    """Slot (image, rank) -> global index, -1 where empty."""
    slots = np.full((len(offsets) - 1, width), -1, dtype=np.int64)
    rank = np.arange(len(index)) - offsets[image]
    slots[image, rank] = index
    return slots


def _iou(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """IoU of (I, P, 4) with (I, G, 4) -> (I, P, G); the same operations as metrics_rs."""
    px1, py1, px2, py2 = (p[:, :, None, k] for k in range(4))
    gx1, gy1, gx2, gy2 = (g[:, None, :, k] for k in range(4))
    w = np.minimum(px2, gx2) - np.maximum(px1, gx1)
    h = np.minimum(py2, gy2) - np.maximum(py1, gy1)
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    union = (px2 - px1) * (py2 - py1) + (gx2 - gx1) * (gy2 - gy1) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def evaluate(
    gt_boxes,
    gt_labels,
    gt_offsets,
    pred_boxes,
    pred_labels,
    pred_scores,
    pred_offsets,
    *,
    num_labels,
    label_thresholds,
    iou_threshold,
    low_overlap_threshold,
    block=1000,
) -> Result:
    """Same inputs and outputs as metrics_rs.evaluate."""
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64)
    pred_boxes = np.asarray(pred_boxes, dtype=np.float64)
    gt_offsets, pred_offsets = np.asarray(gt_offsets), np.asarray(pred_offsets)
    n_img = len(gt_offsets) - 1
    m, n = len(pred_scores), len(gt_labels)
    pred_image = np.repeat(np.arange(n_img), np.diff(pred_offsets))
    gt_image = np.repeat(np.arange(n_img), np.diff(gt_offsets))

    kept = pred_scores >= np.asarray(label_thresholds)[pred_labels]
    pred_gt = np.where(kept, -1, -2).astype(np.int64)
    pred_kind = np.where(kept, BACKGROUND, DROPPED).astype(np.int8)
    pred_iou = np.zeros(m)
    gt_pred = np.full(n, -1, dtype=np.int64)

    # Visiting order: image, then score descending, then emission order.
    kept_idx = np.flatnonzero(kept)
    order = kept_idx[np.lexsort((kept_idx, -pred_scores[kept_idx], pred_image[kept_idx]))]
    kept_counts = np.bincount(pred_image[order], minlength=n_img)
    kept_offsets = np.concatenate([[0], np.cumsum(kept_counts)])
    width_p = int(kept_counts.max(initial=0))
    width_g = int(np.diff(gt_offsets).max(initial=0))
    pslot = _padded(kept_offsets, order, pred_image[order], width_p)
    gslot = _padded(gt_offsets, np.arange(n), gt_image, width_g)

    for start in range(0, n_img, block):
        ps, gs = pslot[start : start + block], gslot[start : start + block]
        _match_block(
            ps,
            gs,
            gt_boxes,
            gt_labels,
            pred_boxes,
            pred_labels,
            iou_threshold,
            low_overlap_threshold,
            pred_gt,
            pred_iou,
            pred_kind,
            gt_pred,
        )

    cols = num_labels + 2
    matched = pred_gt >= 0
    actual = np.where(matched, gt_labels[np.where(matched, pred_gt, 0)] if n else 0, 0)
    col = np.select(
        [pred_kind == LOC, (pred_kind == DUPLICATE) | (pred_kind == BACKGROUND)],
        [num_labels + 1, num_labels],
        default=actual,
    )
    cells = (pred_labels * cols + col)[kept]
    missed = num_labels * cols + gt_labels[gt_pred < 0]
    matrix = np.bincount(
        np.concatenate([cells, missed]).astype(np.int64), minlength=(num_labels + 1) * cols
    ).reshape(num_labels + 1, cols)
    return Result(matrix, pred_gt, pred_iou, pred_kind, gt_pred)


def _match_block(
    ps,
    gs,
    gt_boxes,
    gt_labels,
    pred_boxes,
    pred_labels,
    tau,
    lam,
    pred_gt,
    pred_iou,
    pred_kind,
    gt_pred,
) -> None:
    """Greedy matching of a block of images, one visiting rank at a time."""
    rows = np.arange(len(ps))
    gvalid = gs >= 0
    gsafe = np.where(gvalid, gs, 0)
    glabel = np.where(gvalid, gt_labels[gsafe] if len(gt_labels) else 0, -1)
    gbox = np.where(gvalid[..., None], gt_boxes[gsafe] if len(gt_labels) else 0.0, 0.0)
    pvalid = ps >= 0
    psafe = np.where(pvalid, ps, 0)
    pbox = np.where(pvalid[..., None], pred_boxes[psafe] if len(pred_labels) else 0.0, 0.0)
    ious = _iou(pbox, gbox)  # (B, P, G)
    taken = np.zeros(gs.shape, dtype=bool)
    for r in range(ps.shape[1]):
        active = pvalid[:, r]
        if not active.any():
            break
        rr, p = rows[active], ps[active, r]
        iou_r = ious[active, r, :]
        over = gvalid[active] & (iou_r >= tau)
        cand = over & ~taken[active]
        high = cand & (iou_r >= lam)
        same = high & (glabel[active] == pred_labels[p][:, None])
        choice = np.full(len(rr), -1)
        for tier in (cand, high, same):  # the last one assigned wins: same, then high, then any
            has = tier.any(axis=1)
            best = np.argmax(np.where(tier, iou_r, -1.0), axis=1)
            choice = np.where(has, best, choice)
        hit = choice >= 0
        j = np.where(hit, choice, 0)
        value = iou_r[np.arange(len(rr)), j]
        g = gs[rr, j]
        taken[rr[hit], j[hit]] = True
        gt_pred[g[hit]] = p[hit]
        pred_gt[p[hit]] = g[hit]
        pred_iou[p[hit]] = value[hit]
        same_label = gt_labels[g[hit]] == pred_labels[p[hit]]
        pred_kind[p[hit]] = np.where(
            value[hit] < lam, LOC, np.where(same_label, TRUE_POSITIVE, CONFUSION)
        )
        dup = ~hit & over.any(axis=1)
        pred_kind[p[dup]] = DUPLICATE
