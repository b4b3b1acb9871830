"""A run evaluated for real by metrics_rs from a small stored predictions file, known by heart.

World (run_world): three images, each annotated scratch (20,20,80,70), dent (150,100,200,160),
crack (250,30,300,60). Axis labels: scratch, dent, 划痕 (model), crack (project only).
IoU 0.3, low overlap 0.5, base confidence 0.25, dent's own confidence 0.5.
"""

from __future__ import annotations

import numpy as np

from projects.models import Image
from tests import run_builders
from validation.analysis import predictions as stored
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


# A run's five downloads: (URL name, content type, file name).
DOWNLOADS = [
    ("validation:export-matrix-csv", "text/csv; charset=utf-8", "matrix.csv"),
    ("validation:export-per-label-csv", "text/csv; charset=utf-8", "per-label.csv"),
    ("validation:export-instances-csv", "text/csv; charset=utf-8", "instances.csv"),
    ("validation:export-predictions-json", "application/json; charset=utf-8", "predictions.json"),
    ("validation:export-run-json", "application/json; charset=utf-8", "run.json"),
]


def f32(value: float) -> float:
    return float(np.float32(value))


def stored_predictions(image_ids: list[int]) -> stored.StoredPredictions:
    chosen = PREDICTIONS[: len(image_ids)]
    per_image = [[(box, label, score) for label, score, box in row] for row in chosen]
    return run_builders.stored_predictions(image_ids, per_image)


def validation_images(project) -> list[Image]:
    return list(project.validation_images().order_by("id"))


def make_known_run(project, model, user, **fields) -> InferenceRun:
    """The completed run known by heart: dent's own confidence 0.5, PREDICTIONS evaluated by
    metrics_rs (matrix MATRIX, AP)."""
    values = {"iou_threshold": 0.3, "timing": {"load": 0.1, "model": 0.2, "total": 0.3}, **fields}
    run = run_builders.new_completed_run(project, model, user, **values)
    LabelConfidence.objects.create(run=run, label_name="dent", confidence=0.5, base_confidence=0.25)
    image_ids = [image.pk for image in validation_images(project)]
    return run_builders.evaluate(run, stored_predictions(image_ids))


def make_run_without_predictions(project, model, user, **fields) -> InferenceRun:
    """The same annotated images, but the model returned nothing for any of them."""
    run = make_known_run(project, model, user, **fields)
    images = [i.pk for i in validation_images(project)]
    return run_builders.evaluate(run, run_builders.stored_predictions(images, [[] for _ in images]))
