"""Running a whole run in a worker: claim it, infer, evaluate, commit; or end it clearly."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from validation import engine
from validation.analysis import evaluation
from validation.analysis import predictions as stored
from validation.models import IMAGE_SIZE_RANGE, InferenceRun
from validation.runs.progress import Progress, RunHeartbeat
from validation.runs.spec import model_spec, stored_probe, worker_device, worker_name

Status = InferenceRun.Status


def claim(run_id: int) -> InferenceRun | None:
    """Mark a queued run running; any other is left alone (a job may be run twice, or twice
    at once when it was queued again: only one of them gets the run)."""
    now = timezone.now()
    claimed = InferenceRun.objects.filter(
        pk=run_id, status=Status.QUEUED, cancel_requested=False
    ).update(
        status=Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        images_done=0,
        worker_device=worker_name(),
        error_message="",
    )
    if not claimed:
        return None
    return InferenceRun.objects.select_related("model", "project").get(pk=run_id)


def fail_run(run_id: int, message: str) -> bool:
    """End an active run as failed with a reason; a finished run is never touched."""
    return bool(
        InferenceRun.objects.filter(pk=run_id, status__in=InferenceRun.ACTIVE_STATUSES).update(
            status=Status.FAILED,
            error_message=message,
            finished_at=timezone.now(),
            seconds_left=None,
        )
    )


def _mark_cancelled(run_id: int) -> None:
    InferenceRun.objects.filter(pk=run_id, status=Status.RUNNING).update(
        status=Status.CANCELLED,
        finished_at=timezone.now(),
        seconds_left=None,
        error_message=_("Cancelled by the user."),
    )


def guarded(run_id: int, work) -> dict:
    """Run the work with a heartbeat; every way it can end leaves the run in a clear state."""
    try:
        with RunHeartbeat(run_id):
            return work()
    except engine.Cancelled:
        _mark_cancelled(run_id)
        return {"run": run_id, "cancelled": True}
    except engine.OutOfMemoryAtBatchOne as exc:
        fail_run(
            run_id,
            _(
                "The device ran out of memory even with one image per batch (%(error)s)"
                ". Try a smaller image size, or a device with more free memory."
            )
            % {"error": exc},
        )
        raise
    except engine.EngineError as exc:
        fail_run(run_id, str(exc))
        raise
    except Exception as exc:
        fail_run(run_id, _describe_failure(exc))
        raise


def run_whole(run_id: int) -> dict:
    """Claim the run, run the model over all its images, evaluate, commit in one go."""
    run = claim(run_id)
    if run is None:
        return {"run": run_id, "skipped": True}
    started = time.perf_counter()

    def work() -> dict:
        images = run_images(run)
        InferenceRun.objects.filter(pk=run.pk).update(images_total=len(images))
        preds, timing, skipped = infer(run, images, Progress(run.pk))
        return finish(run, preds, timing, skipped, started)

    return guarded(run_id, work)


def _describe_failure(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "JobTimeoutException":
        return _("The run took longer than the job timeout (%(s)s s) and was stopped.") % {
            "s": settings.INFERENCE_JOB_TIMEOUT
        }
    return _("Unexpected error: %(name)s: %(error)s") % {"name": name, "error": exc}


def run_images(run: InferenceRun) -> list[tuple[int, str, str]]:
    """(id, stored file, name) of the validation images, in the run's fixed order."""
    return list(run.project.validation_images().order_by("id").values_list("id", "file", "name"))


def infer(run: InferenceRun, images, progress: Progress):
    """The engine over these images: (predictions, timing, skipped images)."""
    result = engine.run_inference(
        model_spec(run.model),
        [(str(Path(settings.MEDIA_ROOT) / f), name) for _id, f, name in images],
        device=worker_device(),
        batch_size=run.batch_size,
        image_size=run.image_size,
        probe=stored_probe(run.model),
        score_floor=run.score_floor,
        on_progress=progress,
        should_stop=progress.should_stop,
    )
    _record_image_size(run, result.used_image_size)
    image_ids = np.array([i for i, _f, _n in images], dtype=np.int64)
    skipped_ids = np.array([image_ids[index] for index, _n, _r in result.skipped], dtype=np.int64)
    preds = stored.StoredPredictions(
        image_ids=image_ids,
        offsets=result.offsets,
        boxes=result.boxes,
        scores=result.scores,
        labels=result.labels,
        skipped_ids=skipped_ids,
    )
    timing = {
        "load": result.timing.get("load", 0.0),
        "preprocess": result.timing.get("preprocess", 0.0),
        "model": result.timing.get("model", 0.0) + result.timing.get("postprocess", 0.0),
    }
    skipped = [{"name": name, "reason": reason} for _i, name, reason in result.skipped]
    return preds, timing, skipped


def _record_image_size(run: InferenceRun, used: int) -> None:
    """The run says the size the engine ran at (a model's file may fix it, the stride rounds
    it), not only the size asked for."""
    low, high = IMAGE_SIZE_RANGE
    if used != run.image_size and low <= used <= high:
        InferenceRun.objects.filter(pk=run.pk).update(image_size=used)
        run.image_size = used


def finish(run: InferenceRun, preds, timing: dict, skipped: list, started: float) -> dict:
    """Store the predictions, evaluate them, and commit everything in one transaction."""
    t0 = time.perf_counter()
    rel = stored.save(run.pk, preds)
    labels = evaluation.run_axis_labels(run)
    gt = evaluation.load_ground_truth(preds, labels)
    thresholds = evaluation.Thresholds.of_run(run)
    outcome = evaluation.evaluate_predictions(
        preds, gt, labels, thresholds, reject=run.reject_labels
    )
    t1 = time.perf_counter()
    timing = {**timing, "match": t1 - t0}
    with transaction.atomic():
        evaluation.store_evaluation(
            run,
            outcome,
            predictions_file=rel,
            skipped_images=skipped,
            images_done=preds.image_ids.size,
            seconds_left=None,
        )
        timing["save"] = time.perf_counter() - t1
        timing["total"] = time.perf_counter() - started
        finished = InferenceRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(
            status=Status.COMPLETED, finished_at=timezone.now(), timing=timing
        )
        if not finished:  # cancelled or failed meanwhile: keep nothing of this attempt
            transaction.set_rollback(True)
    return {"run": run.pk, "completed": bool(finished), "predictions": preds.count}
