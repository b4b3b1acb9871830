"""A slow, literal pure-Python reading of SPEC §4, written from the SPEC to check metrics_rs.

Images are lists: annotations ``[(box, label)]`` and predictions ``[(box, label, score)]``;
boxes are ``(x1, y1, x2, y2)`` tuples of floats. Indices in the results are global, in the
order the images and their entries are listed (as in the flat arrays).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

TRUE_POSITIVE, CONFUSION, LOC, DUPLICATE, BACKGROUND, DROPPED = range(6)

Box = tuple[float, float, float, float]
Annotation = tuple[Box, int]
Prediction = tuple[Box, int, float]
Image = tuple[list[Annotation], list[Prediction]]


def area(b: Box) -> float:
    """SPEC §4: continuous coordinates, no +1."""
    return (b[2] - b[0]) * (b[3] - b[1])


def iou(p: Box, g: Box) -> float:
    """Intersection over union; a union of 0 gives 0."""
    inter_w = max(0.0, min(p[2], g[2]) - max(p[0], g[0]))
    inter_h = max(0.0, min(p[3], g[3]) - max(p[1], g[1]))
    inter = inter_w * inter_h
    union = area(p) + area(g) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Result:
    """Everything metrics_rs.evaluate returns, as plain Python values."""

    num_labels: int
    matrix: list[list[int]]
    pred_gt: list[int] = field(default_factory=list)
    pred_iou: list[float] = field(default_factory=list)
    pred_kind: list[int] = field(default_factory=list)
    gt_pred: list[int] = field(default_factory=list)
    gt_labels: list[int] = field(default_factory=list)

    @property
    def tp(self) -> list[int]:
        return [self.matrix[k][k] for k in range(self.num_labels)]

    @property
    def pred_count(self) -> list[int]:
        return [sum(self.matrix[k]) for k in range(self.num_labels)]

    @property
    def gt_count(self) -> list[int]:
        return [self.gt_labels.count(k) for k in range(self.num_labels)]


def ratio(num: int, den: int) -> float:
    """A 0/0 ratio is undefined (NaN here, null when stored)."""
    return num / den if den else math.nan


def f1(tp: int, fp: int, fn: int) -> float:
    """SPEC §4.5: 2·TP / (2·TP + FP + FN); 0 when one side is empty, undefined when both are."""
    return ratio(2 * tp, 2 * tp + fp + fn)


def scores(result: Result) -> dict:
    """Per-label and micro-averaged precision, recall and F1 (SPEC §4.5)."""
    tp, kept, gts = result.tp, result.pred_count, result.gt_count
    precision = [ratio(t, k) for t, k in zip(tp, kept, strict=True)]
    recall = [ratio(t, g) for t, g in zip(tp, gts, strict=True)]
    # False positives: kept predictions of the label off the diagonal (confusion, LOC, BG);
    # false negatives: its annotations not taken by a true positive.
    fp = [k - t for t, k in zip(tp, kept, strict=True)]
    fn = [g - t for t, g in zip(tp, gts, strict=True)]
    return {
        "precision": precision,
        "recall": recall,
        "f1": [f1(*counts) for counts in zip(tp, fp, fn, strict=True)],
        "micro_precision": ratio(sum(tp), sum(kept)),
        "micro_recall": ratio(sum(tp), sum(gts)),
        "micro_f1": f1(sum(tp), sum(fp), sum(fn)),
    }


def evaluate(
    images: list[Image],
    num_labels: int,
    label_thresholds: list[float],
    tau: float,
    lam: float,
) -> Result:
    """SPEC §4.1–4.4 over a list of images."""
    bg, loc_col, empty_row = num_labels, num_labels + 1, num_labels
    res = Result(num_labels, [[0] * (num_labels + 2) for _ in range(num_labels + 1)])
    gt_base = pred_base = 0
    for gts, preds in images:
        res.pred_gt += [0] * len(preds)
        res.pred_iou += [0.0] * len(preds)
        res.pred_kind += [0] * len(preds)
        res.gt_pred += [-1] * len(gts)
        res.gt_labels += [label for _, label in gts]
        # 1. Filter.
        kept = []
        for i, (_, label, score) in enumerate(preds):
            if score >= label_thresholds[label]:
                kept.append(i)
            else:
                res.pred_gt[pred_base + i] = -2
                res.pred_kind[pred_base + i] = DROPPED
        # 2. Order: highest score first, equal scores in emission order (sorted is stable).
        kept.sort(key=lambda i: -preds[i][2])
        # 3. Match.
        taken: set[int] = set()
        for i in kept:
            box, label, _ = preds[i]
            overlaps = [iou(box, g) for g, _ in gts]
            candidates = [j for j in range(len(gts)) if j not in taken and overlaps[j] >= tau]
            tiers = [
                [j for j in candidates if gts[j][1] == label and overlaps[j] >= lam],
                [j for j in candidates if overlaps[j] >= lam],
                candidates,
            ]
            choice = None
            for tier in tiers:
                if tier:
                    best = max(overlaps[j] for j in tier)
                    choice = min(j for j in tier if overlaps[j] == best)
                    break
            p = pred_base + i
            # 4. Cells.
            if choice is None:
                duplicate = any(j in taken and overlaps[j] >= tau for j in range(len(gts)))
                res.pred_gt[p] = -1
                res.pred_kind[p] = DUPLICATE if duplicate else BACKGROUND
                res.matrix[label][bg] += 1
                continue
            taken.add(choice)
            actual = gts[choice][1]
            res.pred_gt[p] = gt_base + choice
            res.pred_iou[p] = overlaps[choice]
            res.gt_pred[gt_base + choice] = p
            if overlaps[choice] >= lam:
                res.pred_kind[p] = TRUE_POSITIVE if actual == label else CONFUSION
                res.matrix[label][actual] += 1
            else:
                res.pred_kind[p] = LOC
                res.matrix[label][loc_col] += 1
        for j, (_, actual) in enumerate(gts):
            if j not in taken:
                res.matrix[empty_row][actual] += 1
        gt_base += len(gts)
        pred_base += len(preds)
    return res


def pair_boxes(
    image_a: list[int], boxes_a: list[Box], image_b: list[int], boxes_b: list[Box], threshold: float
) -> list[tuple[int, int]]:
    """Run comparison's greedy pairing: the numpy loop it ran before metrics_rs.pair_boxes.

    Per image, the IoU matrix of its boxes in a (rows) and in b (columns); repeatedly its first
    maximum in row-major order (np.argmax's), while that reaches ``threshold``, the pair taken
    and its row and column set to -1. Returns (index in a, index in b), ordered by index in a.
    """
    pairs = []
    for image in dict.fromkeys(image_a):
        rows = [i for i, im in enumerate(image_a) if im == image]
        cols = [j for j, im in enumerate(image_b) if im == image]
        ious = [[iou(boxes_a[i], boxes_b[j]) for j in cols] for i in rows]
        while True:
            best = None
            for r, row in enumerate(ious):
                for c, value in enumerate(row):
                    if best is None or value > ious[best[0]][best[1]]:
                        best = (r, c)
            if best is None or ious[best[0]][best[1]] < threshold:
                break
            r, c = best
            pairs.append((rows[r], cols[c]))
            ious[r] = [-1.0] * len(cols)
            for row in ious:
                row[c] = -1.0
    return sorted(pairs)


CAUGHT, ESCAPE, OVERKILL, PASS, SKIPPED = 0, 1, 2, 3, -1


def outcome(actual_ng: bool, called_ng: bool) -> int:
    """SPEC §9: NG called NG is caught, NG called OK an escape, OK called NG an overkill."""
    if actual_ng:
        return CAUGHT if called_ng else ESCAPE
    return OVERKILL if called_ng else PASS


@dataclass
class LineDecision:
    """What metrics_rs.evaluate says of the line decision, as plain Python values."""

    outcomes: list[int]
    by_chance: list[bool]
    label_outcomes: list[list[int]]
    label_by_chance: list[int]
    totals: dict[str, float]


def line_decision(
    images: list[Image], result: Result, reject: set[int], skipped: frozenset[int] = frozenset()
) -> LineDecision:
    """SPEC §9, literally, from the matching `result` of `images` (reference.evaluate's)."""
    outcomes, by_chance = [], []
    label_outcomes = [[0, 0, 0, 0] for _ in range(result.num_labels)]
    label_by_chance = [0] * result.num_labels
    g = p = 0
    for index, (gts, preds) in enumerate(images):
        kept = [k for i, (_, k, _) in enumerate(preds) if result.pred_kind[p + i] != DROPPED]
        actual = [c for _, c in gts]
        # §4: an annotation is matched iff a kept prediction took it (IoU >= τ, any label).
        matched = [result.gt_pred[g + j] >= 0 for j in range(len(gts))]
        g, p = g + len(gts), p + len(preds)
        if index in skipped:
            outcomes.append(SKIPPED)
            by_chance.append(False)
            continue
        code = outcome(any(c in reject for c in actual), any(k in reject for k in kept))
        seen = any(m and c in reject for c, m in zip(actual, matched, strict=True))
        outcomes.append(code)
        by_chance.append(code == CAUGHT and not seen)
        for c in range(result.num_labels):
            code = outcome(c in actual, c in kept)
            label_outcomes[c][code] += 1
            taken = any(m and a == c for a, m in zip(actual, matched, strict=True))
            label_by_chance[c] += code == CAUGHT and not taken
    totals = line_totals(outcomes, by_chance)
    return LineDecision(outcomes, by_chance, label_outcomes, label_by_chance, totals)


def line_totals(outcomes: list[int], by_chance: list[bool]) -> dict[str, float]:
    """The ten totals of SPEC §9; a 0/0 rate is undefined (NaN)."""
    caught, escapes = outcomes.count(CAUGHT), outcomes.count(ESCAPE)
    overkills, passes = outcomes.count(OVERKILL), outcomes.count(PASS)
    return {
        "total": caught + escapes + overkills + passes,
        "actual_ng": caught + escapes,
        "actual_ok": overkills + passes,
        "caught": caught,
        "escapes": escapes,
        "overkills": overkills,
        "passes": passes,
        "caught_by_chance": sum(by_chance),
        "escape_rate": ratio(escapes, caught + escapes),
        "overkill_rate": ratio(overkills, overkills + passes),
    }
