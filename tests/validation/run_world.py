"""A small world for the validation page tests: a model, a project with images, finished runs.

A completed run is evaluated by metrics_rs when the extension is built (real matrix and
instances); otherwise its instances are laid out by hand and the matrix is counted from them.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image as PILImage

from projects.models import Annotation, Image, Label, Project, Task
from tests.run_builders import evaluated_run, new_completed_run
from validation.models import DetectionModel, InferenceRun, Instance, Process

MODEL_LABELS = ["scratch", "dent", "划痕"]
PROJECT_LABELS = ["scratch", "dent", "划痕", "crack"]  # "crack" is project-only


def png_bytes(width: int, height: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(30, 90, size=(height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def add_image(task: Task, name: str, width: int = 320, height: int = 240, seed: int = 0) -> Image:
    data = png_bytes(width, height, seed)
    image = Image(
        task=task, name=name, width=width, height=height, checksum=hashlib.sha256(data).hexdigest()
    )
    image.file.save(name.replace("/", "_"), ContentFile(data), save=False)
    image.save()
    return image


def make_model(process: Process, name: str = "yolo-s", **fields) -> DetectionModel:
    values = {
        "file": "models/none.pt2",
        "format": DetectionModel.Format.EXPORT,
        "label_names": MODEL_LABELS,
        "input_size": 640,
        "probe_status": DetectionModel.ProbeStatus.PASSED,
        **fields,
    }
    return DetectionModel.objects.create(process=process, name=name, **values)


def make_project(members, name: str = "焊接项目", images: int = 3) -> Project:
    project = Project.objects.create(name=name)
    project.members.add(*members)
    labels = {
        n: Label.objects.create(project=project, name=n, order=i)
        for i, n in enumerate(PROJECT_LABELS)
    }
    task = Task.objects.create(project=project, name="val", is_validation=True)
    Task.objects.create(project=project, name="train", is_validation=False)
    for i in range(images):
        image = add_image(task, f"图像_{i:02d}.png", seed=i)
        Annotation.objects.create(image=image, label=labels["scratch"], x1=20, y1=20, x2=80, y2=70)
        Annotation.objects.create(image=image, label=labels["dent"], x1=150, y1=100, x2=200, y2=160)
        Annotation.objects.create(image=image, label=labels["crack"], x1=250, y1=30, x2=300, y2=60)
    return project


# Per image, the instances laid out by hand: (matrix row, column, kind, actual label, the
# annotation it stands on, score, IoU, predicted box); column BG is n, LOC n + 1.
BY_HAND = [
    (0, 0, 0, 0, "scratch", 0.95, 0.93, (21, 21, 79, 71)),
    (0, 1, 1, 1, "dent", 0.80, 1.0, (150, 100, 200, 160)),
    (1, "BG", 4, None, None, 0.60, None, (100, 180, 140, 220)),
    (2, "BG", 4, None, None, 0.55, None, (260, 180, 300, 220)),
    (1, "LOC", 2, 3, "crack", 0.50, 0.3, (255, 35, 330, 90)),
]


def _store_by_hand(run: InferenceRun) -> None:
    """Instances laid out by hand for one image set; the matrix is counted from them."""
    labels = MODEL_LABELS + ["crack"]
    n = len(labels)
    column = {"BG": n, "LOC": n + 1}
    matrix = np.zeros((n + 1, n + 2), dtype=np.int64)
    images = run.project.validation_images().order_by("id")
    for number, image in enumerate(images):
        ann = {
            a.label.name: a for a in Annotation.objects.filter(image=image).select_related("label")
        }
        for index, (row, col, kind, actual, on, score, iou, box) in enumerate(BY_HAND):
            col = column.get(col, col)
            matrix[row, col] += 1
            gt = ann[on] if on else None
            Instance.objects.create(
                run=run,
                image=image,
                prediction_index=number * len(BY_HAND) + index,
                row=row,
                col=col,
                kind=kind,
                actual_label=actual,
                annotation=gt,
                score=score,
                iou=iou,
                px1=box[0],
                py1=box[1],
                px2=box[2],
                py2=box[3],
                gx1=gt.x1 if gt else None,
                gy1=gt.y1 if gt else None,
                gx2=gt.x2 if gt else None,
                gy2=gt.y2 if gt else None,
            )
    gt_counts = np.array([0, 0, 0, 0])
    for a in Annotation.objects.filter(image__task__project=run.project):
        gt_counts[labels.index(a.label.name)] += 1
    overall, per_label = _metrics_by_hand(labels, matrix, gt_counts)
    run.labels = labels
    run.matrix = matrix.tolist()
    run.precision, run.recall, run.f1 = overall["precision"], overall["recall"], overall["f1"]
    run.per_label = per_label
    run.save()


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def _f1(tp: int, predictions: int, annotations: int) -> float | None:
    """SPEC §5: 2·TP / (2·TP + FP + FN), undefined only with neither predictions nor annotations."""
    return _ratio(2 * tp, predictions + annotations)


def _metrics_by_hand(labels: list[str], matrix: np.ndarray, gt_counts: np.ndarray):
    """SPEC §4.5 from a hand-laid matrix (no AP: the run has no stored predictions)."""
    n = len(labels)
    tp, preds = np.diag(matrix[:n, :n]), matrix[:n].sum(axis=1)
    per_label = {}
    for i, name in enumerate(labels):
        p, r = _ratio(int(tp[i]), int(preds[i])), _ratio(int(tp[i]), int(gt_counts[i]))
        per_label[name] = {
            "precision": p,
            "recall": r,
            "f1": _f1(int(tp[i]), int(preds[i]), int(gt_counts[i])),
            "ap50": None,
            "ap50_95": None,
            "annotations": int(gt_counts[i]),
            "predictions": int(preds[i]),
            "tp": int(tp[i]),
        }
    p = _ratio(int(tp.sum()), int(preds.sum()))
    r = _ratio(int(tp.sum()), int(gt_counts.sum()))
    f1 = _f1(int(tp.sum()), int(preds.sum()), int(gt_counts.sum()))
    return {"precision": p, "recall": r, "f1": f1}, per_label


TIMING = {"load": 0.4, "preprocess": 0.3, "model": 2.5, "match": 0.01, "save": 0.2, "total": 3.41}


def make_completed_run(project: Project, model: DetectionModel, user, **fields) -> InferenceRun:
    """A completed run whose instances and matrix were laid out by hand (no predictions file)."""
    run = new_completed_run(project, model, user, **{"timing": TIMING, **fields})
    _store_by_hand(run)
    run.refresh_from_db()
    return run


def unmatched(run: InferenceRun, image: Image, kind: int, box=(1, 1, 9, 9), **fields) -> Instance:
    """An unsaved instance of label 0 that matched nothing: a missed annotation (row "none",
    column 0; `box` is the annotation's) or a prediction on background (row 0, column BG)."""
    n = len(run.labels)
    if kind == Instance.Kind.MISSED:
        gt = dict(zip(("gx1", "gy1", "gx2", "gy2"), box, strict=True))
        return Instance(
            run=run, image=image, row=n, col=0, kind=kind, actual_label=0, **gt, **fields
        )
    found = dict(zip(("px1", "py1", "px2", "py2"), box, strict=True))
    return Instance(run=run, image=image, row=0, col=n, kind=kind, **found, **fields)


# Per image, (x1, y1, x2, y2, model label, score): a true positive scratch, a dent predicted as
# scratch, two false alarms, and a dent box poorly placed on the crack (IoU 0.378: LOC at 0.3/0.5).
PREDICTIONS = [
    (21, 21, 79, 71, 0, 0.95),
    (150, 100, 200, 160, 0, 0.80),
    (100, 180, 140, 220, 1, 0.60),
    (260, 180, 300, 220, 2, 0.55),
    (255, 35, 320, 75, 1, 0.50),
]
FIVE_PER_IMAGE_TIMING = {
    "load": 0.1,
    "preprocess": 0.1,
    "model": 0.5,
    "match": 0.01,
    "save": 0.05,
    "total": 0.76,
}


def make_five_per_image_run(
    project: Project, model: DetectionModel, user, **fields
) -> InferenceRun:
    """A completed run, IoU 0.3, whose every image got the five PREDICTIONS; metrics_rs evaluated
    its stored predictions, as a worker would."""
    same = [(p[:4], p[4], p[5]) for p in PREDICTIONS]
    per_image = [same] * project.validation_images().count()
    values = {"iou_threshold": 0.3, "timing": FIVE_PER_IMAGE_TIMING, **fields}
    return evaluated_run(project, model, user, per_image, **values)


class World:
    """Everything a view test needs, by name."""

    def __init__(self, owner, member, outsider) -> None:
        self.owner, self.member, self.outsider = owner, member, outsider
        self.process = Process.objects.create(name="焊接")
        self.other_process = Process.objects.create(name="painting")
        self.model = make_model(self.process)
        self.pending_model = make_model(
            self.process, "pending-model", probe_status=DetectionModel.ProbeStatus.PENDING
        )
        self.failed_model = make_model(
            self.process,
            "broken-model",
            probe_status=DetectionModel.ProbeStatus.FAILED,
            probe_message="output shape (1, 7) not understood",
        )
        self.other_model = make_model(self.other_process, "paint-model")
        self.project = make_project([owner, member])
        self.no_validation_project = Project.objects.create(name="no-validation")
        self.no_validation_project.members.add(owner)
        Task.objects.create(project=self.no_validation_project, name="t", is_validation=False)
        self.foreign_project = make_project([outsider], name="foreign", images=1)


@pytest.fixture
def world(owner, member, outsider) -> World:
    return World(owner, member, outsider)


@pytest.fixture
def completed_run(world) -> InferenceRun:
    return make_completed_run(world.project, world.model, world.owner)
