"""Database rows ⇄ flat arrays: feed a run to metrics_rs and store what comes back."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

import metrics_rs
from projects.models import Annotation
from validation.analysis import line
from validation.analysis import predictions as stored
from validation.analysis.coco import metrics_summary
from validation.models import ImageDecision, InferenceRun, Instance

MISSED = Instance.Kind.MISSED.value
DROPPED = 5


@dataclass(frozen=True)
class Thresholds:
    """What a run is matched at: base and per-label confidences, IoU and low-overlap thresholds."""

    base: float
    per_label: dict[str, float]
    iou: float
    low_overlap: float

    @classmethod
    def of_run(cls, run: InferenceRun) -> Thresholds:
        return cls(
            base=run.base_confidence,
            per_label=run.label_threshold_map(),
            iou=run.iou_threshold,
            low_overlap=run.low_overlap_threshold,
        )

    def vector(self, labels: list[str]) -> np.ndarray:
        """Per axis label: its own confidence, or the base (SPEC §4.1)."""
        return np.array([max(self.base, self.per_label.get(n, self.base)) for n in labels])


@dataclass(frozen=True)
class GroundTruth:
    boxes: np.ndarray  # float64 (N,4)
    labels: np.ndarray  # int64 (N,) axis index
    offsets: np.ndarray  # int64 (I+1,)
    annotation_ids: np.ndarray  # int64 (N,)


@dataclass
class Evaluation:
    labels: list[str]
    matrix: np.ndarray
    overall: dict[str, float | None]
    per_label: dict[str, dict[str, float | int | None]]
    map50: float | None
    map50_95: float | None
    instances: np.ndarray  # structured rows for Instance, see _instance_rows
    # SPEC §9: the ten totals of the line decision (see line.TOTAL_KEYS).
    line_decision: dict[str, int | float | None] = field(default_factory=dict)
    # SPEC §9 per image: structured rows of line.IMAGE_DTYPE, stored as ImageDecision.
    images: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=line.IMAGE_DTYPE))


def axis_labels(model_labels: list[str], project_labels: list[str]) -> list[str]:
    """Model labels in model order, then project-only labels in project order (SPEC §4.6)."""
    seen = set(model_labels)
    return list(model_labels) + [name for name in project_labels if name not in seen]


def run_axis_labels(run: InferenceRun) -> list[str]:
    project_labels = list(run.project.labels.order_by("order", "id").values_list("name", flat=True))
    return axis_labels(list(run.model.label_names), project_labels)


def load_ground_truth(preds: stored.StoredPredictions, labels: list[str]) -> GroundTruth:
    """Current annotations of the run's images, in run order; skipped images have none."""
    index_of_label = {name: i for i, name in enumerate(labels)}
    position = {int(image_id): i for i, image_id in enumerate(preds.image_ids)}
    skipped = {int(i) for i in preds.skipped_ids}
    rows = [
        row
        for row in Annotation.objects.filter(image_id__in=list(position))
        .order_by("id")
        .values_list("image_id", "label__name", "x1", "y1", "x2", "y2", "id")
        .iterator(chunk_size=10_000)
        if row[0] not in skipped
    ]
    count = len(rows)
    image_pos = np.fromiter((position[r[0]] for r in rows), dtype=np.int64, count=count)
    order = np.argsort(image_pos, kind="stable")
    boxes = np.array([r[2:6] for r in rows], dtype=np.float64).reshape(-1, 4)[order]
    label_idx = np.fromiter((index_of_label[r[1]] for r in rows), dtype=np.int64, count=count)
    ids = np.fromiter((r[6] for r in rows), dtype=np.int64, count=count)
    counts = np.bincount(image_pos, minlength=len(position))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return GroundTruth(boxes, label_idx[order], offsets, ids[order])


def summarise(
    labels: list[str], ev: metrics_rs.Evaluation, ap: np.ndarray
) -> tuple[dict, dict, float | None, float | None]:
    """Overall (micro) and per-label precision/recall/F1, AP, counts (SPEC §4.5, §4.7).

    The crate computes the ratios; this is the command line's summary plus each label's true
    positives, so the run page, the what-if and `python -m validation.evaluate` agree.
    """
    summary = metrics_summary(ev, ap, labels)
    per_label = summary["per_label"]
    for name, tp in zip(labels, np.asarray(ev.tp), strict=True):
        per_label[name]["tp"] = int(tp)
    return summary["overall"], per_label, summary["map50"], summary["map50_95"]


def macro_averages(per_label: dict[str, dict]) -> dict[str, float | None]:
    """Mean over labels of each defined metric; undefined ones are left out (SPEC §4.5).

    F1 is undefined only for a label with neither annotations nor kept predictions: the 0 of a
    label never predicted (or never annotated) counts, so the macro F1 is not flattered by it.
    """
    result: dict[str, float | None] = {}
    for key in ("precision", "recall", "f1", "ap50", "ap50_95"):
        values = [m[key] for m in per_label.values() if m.get(key) is not None]
        result[key] = sum(values) / len(values) if values else None
    return result


def crate_arrays(preds: stored.StoredPredictions, gt: GroundTruth) -> tuple[np.ndarray, ...]:
    """The seven positional arrays every metrics_rs call takes: annotations, then predictions."""
    return (
        gt.boxes,
        gt.labels,
        gt.offsets,
        preds.boxes,
        preds.labels,
        preds.scores,
        preds.offsets,
    )


def match_predictions(
    preds: stored.StoredPredictions,
    gt: GroundTruth,
    labels: list[str],
    thresholds: Thresholds,
    reject: Sequence[str] = (),
) -> metrics_rs.Evaluation:
    """The matching of the whole run at these thresholds and its line decision with these
    reject labels (none: every label), skipped images left out (SPEC §4.1-4.4, §9)."""
    return metrics_rs.evaluate(
        *crate_arrays(preds, gt),
        num_labels=len(labels),
        label_thresholds=thresholds.vector(labels),
        iou_threshold=thresholds.iou,
        low_overlap_threshold=thresholds.low_overlap,
        reject_labels=line.reject_mask(labels, reject),
        skip_images=line.skip_mask(preds),
    )


def average_precision(preds: stored.StoredPredictions, gt: GroundTruth, n: int) -> np.ndarray:
    """COCO AP per label, ``(n, 10)``, over all stored predictions (SPEC §4.7)."""
    return metrics_rs.coco_ap(
        *crate_arrays(preds, gt),
        num_labels=n,
    )


def sweep_predictions(
    preds: stored.StoredPredictions,
    gt: GroundTruth,
    n: int,
    iou: float,
    low_overlap: float,
    confidences: np.ndarray | None = None,
) -> metrics_rs.Sweep:
    """Per-label precision, recall and F1 with every label at each of these confidences."""
    return metrics_rs.sweep(
        *crate_arrays(preds, gt),
        num_labels=n,
        iou_threshold=iou,
        low_overlap_threshold=low_overlap,
        thresholds=confidences,
    )


def line_results(
    ev: metrics_rs.Evaluation, labels: list[str], per_label: dict[str, dict]
) -> dict[str, int | float | None]:
    """The line decision's ten totals; each label's own under "images" in `per_label`."""
    for name, images in line.per_label_outcomes(ev, labels).items():
        per_label[name]["images"] = images
    return line.totals_json(ev.line_totals)


def evaluate_predictions(
    preds: stored.StoredPredictions,
    gt: GroundTruth,
    labels: list[str],
    thresholds: Thresholds,
    ap: np.ndarray | None = None,
    reject: Sequence[str] = (),
) -> Evaluation:
    """One call into metrics_rs for the whole run, then cells, metrics and line decision."""
    # AP does not depend on the thresholds: a caller holding it for these arrays passes it in.
    n = len(labels)
    ev = match_predictions(preds, gt, labels, thresholds, reject)
    if ap is None:
        ap = average_precision(preds, gt, n)
    matrix = np.asarray(ev.matrix, dtype=np.int64)
    overall, per_label, map50, map50_95 = summarise(labels, ev, ap)
    totals = line_results(ev, labels, per_label)
    rows = _instance_rows(preds, gt, ev, n)
    images = line.image_rows(ev, preds, gt, labels, reject)
    return Evaluation(labels, matrix, overall, per_label, map50, map50_95, rows, totals, images)


_INSTANCE_DTYPE = np.dtype(
    [
        ("image_id", np.int64),
        ("row", np.int64),
        ("col", np.int64),
        ("kind", np.int64),
        ("actual_label", np.int64),
        ("annotation_id", np.int64),
        ("prediction_index", np.int64),
        ("score", np.float64),
        ("iou", np.float64),
        ("px1", np.float64),
        ("py1", np.float64),
        ("px2", np.float64),
        ("py2", np.float64),
        ("gx1", np.float64),
        ("gy1", np.float64),
        ("gx2", np.float64),
        ("gy2", np.float64),
    ]
)


def _instance_rows(preds, gt: GroundTruth, ev, n: int) -> np.ndarray:
    """Every matrix entry as one structured row: kept predictions, then missed annotations."""
    pred_kind = np.asarray(ev.pred_kind)
    pred_gt = np.asarray(ev.pred_gt)
    gt_pred = np.asarray(ev.gt_pred)
    pred_image = np.repeat(preds.image_ids, np.diff(preds.offsets))
    gt_image = np.repeat(preds.image_ids, np.diff(gt.offsets))

    kept = np.flatnonzero(pred_kind != DROPPED)
    matched = pred_gt[kept]
    has_gt = matched >= 0
    safe = np.where(has_gt, matched, 0)
    p = np.zeros(kept.size, dtype=_INSTANCE_DTYPE)
    p["image_id"] = pred_image[kept]
    p["row"] = preds.labels[kept]
    kinds = pred_kind[kept].astype(np.int64)
    p["kind"] = kinds
    actual = np.where(has_gt, gt.labels[safe] if gt.labels.size else 0, -1)
    p["col"] = np.where(kinds == 2, n + 1, np.where(has_gt, actual, n))
    p["actual_label"] = actual
    p["annotation_id"] = np.where(has_gt, gt.annotation_ids[safe] if gt.labels.size else 0, -1)
    p["prediction_index"] = kept
    p["score"] = preds.scores[kept]
    p["iou"] = np.where(has_gt, np.asarray(ev.pred_iou)[kept], np.nan)
    for k, name in enumerate(("px1", "py1", "px2", "py2")):
        p[name] = preds.boxes[kept, k]
    gboxes = gt.boxes[safe] if gt.labels.size else np.zeros((kept.size, 4))
    for k, name in enumerate(("gx1", "gy1", "gx2", "gy2")):
        p[name] = np.where(has_gt, gboxes[:, k], np.nan)

    missed = np.flatnonzero(gt_pred < 0)
    m = np.zeros(missed.size, dtype=_INSTANCE_DTYPE)
    m["image_id"] = gt_image[missed]
    m["row"] = n
    m["col"] = gt.labels[missed]
    m["kind"] = MISSED
    m["actual_label"] = gt.labels[missed]
    m["annotation_id"] = gt.annotation_ids[missed]
    m["prediction_index"] = -1
    for name in ("score", "iou", "px1", "py1", "px2", "py2"):
        m[name] = np.nan
    for k, name in enumerate(("gx1", "gy1", "gx2", "gy2")):
        m[name] = gt.boxes[missed, k]
    return np.concatenate([p, m])


def write_instances(run_id: int, rows: np.ndarray) -> None:
    """Insert instance rows with executemany (SQLite) or COPY (PostgreSQL), not bulk_create.

    bulk_create builds a model object per row and is several times slower for 100k rows.
    """
    # In cell order, so the cell index grows at its end and a drill-down reads adjacent pages.
    rows = rows[np.lexsort((rows["image_id"], rows["col"], rows["row"]))]
    table = Instance._meta.db_table
    names: tuple[str, ...] = _INSTANCE_DTYPE.names or ()
    columns = ["run_id", *names]
    nullable_int = {"actual_label", "annotation_id", "prediction_index"}

    def column(name: str) -> list:
        values = rows[name].tolist()
        if name in nullable_int:
            return [None if v < 0 else v for v in values]
        if rows.dtype[name].kind == "f":
            return [None if v != v else v for v in values]  # NaN -> NULL
        return values

    cols = [column(name) for name in names]
    params = [(run_id, *vals) for vals in zip(*cols, strict=True)] if rows.size else []
    _insert(table, columns, params)


def write_image_decisions(run_id: int, rows: np.ndarray) -> None:
    """Insert the run's per-image outcomes (line.image_rows), the same way as its instances."""
    columns = ["run_id", "image_id", "outcome", "by_chance", "severity"]
    values = zip(
        rows["image_id"].tolist(),
        rows["outcome"].tolist(),
        rows["by_chance"].tolist(),
        rows["severity"].tolist(),
        strict=True,
    )
    _insert(ImageDecision._meta.db_table, columns, [(run_id, *row) for row in values])


def _insert(table: str, columns: list[str], params: list[tuple]) -> None:
    """Rows into table: COPY on PostgreSQL, executemany in chunks elsewhere."""
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY streams the rows in one command: several times faster than executemany.
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in params:
                    copy.write_row(row)
            return
        for start in range(0, len(params), 20_000):
            cursor.executemany(sql, params[start : start + 20_000])


def result_fields(result: Evaluation) -> dict[str, object]:
    """The InferenceRun columns that hold an evaluation's results, stamped evaluated now."""
    return dict(
        labels=result.labels,
        matrix=result.matrix.tolist(),
        precision=result.overall["precision"],
        recall=result.overall["recall"],
        f1=result.overall["f1"],
        per_label=result.per_label,
        map50=result.map50,
        map50_95=result.map50_95,
        line_decision=result.line_decision,
        evaluated_at=timezone.now(),
    )


def store_evaluation(run: InferenceRun, result: Evaluation, **fields) -> None:
    """Replace the run's instances and results in one transaction (whole or not at all)."""
    with transaction.atomic():
        Instance.objects.filter(run_id=run.pk).delete()
        ImageDecision.objects.filter(run_id=run.pk).delete()
        write_instances(run.pk, result.instances)
        write_image_decisions(run.pk, result.images)
        values = result_fields(result)
        values.update(fields)
        InferenceRun.objects.filter(pk=run.pk).update(**values)


def evaluate_stored_run(run: InferenceRun, thresholds: Thresholds | None = None) -> Evaluation:
    """Recompute a run from its stored predictions and the current annotations, without a model."""
    preds = stored.load(str(run.predictions_file.name))
    labels = run_axis_labels(run)
    gt = load_ground_truth(preds, labels)
    thresholds = thresholds or Thresholds.of_run(run)
    return evaluate_predictions(preds, gt, labels, thresholds, reject=run.reject_labels)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start
