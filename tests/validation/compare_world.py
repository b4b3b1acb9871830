"""Two runs of one project, evaluated by metrics_rs from stored predictions, that differ on purpose.

Every image of the world's project has a scratch (20,20,80,70), a dent (150,100,200,160) and a
crack (250,30,300,60). Run a's model lacks "crack"; run b's model has it, in another label order.
"""

from __future__ import annotations

from tests import run_builders
from tests.validation.run_world import World, make_model
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
    """A completed run of the world's owner: predictions by image position, evaluated."""
    rows = [per_image.get(i, []) for i in range(max(per_image, default=-1) + 1)]
    return run_builders.evaluated_run(world.project, model, world.owner, rows, **fields)


def model_b(world: World, labels: list[str] | None = None) -> DetectionModel:
    return make_model(world.process, "yolo-m", label_names=labels or B_LABELS)


def run_pair(world: World) -> tuple[InferenceRun, InferenceRun]:
    """Run a (the world's model) and run b (another model, crack included)."""
    a = evaluated_run(world, world.model, A_PREDICTIONS)
    b = evaluated_run(world, model_b(world), B_PREDICTIONS)
    return a, b
