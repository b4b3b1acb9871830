"""Runs built as the tests and benchmarks need them, the way the wizard and a worker leave them.

`new_run` is the row with the usual settings (queued unless told otherwise); `evaluated_run`
saves a stored predictions file for a completed run and has metrics_rs evaluate it;
`start_as_the_wizard` queues a run for a real worker. Imported by bench/ too (after Django is
set up), so it imports nothing from pytest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from projects.models import Project
from validation.analysis import evaluation, predictions
from validation.models import DetectionModel, InferenceRun
from validation.runs.start import start_run

# The settings most test runs have; a run that needs others says so.
RUN_SETTINGS = {
    "base_confidence": 0.25,
    "device": "cpu",
    "batch_size": 8,
    "image_size": 640,
    "iou_threshold": 0.5,
    "low_overlap_threshold": 0.5,
}

# Step 3 of the wizard with the usual settings, as its form posts them.
STEP3_FIELDS = {
    "device": "cpu",
    "batch_size": "8",
    "image_size": "640",
    "iou_threshold": "0.5",
    "low_overlap_threshold": "0.5",
}

Box = Sequence[float]
# One prediction: (box x1, y1, x2, y2, model label index, score).
Prediction = tuple[Box, int, float]

# The line decision's ten keys as issue 16 fixes them, written out here rather than taken from
# validation.analysis.line, so the outputs are checked against the issue, not against themselves.
LINE_DECISION_KEYS = frozenset(
    {
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
    }
)


def new_run(project: Project, model: DetectionModel, user=None, **fields) -> InferenceRun:
    """A run's row of the model's process with the usual settings; `fields` override them."""
    values = {**RUN_SETTINGS, **fields}
    return InferenceRun.objects.create(
        process=model.process, model=model, project=project, created_by=user, **values
    )


def new_completed_run(project: Project, model: DetectionModel, user, **fields) -> InferenceRun:
    """A completed run's row over every validation image of the project (no results yet)."""
    images = project.validation_images().count()
    values = {
        "status": InferenceRun.Status.COMPLETED,
        "images_total": images,
        "images_done": images,
        **fields,
    }
    return new_run(project, model, user, **values)


def stored_predictions(
    image_ids: Sequence[int], per_image: Sequence[Sequence[Prediction]]
) -> predictions.StoredPredictions:
    """The stored-predictions arrays of these images, each with its (box, label, score) list."""
    flat = [p for row in per_image for p in row]
    return predictions.StoredPredictions(
        image_ids=np.array(image_ids, dtype=np.int64),
        offsets=np.concatenate([[0], np.cumsum([len(r) for r in per_image])]).astype(np.int64),
        boxes=np.array([p[0] for p in flat], dtype=np.float32).reshape(-1, 4),
        scores=np.array([p[2] for p in flat], dtype=np.float32),
        labels=np.array([p[1] for p in flat], dtype=np.int32),
        skipped_ids=np.zeros(0, dtype=np.int64),
    )


def save_predictions(run: InferenceRun, stored: predictions.StoredPredictions) -> None:
    """Write the run's stored predictions file, as the worker does at the end of a run."""
    run.predictions_file.name = predictions.save(run.pk, stored)
    run.save(update_fields=["predictions_file"])


def evaluate(run: InferenceRun, stored: predictions.StoredPredictions) -> InferenceRun:
    """Save the predictions, evaluate them with metrics_rs and store the results; the run again."""
    save_predictions(run, stored)
    evaluation.store_evaluation(run, evaluation.evaluate_stored_run(run))
    run.refresh_from_db()
    return run


def validation_image_ids(project: Project) -> list[int]:
    """The ids of the project's validation images, in id order."""
    return list(project.validation_images().order_by("id").values_list("pk", flat=True))


def evaluated_run(
    project: Project,
    model: DetectionModel,
    user,
    per_image: Sequence[Sequence[Prediction]],
    **fields,
) -> InferenceRun:
    """A completed run whose predictions, image by image in id order, metrics_rs evaluated.

    `per_image` may be shorter than the project's validation images: the rest got none.
    """
    image_ids = validation_image_ids(project)
    rows = [per_image[i] if i < len(per_image) else [] for i in range(len(image_ids))]
    run = new_completed_run(project, model, user, **fields)
    return evaluate(run, stored_predictions(image_ids, rows))


def start_as_the_wizard(model: DetectionModel, project: Project, user, **settings) -> InferenceRun:
    """Queue a run as the wizard's last step does: base confidence 0.3, no label confidences,
    batches of 4 at the tiny test models' 64 px on the CPU, IoU and low overlap 0.5."""
    values = {
        "base_confidence": 0.3,
        "label_confidences": {},
        "device": "cpu",
        "batch_size": 4,
        "image_size": 64,
        "iou_threshold": 0.5,
        "low_overlap_threshold": 0.5,
        **settings,
    }
    return start_run(user=user, model=model, project=project, **values)
