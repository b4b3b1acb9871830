"""Save a what-if as a new run: same predictions, other thresholds, evaluated and stored at once."""

from __future__ import annotations

import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from validation.analysis import evaluation, whatif
from validation.analysis import predictions as stored
from validation.analysis.evaluation import Thresholds
from validation.models import InferenceRun
from validation.runs.start import save_label_confidences

# A second click within this time with the same thresholds opens the run the first one made.
REPEAT_WINDOW = timedelta(seconds=60)


def _link_or_copy(source: InferenceRun, target_id: int) -> str:
    """The source's predictions file for the new run: a hard link where possible, else a copy."""
    rel = stored.relative_path(target_id)
    src = Path(settings.MEDIA_ROOT) / (source.predictions_file.name or "")
    dst = Path(settings.MEDIA_ROOT) / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists():
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
    return rel


def _same_ground_truth(a: evaluation.GroundTruth, b: evaluation.GroundTruth) -> bool:
    return (
        np.array_equal(a.annotation_ids, b.annotation_ids)
        and np.array_equal(a.offsets, b.offsets)
        and np.array_equal(a.labels, b.labels)
        and np.array_equal(a.boxes, b.boxes)
    )


def recent_twin(run: InferenceRun, thresholds: Thresholds, user) -> InferenceRun | None:
    """A run this user just saved from the same run with the same thresholds (a double click)."""
    since = timezone.now() - REPEAT_WINDOW
    candidates = InferenceRun.objects.filter(
        derived_from=run, created_by_id=user.pk, created_at__gte=since
    ).prefetch_related("label_confidences")
    for candidate in candidates:
        if Thresholds.of_run(candidate) == thresholds:
            return candidate
    return None


def save_as_new_run(run: InferenceRun, thresholds: Thresholds, user) -> InferenceRun:
    """A completed run derived from this one: these thresholds, the current annotations."""
    twin = recent_twin(run, thresholds, user)
    if twin is not None:
        return twin
    started = time.perf_counter()
    data = whatif.run_data(run)
    labels = evaluation.run_axis_labels(run)
    gt = evaluation.load_ground_truth(data.preds, labels)
    loaded = time.perf_counter()
    same = labels == data.labels and _same_ground_truth(gt, data.gt)
    result = evaluation.evaluate_predictions(
        data.preds, gt, labels, thresholds, ap=data.ap if same else None, reject=run.reject_labels
    )
    matched = time.perf_counter()
    now = timezone.now()
    with transaction.atomic():
        new = InferenceRun.objects.create(
            process_id=run.process_id,
            model_id=run.model_id,
            project_id=run.project_id,
            created_by=user,
            derived_from=run,
            base_confidence=thresholds.base,
            device=run.device,
            batch_size=run.batch_size,
            image_size=run.image_size,
            iou_threshold=thresholds.iou,
            low_overlap_threshold=thresholds.low_overlap,
            score_floor=run.score_floor,
            status=InferenceRun.Status.COMPLETED,
            worker_device=run.worker_device,
            images_total=run.images_total,
            images_done=run.images_done,
            skipped_images=run.skipped_images,
            reject_labels=run.reject_labels,
            started_at=now,
        )
        save_label_confidences(new, thresholds.base, thresholds.per_label)
        new.predictions_file.name = _link_or_copy(run, new.pk)
        new.save(update_fields=["predictions_file"])
        evaluation.store_evaluation(new, result)
        saved = time.perf_counter()
        timing = {
            "load": round(loaded - started, 4),
            "match": round(matched - loaded, 4),
            "save": round(saved - matched, 4),
            "total": round(saved - started, 4),
        }
        InferenceRun.objects.filter(pk=new.pk).update(timing=timing, finished_at=timezone.now())
    new.refresh_from_db()
    return new
