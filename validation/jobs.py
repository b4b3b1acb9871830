"""RQ entry points: run a validation, probe a model, reconcile runs whose worker died."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django.utils.translation import gettext as _

from validation import engine, evaluation
from validation import predictions as stored
from validation.models import DetectionModel, InferenceRun

log = logging.getLogger(__name__)
Status = InferenceRun.Status
STALE_AFTER = timedelta(seconds=60)
QUEUED_GRACE = timedelta(seconds=30)


def worker_device() -> str:
    """The device this worker process owns (set by the inference_worker command)."""
    return os.environ.get("PORTAL_WORKER_DEVICE", "cpu")


def model_spec(model: DetectionModel) -> engine.ModelSpec:
    return engine.ModelSpec(
        path=str(Path(settings.MEDIA_ROOT) / model.file.name),
        format=model.format,
        label_names=tuple(model.label_names),
        input_size=model.input_size,
        resize_mode=model.resize_mode,
        mean=tuple(model.mean) or (0.0, 0.0, 0.0),
        std=tuple(model.std) or (1.0, 1.0, 1.0),
        channel_order=model.channel_order,
        output_format=model.output_format,
        nms_iou=model.nms_iou,
    )


class _RunHeartbeat:
    """Beats on the run row from a thread, so a dead job is told from a slow one."""

    def __init__(self, run_id: int, every: float = 10.0) -> None:
        self.run_id, self.every = run_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> _RunHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.every):
                InferenceRun.objects.filter(pk=self.run_id, status=Status.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
        finally:
            close_old_connections()


class _Progress:
    """Writes progress at most once a second and reads the cancel flag as often."""

    def __init__(self, run_id: int, offset: int = 0, total: int | None = None) -> None:
        self.run_id, self.offset, self.total = run_id, offset, total
        self.started = time.monotonic()
        self._last_write = 0.0
        self._last_check = 0.0
        self._cancelled = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last_write < 1.0 and done < total:
            return
        self._last_write = now
        rate = done / max(now - self.started, 1e-6)
        left = (total - done) / rate if rate > 0 else None
        InferenceRun.objects.filter(pk=self.run_id, status=Status.RUNNING).update(
            images_done=self.offset + done, images_per_second=rate, seconds_left=left,
            heartbeat_at=timezone.now(),
        )

    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self._last_check >= 1.0:
            self._last_check = now
            self._cancelled = InferenceRun.objects.filter(
                pk=self.run_id, cancel_requested=True
            ).exists()
        return self._cancelled


def _claim(run_id: int) -> InferenceRun | None:
    """Mark the run running; a finished or cancelled run is left alone (jobs may run twice)."""
    now = timezone.now()
    claimed = InferenceRun.objects.filter(
        pk=run_id, status__in=[Status.QUEUED, Status.RUNNING], cancel_requested=False
    ).update(
        status=Status.RUNNING, started_at=now, heartbeat_at=now, images_done=0,
        worker_device=f"{os.environ.get('PORTAL_WORKER_HOST', '')}/{worker_device()}".lstrip("/"),
        error_message="",
    )
    if not claimed:
        return None
    return InferenceRun.objects.select_related("model", "project").get(pk=run_id)


def fail_run(run_id: int, message: str) -> bool:
    """End an active run as failed with a reason; a finished run is never touched."""
    return bool(
        InferenceRun.objects.filter(pk=run_id, status__in=InferenceRun.ACTIVE_STATUSES).update(
            status=Status.FAILED, error_message=message, finished_at=timezone.now(),
            seconds_left=None,
        )
    )


def run_inference_job(run_id: int) -> dict:
    """Run the model over the project's validation images, evaluate, commit in one go."""
    close_old_connections()
    run = _claim(run_id)
    if run is None:
        return {"run": run_id, "skipped": True}
    started = time.perf_counter()
    try:
        with _RunHeartbeat(run_id):
            return _execute(run, started)
    except engine.Cancelled:
        InferenceRun.objects.filter(pk=run_id, status=Status.RUNNING).update(
            status=Status.CANCELLED, finished_at=timezone.now(), seconds_left=None,
            error_message=_("Cancelled by the user."),
        )
        return {"run": run_id, "cancelled": True}
    except engine.EngineError as exc:
        fail_run(run_id, str(exc))
        raise
    except Exception as exc:
        fail_run(run_id, _describe_failure(exc))
        raise


def _describe_failure(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "JobTimeoutException":
        return _("The run took longer than the job timeout (%(s)s s) and was stopped.") % {
            "s": settings.INFERENCE_JOB_TIMEOUT
        }
    return _("Unexpected error: %(name)s: %(error)s") % {"name": name, "error": exc}


def _execute(run: InferenceRun, started: float) -> dict:
    images = list(
        run.project.validation_images().order_by("id").values_list("id", "file", "name")
    )
    InferenceRun.objects.filter(pk=run.pk).update(images_total=len(images))
    progress = _Progress(run.pk)
    result = engine.run_inference(
        model_spec(run.model),
        [(str(Path(settings.MEDIA_ROOT) / f), name) for _id, f, name in images],
        device=worker_device(),
        batch_size=run.batch_size,
        image_size=run.image_size,
        score_floor=run.score_floor,
        on_progress=progress,
        should_stop=progress.should_stop,
    )
    image_ids = np.array([i for i, _f, _n in images], dtype=np.int64)
    skipped_ids = np.array([image_ids[index] for index, _n, _r in result.skipped], dtype=np.int64)
    preds = stored.StoredPredictions(
        image_ids=image_ids, offsets=result.offsets, boxes=result.boxes, scores=result.scores,
        labels=result.labels, skipped_ids=skipped_ids,
    )
    t0 = time.perf_counter()
    rel = stored.save(run.pk, preds)
    labels = evaluation.run_axis_labels(run)
    gt = evaluation.load_ground_truth(preds, labels)
    outcome = evaluation.evaluate_predictions(
        preds, gt, labels, evaluation.Thresholds.of_run(run)
    )
    t1 = time.perf_counter()
    timing = {
        "load": result.timing.get("load", 0.0),
        "preprocess": result.timing.get("preprocess", 0.0),
        "model": result.timing.get("model", 0.0) + result.timing.get("postprocess", 0.0),
        "match": t1 - t0,
    }
    skipped = [{"name": name, "reason": reason} for _i, name, reason in result.skipped]
    evaluation.store_evaluation(
        run, outcome, predictions_file=rel, skipped_images=skipped,
        images_done=len(images), seconds_left=None,
    )
    t2 = time.perf_counter()
    timing["save"] = t2 - t1
    timing["total"] = t2 - started
    finished = InferenceRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(
        status=Status.COMPLETED, finished_at=timezone.now(), timing=timing
    )
    return {"run": run.pk, "completed": bool(finished), "predictions": preds.count}


def probe_model_job(model_id: int) -> dict:
    """Load a model in a worker, run it on a dummy batch, record what it is."""
    close_old_connections()
    model = DetectionModel.objects.get(pk=model_id)
    try:
        probe = engine.probe_model(model_spec(model), device=worker_device())
    except engine.EngineError as exc:
        DetectionModel.objects.filter(pk=model_id).update(
            probe_status=DetectionModel.ProbeStatus.FAILED, probe_message=str(exc)
        )
        return {"model": model_id, "passed": False, "message": str(exc)}
    except Exception as exc:  # noqa: BLE001 - any load failure is the model's, reported to the user
        message = _("The model could not be loaded: %(name)s: %(error)s") % {
            "name": type(exc).__name__, "error": exc}
        DetectionModel.objects.filter(pk=model_id).update(
            probe_status=DetectionModel.ProbeStatus.FAILED, probe_message=message
        )
        return {"model": model_id, "passed": False, "message": message}
    info = probe.as_dict() if hasattr(probe, "as_dict") else dict(vars(probe))
    DetectionModel.objects.filter(pk=model_id).update(
        probe_status=DetectionModel.ProbeStatus.PASSED,
        probe_message=probe.message,
        probe_info=info,
        label_names=list(probe.label_names),
        output_format=probe.output_format,
    )
    return {"model": model_id, "passed": True}


def reconcile_runs(now=None) -> list[int]:
    """Fail running runs whose job stopped beating; re-queue queued runs Redis has lost."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from validation.queueing import redis_connection, run_job_id
    from validation.runs import enqueue_run

    now = now or timezone.now()
    failed = []
    for run_id in InferenceRun.objects.filter(
        status=Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER
    ).values_list("pk", flat=True):
        if fail_run(run_id, _("Worker lost: the process running this run stopped responding.")):
            failed.append(run_id)
    connection = redis_connection()
    for run in InferenceRun.objects.filter(
        status=Status.QUEUED, created_at__lt=now - QUEUED_GRACE
    ):
        try:
            job = Job.fetch(run_job_id(run.pk), connection=connection)
        except NoSuchJobError:
            enqueue_run(run, connection)  # Redis lost it (restart without persistence): resume
            continue
        if job.get_status() in ("failed", "stopped", "canceled"):
            if fail_run(run.pk, _("The job ended before the run started: %(status)s.")
                        % {"status": job.get_status()}):
                failed.append(run.pk)
    return failed
