"""A run's results as files: matrix and per-label CSV, instances CSV, COCO results, run JSON.

Id mapping of the COCO results (and of ``categories`` in the run document):

- ``image_id`` is the portal's image id (``projects.Image.pk``), the id the instances CSV and
  the API use. The project's COCO dataset export renumbers images from 1, so match its
  ``file_name`` (or re-key by these ids) before evaluating against it.
- ``category_id`` is the 1-based position in the run's label order (``run.labels``: model labels
  in model order, then project-only labels), so ``category_id - 1`` is the matrix row/column.
  Stored predictions carry model label indexes, which equal those positions.
- Every stored prediction is listed (down to the run's score floor, not only those kept at the
  run's confidences), so COCO mAP can be computed from the file; coordinates and scores are the
  stored float32 values written exactly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from validation.analysis import line
from validation.analysis import predictions as stored
from validation.analysis.evaluation import Thresholds, macro_averages
from validation.models import InferenceRun, Instance

BOM = "\ufeff"
# Cells starting with these are formulas to Excel and LibreOffice (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
INSTANCE_BATCH = 2000
PREDICTION_BATCH = 10_000

KIND_CODES = {
    Instance.Kind.TRUE_POSITIVE: "true_positive",
    Instance.Kind.CONFUSION: "confusion",
    Instance.Kind.LOC: "poorly_localised",
    Instance.Kind.DUPLICATE: "duplicate",
    Instance.Kind.BACKGROUND: "background",
    Instance.Kind.MISSED: "missed",
}
PER_LABEL_HEADER = [
    "label",
    "confidence",
    "annotations",
    "predictions",
    "tp",
    "precision",
    "recall",
    "f1",
    "ap50",
    "ap50_95",
]
OVERALL_ROW = "(overall, micro-averaged)"
MACRO_ROW = "(macro average)"
# Columns whose CSV name is the Instance field's name.
_SAME_NAME = [
    "score",
    "iou",
    *("px1", "py1", "px2", "py2", "gx1", "gy1", "gx2", "gy2"),
    "annotation_id",
    "prediction_index",
]
INSTANCE_HEADER = [
    *("id", "image_id", "image", "kind", "matrix_row", "matrix_column"),
    *("predicted_label", "actual_label", *_SAME_NAME),
]
# What the query reads per row; _instance_row turns row and actual_label into label names.
_INSTANCE_FIELDS = [
    "id",
    "image_id",
    "image__name",
    "kind",
    "row",
    "col",
    "actual_label",
    *_SAME_NAME,
]


class NoResults(Exception):
    """The run has no results (not evaluated yet, or no stored predictions) to export."""


def csv_cell(value: object) -> str:
    """One cell as text: None is empty, text that a spreadsheet would run is quoted."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    return str(value)


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """Rows as CSV (RFC 4180 quoting, CRLF line ends), every cell through csv_cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return buffer.getvalue()


def require_results(run: InferenceRun) -> None:
    if run.status != InferenceRun.Status.COMPLETED or not run.labels or not run.matrix:
        raise NoResults(f"run {run.pk} has no results ({run.status})")


def matrix_rows(run: InferenceRun) -> list[list[object]]:
    """Header (actual labels, BG, LOC), then one row per predicted label and `{}`."""
    require_results(run)
    labels = list(run.labels)
    header: list[object] = ["predicted \\ actual", *labels, "BG", "LOC"]
    return [header] + [
        [name, *counts] for name, counts in zip(labels + ["{}"], run.matrix, strict=True)
    ]


def effective_confidences(run: InferenceRun) -> dict[str, float]:
    """Per axis label: the confidence its predictions were kept at (its own, or the base)."""
    labels = list(run.labels)
    return dict(zip(labels, Thresholds.of_run(run).vector(labels).tolist(), strict=True))


def per_label_rows(run: InferenceRun) -> list[list[object]]:
    """One row per label, then the overall (micro) row and the macro-average row."""
    require_results(run)
    confidence = effective_confidences(run)
    rows: list[list[object]] = [list(PER_LABEL_HEADER)]
    for name in run.labels:
        m = run.per_label.get(name, {})
        rows.append(
            [
                name,
                confidence[name],
                m.get("annotations"),
                m.get("predictions"),
                m.get("tp"),
                m.get("precision"),
                m.get("recall"),
                m.get("f1"),
                m.get("ap50"),
                m.get("ap50_95"),
            ]
        )
    per_label = [run.per_label.get(name, {}) for name in run.labels]

    def total(key: str) -> int:
        return sum(int(m.get(key) or 0) for m in per_label)

    rows.append(
        [
            OVERALL_ROW,
            run.base_confidence,
            total("annotations"),
            total("predictions"),
            total("tp"),
            run.precision,
            run.recall,
            run.f1,
            run.map50,
            run.map50_95,
        ]
    )
    macro = macro_averages(run.per_label)
    rows.append(
        [
            MACRO_ROW,
            None,
            None,
            None,
            None,
            macro["precision"],
            macro["recall"],
            macro["f1"],
            macro["ap50"],
            macro["ap50_95"],
        ]
    )
    return rows


def matrix_csv(run: InferenceRun) -> str:
    return csv_text(matrix_rows(run))


def per_label_csv(run: InferenceRun) -> str:
    return csv_text(per_label_rows(run))


def _instance_row(values: tuple, labels: list[str], n: int) -> list[object]:
    """One row of _INSTANCE_FIELDS as the CSV's cells: kind and labels by name."""
    pk, image_id, image_name, kind, row, col, actual, *same_name = values
    columns = labels + ["BG", "LOC"]
    return [
        pk,
        image_id,
        image_name,
        KIND_CODES.get(kind, str(kind)),
        labels[row] if row < n else "{}",
        columns[col] if col < len(columns) else col,
        labels[row] if row < n else None,
        labels[actual] if actual is not None else None,
        *same_name,
    ]


def instance_csv_chunks(run: InferenceRun, batch: int = INSTANCE_BATCH) -> Iterator[str]:
    """The instances CSV in pieces of at most `batch` rows, read with a server-side iterator."""
    require_results(run)
    labels = list(run.labels)
    n = len(labels)
    yield csv_text([INSTANCE_HEADER])
    rows = (
        Instance.objects.filter(run_id=run.pk)
        .order_by("row", "col", "id")
        .values_list(*_INSTANCE_FIELDS)
        .iterator(chunk_size=batch)
    )
    pending: list[list[object]] = []
    for values in rows:
        pending.append(_instance_row(values, labels, n))
        if len(pending) >= batch:
            yield csv_text(pending)
            pending = []
    if pending:
        yield csv_text(pending)


def load_predictions(run: InferenceRun) -> stored.StoredPredictions:
    if not run.predictions_file:
        raise NoResults(f"run {run.pk} has no stored predictions ({run.status})")
    try:
        return stored.load(run.predictions_file.name or "")
    except FileNotFoundError:
        raise NoResults(f"run {run.pk}: its predictions file is missing") from None


def coco_results_chunks(
    preds: stored.StoredPredictions, batch: int = PREDICTION_BATCH
) -> Iterator[str]:
    """A COCO results list [{image_id, category_id, bbox [x, y, w, h], score}], in pieces."""
    image_ids = np.repeat(preds.image_ids, np.diff(preds.offsets))
    yield "["
    for start in range(0, preds.count, batch):
        stop = min(start + batch, preds.count)
        boxes = preds.boxes[start:stop].astype(np.float64)
        x, y = boxes[:, 0].tolist(), boxes[:, 1].tolist()
        w, h = (boxes[:, 2] - boxes[:, 0]).tolist(), (boxes[:, 3] - boxes[:, 1]).tolist()
        items = zip(
            image_ids[start:stop].tolist(),
            (preds.labels[start:stop] + 1).tolist(),
            x,
            y,
            w,
            h,
            preds.scores[start:stop].astype(np.float64).tolist(),
            strict=True,
        )
        text = ",\n".join(
            f'{{"image_id": {i}, "category_id": {c}, "bbox": [{x!r}, {y!r}, {w!r}, {h!r}], '
            f'"score": {s!r}}}'
            for i, c, x, y, w, h, s in items
        )
        yield ("\n" if start == 0 else ",\n") + text
    yield "\n]\n"


def coco_results(run: InferenceRun) -> Iterator[str]:
    """The run's stored predictions as COCO results JSON (ids: see the module docstring)."""
    return coco_results_chunks(load_predictions(run))


def _when(value) -> str | None:
    return value.isoformat() if value else None


def line_decision(run: InferenceRun) -> dict | None:
    """The run's line decision (SPEC §9): its ten totals and reject labels; None unevaluated."""
    if not run.line_decision:
        return None
    totals = {key: run.line_decision.get(key) for key in line.TOTAL_KEYS}
    return {**totals, "reject_labels": line.reject_names(list(run.labels), run.reject_labels)}


def run_results(run: InferenceRun) -> dict:
    """The evaluation command's JSON keys plus the run id, status and timing breakdown."""
    labels = list(run.labels)
    return {
        "run": run.pk,
        "status": run.status,
        "error": run.error_message or None,
        "labels": labels,
        "rows": labels + ["{}"],
        "columns": labels + ["BG", "LOC"],
        "matrix": run.matrix,
        "overall": {"precision": run.precision, "recall": run.recall, "f1": run.f1},
        "macro": macro_averages(run.per_label),
        "per_label": {
            name: {k: v for k, v in m.items() if k != "tp"} for name, m in run.per_label.items()
        },
        "map50": run.map50,
        "map50_95": run.map50_95,
        "images": line_decision(run),
        "timing": run.timing,
        "skipped_images": run.skipped_images,
    }


def run_document(run: InferenceRun) -> dict:
    """The whole run as JSON: the evaluation results, its settings, review and id mappings."""
    doc = run_results(run)
    labels = list(run.labels)
    doc.update(
        {
            "process": {"id": run.process_id, "name": run.process.name},
            "model": {"id": run.model_id, "name": run.model.name},
            "project": {"id": run.project_id, "name": run.project.name},
            "created_by": run.created_by.get_username() if run.created_by else None,
            "created_at": _when(run.created_at),
            "started_at": _when(run.started_at),
            "finished_at": _when(run.finished_at),
            "evaluated_at": _when(run.evaluated_at),
            "derived_from": run.derived_from_id,
            "images_total": run.images_total,
            "settings": {
                "base_confidence": run.base_confidence,
                "label_confidences": run.label_threshold_map(),
                "confidences": effective_confidences(run),
                "iou_threshold": run.iou_threshold,
                "low_overlap_threshold": run.low_overlap_threshold,
                "reject_labels": line.reject_names(labels, run.reject_labels),
                "score_floor": run.score_floor,
                "device": run.device,
                "worker_device": run.worker_device,
                "batch_size": run.batch_size,
                "image_size": run.image_size,
            },
            "review": {
                "status": run.review_status,
                "notes": run.review_notes,
                "reviewed_by": run.reviewed_by.get_username() if run.reviewed_by else None,
                "reviewed_at": _when(run.reviewed_at),
            },
            "categories": [{"id": i + 1, "name": name} for i, name in enumerate(labels)],
        }
    )
    return doc


def run_queryset():
    """Runs with what run_document reads, in as few queries as possible."""
    return InferenceRun.objects.select_related(
        "process", "model", "project", "created_by", "reviewed_by"
    ).prefetch_related("label_confidences")
