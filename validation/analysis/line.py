"""SPEC §9 as the portal keeps it: a run's reject labels as a mask, its line decision as JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from validation.analysis import predictions as stored

# The line decision's totals, in the order every output lists them.
TOTAL_KEYS = (
    "total",
    "actual_ng",
    "actual_ok",
    "caught",
    "escapes",
    "overkills",
    "passes",
    "caught_by_chance",
    "escape_rate",
    "overkill_rate",
)


def reject_mask(labels: Sequence[str], reject: Sequence[str]) -> np.ndarray:
    """Per axis label: whether it makes a part NG; no setting means every label (SPEC §9)."""
    if not reject:
        return np.ones(len(labels), dtype=bool)
    chosen = set(reject)
    return np.array([name in chosen for name in labels], dtype=bool)


def reject_names(labels: Sequence[str], reject: Sequence[str]) -> list[str]:
    """The reject labels by name, in axis order (every label when none is set)."""
    return [name for name, r in zip(labels, reject_mask(labels, reject), strict=True) if r]


def skip_mask(preds: stored.StoredPredictions) -> np.ndarray:
    """Per image of the run: skipped (unreadable), so in no count of the line decision."""
    return np.isin(preds.image_ids, preds.skipped_ids)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def totals_json(totals: Mapping[str, Any]) -> dict[str, int | float | None]:
    """The crate's ten totals as stored: counts as ints, an undefined rate (NaN) as None."""
    values: dict[str, int | float | None] = {}
    for key in TOTAL_KEYS:
        value = totals[key]
        if key.endswith("_rate"):
            values[key] = None if math.isnan(value) else float(value)
        else:
            values[key] = int(value)
    return values


def outcome_totals(
    caught: int, escapes: int, overkills: int, passes: int, by_chance: int
) -> dict[str, int | float | None]:
    """The ten totals from the four outcome counts and the caught-by-chance count."""
    actual_ng, actual_ok = caught + escapes, overkills + passes
    return {
        "total": actual_ng + actual_ok,
        "actual_ng": actual_ng,
        "actual_ok": actual_ok,
        "caught": caught,
        "escapes": escapes,
        "overkills": overkills,
        "passes": passes,
        "caught_by_chance": by_chance,
        "escape_rate": _rate(escapes, actual_ng),
        "overkill_rate": _rate(overkills, actual_ok),
    }


def per_label_outcomes(ev, labels: Sequence[str]) -> dict[str, dict]:
    """Per label name: its ten totals (truth and decision by that label alone)."""
    rows = np.asarray(ev.label_outcomes).tolist()
    chance = np.asarray(ev.label_by_chance).tolist()
    return {
        name: outcome_totals(caught, escapes, overkills, passes, by_chance)
        for name, (caught, escapes, overkills, passes), by_chance in zip(
            labels, rows, chance, strict=True
        )
    }


# One row per evaluated image (skipped ones have none), stored as ImageDecision.
IMAGE_DTYPE = np.dtype(
    [
        ("image_id", np.int64),
        ("outcome", np.int64),
        ("by_chance", np.bool_),
        ("severity", np.float64),
    ]
)
CAUGHT, ESCAPE, OVERKILL, PASS = 0, 1, 2, 3


def _per_image_max(n_images: int, image_pos: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(n_images, dtype=np.float64)
    np.maximum.at(out, image_pos, values)
    return out


def image_rows(
    ev, preds: stored.StoredPredictions, gt, labels: Sequence[str], reject
) -> np.ndarray:
    """Each evaluated image's outcome and how bad it is, worst first within an outcome:

    an escape by its largest reject-label annotation (area in px²), an overkill by its
    highest-scored kept reject-label prediction, a caught image by chance first, a pass by its
    highest-scored reject-label prediction of any score (how near it came to being rejected).
    """
    n_images = len(preds.image_ids)
    outcome = np.asarray(ev.image_outcome, dtype=np.int64)
    mask = reject_mask(labels, reject)
    pred_pos = np.repeat(np.arange(n_images), np.diff(preds.offsets))
    gt_pos = np.repeat(np.arange(n_images), np.diff(gt.offsets))
    pred_reject = mask[preds.labels] if preds.labels.size else np.zeros(0, dtype=bool)
    kept = np.asarray(ev.pred_kind) != 5  # evaluation.DROPPED
    kept_score = _per_image_max(
        n_images, pred_pos[pred_reject & kept], preds.scores[pred_reject & kept]
    )
    any_score = _per_image_max(n_images, pred_pos[pred_reject], preds.scores[pred_reject])
    gt_reject = mask[gt.labels] if gt.labels.size else np.zeros(0, dtype=bool)
    sides = gt.boxes[gt_reject, 2:] - gt.boxes[gt_reject, :2]
    area = _per_image_max(n_images, gt_pos[gt_reject], sides[:, 0] * sides[:, 1])
    by_chance = np.asarray(ev.image_by_chance, dtype=bool)
    severity = np.select(
        [outcome == ESCAPE, outcome == OVERKILL, outcome == CAUGHT],
        [area, kept_score, by_chance.astype(np.float64)],
        default=any_score,
    )
    evaluated = outcome >= 0
    rows = np.zeros(int(evaluated.sum()), dtype=IMAGE_DTYPE)
    rows["image_id"] = preds.image_ids[evaluated]
    rows["outcome"] = outcome[evaluated]
    rows["by_chance"] = by_chance[evaluated]
    rows["severity"] = severity[evaluated]
    return rows
