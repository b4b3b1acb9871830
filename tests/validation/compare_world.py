"""Two runs of one project, evaluated by metrics_rs from stored predictions, that differ on purpose.

Every image of the world's project has a scratch (20,20,80,70), a dent (150,100,200,160) and a
crack (250,30,300,60). Run a's model lacks "crack"; run b's model has it, in another label order.
"""

from __future__ import annotations

import numpy as np

from tests.validation.run_world import World, make_model
from validation.analysis import evaluation, predictions
from validation.models import DetectionModel, InferenceRun

B_LABELS = ["dent", "scratch", "crack", "划痕"]
SCRATCH = (21, 21, 79, 71)
DENT = (150, 100, 200, 160)
CRACK = (250, 30, 300, 60)

# Per image position: (box, model label index, score).
A_PREDICTIONS = {
    0: [(SCRATCH, 0, 0.95), (DENT, 1, 0.90), ((100, 180, 140, 220), 0, 0.60)],
    1: [(SCRATCH, 0, 0.95), (DENT, 1, 0.90)],
    2: [(SCRATCH, 0, 0.95)],
}
B_PREDICTIONS = {
    # scratch now missed; crack found; the same false alarm, slightly moved
    0: [(DENT, 0, 0.90), (CRACK, 2, 0.80), ((101, 181, 141, 221), 1, 0.60)],
    # the dent predicted as scratch (a confusion); a new false alarm of dent
    1: [(SCRATCH, 1, 0.95), (DENT, 1, 0.85), ((10, 150, 50, 190), 0, 0.70)],
    # the dent found now
    2: [(SCRATCH, 1, 0.95), (DENT, 0, 0.90)],
}


def evaluated_run(world: World, model: DetectionModel, per_image: dict, **fields) -> InferenceRun:
    """A completed run: predictions saved as a worker would, then evaluated by metrics_rs."""
    project = world.project
    image_ids = list(project.validation_images().order_by("id").values_list("pk", flat=True))
    values = {
        "base_confidence": 0.25,
        "device": "cpu",
        "batch_size": 8,
        "image_size": 640,
        "iou_threshold": 0.5,
        "low_overlap_threshold": 0.5,
        "status": InferenceRun.Status.COMPLETED,
        "images_total": len(image_ids),
        "images_done": len(image_ids),
        **fields,
    }
    run = InferenceRun.objects.create(
        process=model.process, model=model, project=project, created_by=world.owner, **values
    )
    rows = [per_image.get(i, []) for i in range(len(image_ids))]
    flat = [p for row in rows for p in row]
    stored = predictions.StoredPredictions(
        image_ids=np.array(image_ids, dtype=np.int64),
        offsets=np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64),
        boxes=np.array([p[0] for p in flat], dtype=np.float32).reshape(-1, 4),
        scores=np.array([p[2] for p in flat], dtype=np.float32),
        labels=np.array([p[1] for p in flat], dtype=np.int32),
        skipped_ids=np.zeros(0, dtype=np.int64),
    )
    run.predictions_file.name = predictions.save(run.pk, stored)
    run.save(update_fields=["predictions_file"])
    evaluation.store_evaluation(run, evaluation.evaluate_stored_run(run))
    run.refresh_from_db()
    return run


def model_b(world: World, labels: list[str] | None = None) -> DetectionModel:
    return make_model(world.process, "yolo-m", label_names=labels or B_LABELS)


def run_pair(world: World) -> tuple[InferenceRun, InferenceRun]:
    """Run a (the world's model) and run b (another model, crack included)."""
    a = evaluated_run(world, world.model, A_PREDICTIONS)
    b = evaluated_run(world, model_b(world), B_PREDICTIONS)
    return a, b
