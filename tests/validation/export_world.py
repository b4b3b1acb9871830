"""A run evaluated for real by metrics_rs from a small stored predictions file, known by heart.

World (run_world): three images, each annotated scratch (20,20,80,70), dent (150,100,200,160),
crack (250,30,300,60). Axis labels: scratch, dent, 划痕 (model), crack (project only).
IoU 0.3, low overlap 0.5, base confidence 0.25, dent's own confidence 0.5.
"""

from __future__ import annotations

import numpy as np

from projects.models import Image
from validation.analysis import predictions as stored
from validation.analysis.evaluation import evaluate_stored_run, store_evaluation
from validation.models import InferenceRun, LabelConfidence

LABELS = ["scratch", "dent", "划痕", "crack"]
SCRATCH, DENT, HUAHEN = 0, 1, 2

# Per image, in the order the model emitted them: (label, score, box).
PREDICTIONS = [
    [
        (SCRATCH, 0.9, (20, 20, 80, 70)),  # true positive
        (DENT, 0.3, (150, 100, 200, 160)),  # below dent's 0.5: dropped, yet in COCO AP
        (HUAHEN, 0.6, (100, 180, 140, 220)),  # background
    ],
    [
        (SCRATCH, 0.8, (250, 30, 300, 60)),  # on the crack: confusion
        (DENT, 0.7, (150, 100, 200, 160)),  # true positive
        (DENT, 0.65, (151, 101, 200, 160)),  # duplicate
    ],
    [
        (HUAHEN, 0.55, (20, 20, 80, 40)),  # IoU 0.4 with the scratch: LOC
    ],
]

MATRIX = [
    [1, 0, 0, 1, 0, 0],
    [0, 1, 0, 0, 1, 0],
    [0, 0, 0, 0, 1, 1],
    [0, 0, 0, 0, 0, 0],
    [1, 2, 0, 2, 0, 0],
]
# COCO AP (101 points), the same at every IoU threshold since the true positives are exact.
AP = {"scratch": 34 / 101, "dent": 56 / 101, "划痕": None, "crack": 0.0}
MAP = (34 / 101 + 56 / 101 + 0.0) / 3


def f32(value: float) -> float:
    return float(np.float32(value))


def stored_predictions(image_ids: list[int]) -> stored.StoredPredictions:
    chosen = PREDICTIONS[: len(image_ids)]
    items = [item for per_image in chosen for item in per_image]
    counts = [len(per_image) for per_image in chosen]
    return stored.StoredPredictions(
        image_ids=np.array(image_ids, dtype=np.int64),
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        boxes=np.array([box for _l, _s, box in items], dtype=np.float32).reshape(-1, 4),
        scores=np.array([score for _l, score, _b in items], dtype=np.float32),
        labels=np.array([label for label, _s, _b in items], dtype=np.int32),
        skipped_ids=np.zeros(0, dtype=np.int64),
    )


def validation_images(project) -> list[Image]:
    return list(project.validation_images().order_by("id"))


def make_evaluated_run(project, model, user, **fields) -> InferenceRun:
    """A completed run whose matrix, metrics and instances metrics_rs computed."""
    images = validation_images(project)
    values = {
        "base_confidence": 0.25,
        "device": "cpu",
        "batch_size": 8,
        "image_size": 640,
        "iou_threshold": 0.3,
        "low_overlap_threshold": 0.5,
        "status": InferenceRun.Status.COMPLETED,
        "images_total": len(images),
        "images_done": len(images),
        "timing": {"load": 0.1, "model": 0.2, "total": 0.3},
        **fields,
    }
    run = InferenceRun.objects.create(
        process=model.process, model=model, project=project, created_by=user, **values
    )
    LabelConfidence.objects.create(run=run, label_name="dent", confidence=0.5, base_confidence=0.25)
    run.predictions_file.name = stored.save(run.pk, stored_predictions([i.pk for i in images]))
    run.save(update_fields=["predictions_file"])
    store_evaluation(run, evaluate_stored_run(run))
    run.refresh_from_db()
    return run


def make_run_without_predictions(project, model, user, **fields) -> InferenceRun:
    """The same annotated images, but the model returned nothing for any of them."""
    run = make_evaluated_run(project, model, user, **fields)
    images = [i.pk for i in validation_images(project)]
    empty = stored.StoredPredictions(
        image_ids=np.array(images, dtype=np.int64),
        offsets=np.zeros(len(images) + 1, dtype=np.int64),
        boxes=np.zeros((0, 4), dtype=np.float32),
        scores=np.zeros(0, dtype=np.float32),
        labels=np.zeros(0, dtype=np.int32),
        skipped_ids=np.zeros(0, dtype=np.int64),
    )
    run.predictions_file.name = stored.save(run.pk, empty)
    run.save(update_fields=["predictions_file"])
    store_evaluation(run, evaluate_stored_run(run))
    run.refresh_from_db()
    return run
