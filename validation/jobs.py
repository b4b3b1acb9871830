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
from django.db import close_old_connections, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from validation import engine
from validation.analysis import evaluation
from validation.analysis import predictions as stored
from validation.models import IMAGE_SIZE_RANGE, DetectionModel, InferenceRun, RunShard

log = logging.getLogger(__name__)
Status = InferenceRun.Status
PROGRESS_INTERVAL = 1.0  # seconds between progress writes and cancel-flag reads
# RQ refreshes a started job's heartbeat every few seconds from the worker's parent process.
JOB_HEARTBEAT_SLACK = timedelta(seconds=15)


def _seconds(name: str, default: int) -> timedelta:
    """A duration setting (INFERENCE_STALE_SECONDS and the like, see config/settings.py)."""
    return timedelta(seconds=getattr(settings, name, default))


def worker_device() -> str:
    """The device this worker process owns (set by the inference_worker command)."""
    return os.environ.get("PORTAL_WORKER_DEVICE", "cpu")


def model_spec(model: DetectionModel) -> engine.ModelSpec:
    return engine.ModelSpec(
        path=str(Path(settings.MEDIA_ROOT) / (model.file.name or "")),
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

    def __init__(self, run_id: int, every: float | None = None) -> None:
        self.run_id = run_id
        self.every = every or _seconds("INFERENCE_HEARTBEAT_SECONDS", 10).total_seconds()
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

    def __init__(self, run_id: int, shard_id: int | None = None) -> None:
        self.run_id, self.shard_id = run_id, shard_id
        self.started = time.monotonic()
        self._last_write = 0.0
        self._last_check = 0.0
        self._stop = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last_write < PROGRESS_INTERVAL and done < total:
            return
        self._last_write = now
        rate = done / max(now - self.started, 1e-6)
        if self.shard_id is None:
            done_all, total_all = done, total
        else:
            RunShard.objects.filter(pk=self.shard_id).update(images_done=done)
            done_all = (
                RunShard.objects.filter(run_id=self.run_id).aggregate(n=Sum("images_done"))["n"]
                or 0
            )
            total_all = InferenceRun.objects.values_list("images_total", flat=True).get(
                pk=self.run_id
            )
        left = (total_all - done_all) / rate if rate > 0 else None
        InferenceRun.objects.filter(pk=self.run_id, status=Status.RUNNING).update(
            images_done=min(done_all, total_all),
            images_per_second=rate,
            seconds_left=left,
            heartbeat_at=timezone.now(),
        )

    def should_stop(self) -> bool:
        """True once the user cancelled, or the run ended elsewhere (another shard failed)."""
        now = time.monotonic()
        if now - self._last_check >= PROGRESS_INTERVAL:
            self._last_check = now
            self._stop = not InferenceRun.objects.filter(
                pk=self.run_id, status=Status.RUNNING, cancel_requested=False
            ).exists()
        return self._stop


def _stored_probe(model: DetectionModel) -> engine.ProbeResult | None:
    if "output_format" not in model.probe_info:
        return None
    return engine.ProbeResult.from_dict(model.probe_info)


def _worker_name() -> str:
    return f"{os.environ.get('PORTAL_WORKER_HOST', '')}/{worker_device()}".lstrip("/")


def _claim(run_id: int) -> InferenceRun | None:
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
        worker_device=_worker_name(),
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


def _guarded(run_id: int, work) -> dict:
    """Run the work with a heartbeat; every way it can end leaves the run in a clear state."""
    try:
        with _RunHeartbeat(run_id):
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


def run_inference_job(run_id: int) -> dict:
    """Run the model over the project's validation images, evaluate, commit in one go."""
    close_old_connections()
    run = _claim(run_id)
    if run is None:
        return {"run": run_id, "skipped": True}
    started = time.perf_counter()

    def work() -> dict:
        images = _run_images(run)
        InferenceRun.objects.filter(pk=run.pk).update(images_total=len(images))
        preds, timing, skipped = _infer(run, images, _Progress(run.pk))
        return _finish(run, preds, timing, skipped, started)

    return _guarded(run_id, work)


def _describe_failure(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "JobTimeoutException":
        return _("The run took longer than the job timeout (%(s)s s) and was stopped.") % {
            "s": settings.INFERENCE_JOB_TIMEOUT
        }
    return _("Unexpected error: %(name)s: %(error)s") % {"name": name, "error": exc}


def _run_images(run: InferenceRun) -> list[tuple[int, str, str]]:
    """(id, stored file, name) of the validation images, in the run's fixed order."""
    return list(run.project.validation_images().order_by("id").values_list("id", "file", "name"))


def _infer(run: InferenceRun, images, progress: _Progress):
    result = engine.run_inference(
        model_spec(run.model),
        [(str(Path(settings.MEDIA_ROOT) / f), name) for _id, f, name in images],
        device=worker_device(),
        batch_size=run.batch_size,
        image_size=run.image_size,
        probe=_stored_probe(run.model),
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


def _finish(run: InferenceRun, preds, timing: dict, skipped: list, started: float) -> dict:
    """Store the predictions, evaluate them, and commit everything in one transaction."""
    t0 = time.perf_counter()
    rel = stored.save(run.pk, preds)
    labels = evaluation.run_axis_labels(run)
    gt = evaluation.load_ground_truth(preds, labels)
    outcome = evaluation.evaluate_predictions(preds, gt, labels, evaluation.Thresholds.of_run(run))
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


def run_shard_job(run_id: int, index: int) -> dict:
    """Run one slice of a large run; the last slice to finish merges and evaluates them all."""
    close_old_connections()
    now = timezone.now()
    with transaction.atomic():
        claimed = RunShard.objects.filter(
            run_id=run_id,
            index=index,
            status=Status.QUEUED,
            run__status__in=InferenceRun.ACTIVE_STATUSES,
            run__cancel_requested=False,
        ).update(status=Status.RUNNING, worker_device=_worker_name(), images_done=0)
        if not claimed:
            return {"run": run_id, "shard": index, "skipped": True}
        InferenceRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
            status=Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            worker_device=_("shared"),
        )
    run = InferenceRun.objects.select_related("model", "project").get(pk=run_id)
    shard = RunShard.objects.get(run_id=run_id, index=index)

    def work() -> dict:
        images = _run_images(run)[shard.first : shard.first + shard.count]
        preds, timing, skipped = _infer(run, images, _Progress(run_id, shard.pk))
        rel = stored.save(run_id, preds, name=f"shard-{index}.npz")
        with transaction.atomic():
            InferenceRun.objects.select_for_update().filter(pk=run_id).first()
            RunShard.objects.filter(pk=shard.pk).update(
                status=Status.COMPLETED,
                predictions_file=rel,
                timing=timing,
                skipped_images=skipped,
                images_done=shard.count,
            )
            remaining = (
                RunShard.objects.filter(run_id=run_id).exclude(status=Status.COMPLETED).count()
            )
        if remaining:
            return {"run": run_id, "shard": index, "completed": True}
        return _merge(run)

    return _guarded(run_id, work)


def _merge(run: InferenceRun) -> dict:
    """Concatenate the shards in order, add up their timings, then finish as one run."""
    shards = list(RunShard.objects.filter(run=run).order_by("index"))
    preds = stored.concatenate([stored.load(s.predictions_file) for s in shards])
    timing: dict[str, float] = {}
    for shard in shards:
        for key, value in shard.timing.items():
            timing[key] = timing.get(key, 0.0) + value
    skipped = [item for shard in shards for item in shard.skipped_images]
    began = run.started_at or timezone.now()
    started = time.perf_counter() - (timezone.now() - began).total_seconds()
    return _finish(run, preds, timing, skipped, started)


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
            "name": type(exc).__name__,
            "error": exc,
        }
        DetectionModel.objects.filter(pk=model_id).update(
            probe_status=DetectionModel.ProbeStatus.FAILED, probe_message=message
        )
        return {"model": model_id, "passed": False, "message": message}
    info = {**model.probe_info, **probe.as_dict()}
    fixed = probe.fixed_size if not probe.dynamic_size else None
    low, high = IMAGE_SIZE_RANGE
    DetectionModel.objects.filter(pk=model_id).update(
        probe_status=DetectionModel.ProbeStatus.PASSED,
        probe_message=probe.message,
        probe_info=info,
        label_names=list(probe.label_names),
        output_format=probe.output_format,
        # A file that fixes its input size runs at that size whatever was declared.
        input_size=fixed if fixed and low <= fixed <= high else model.input_size,
    )
    return {"model": model_id, "passed": True}


def _job_run(job_id: str) -> tuple[int | None, int | None]:
    """(run, shard) of a job id: "run-12" is (12, None), "run-12-shard-3" is (12, 3)."""
    head, _sep, shard = job_id.partition("-shard-")
    if not head.startswith("run-") or not head[4:].isdigit():
        return None, None
    return int(head[4:]), int(shard) if shard.isdigit() else None


def mark_taken(job_id: str) -> None:
    """A worker took the job from its queue and is about to start it: stamp the queued run, so
    that the reconciler can tell a worker that died before its job claimed the run from a run
    still waiting in the queue."""
    run_id, _shard = _job_run(job_id)
    if run_id is not None:
        InferenceRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
            heartbeat_at=timezone.now()
        )


def fail_unfinished(job_id: str, message: str) -> bool:
    """After a job's process ended: fail its run unless the job finished its part of it."""
    run_id, shard = _job_run(job_id)
    if run_id is None:
        return False
    if (
        shard is not None
        and RunShard.objects.filter(run_id=run_id, index=shard, status=Status.COMPLETED).exists()
    ):
        return False  # the shard was done; the other shards carry the run on
    return fail_run(run_id, message)


def reconcile_runs(now=None) -> list[int]:
    """Fail runs whose job died with its worker; re-queue queued work whose job Redis lost.

    Returns the runs it failed. Any number of workers may call it at once.
    """
    from validation.queues import redis_connection

    now = now or timezone.now()
    stale = now - _seconds("INFERENCE_STALE_SECONDS", 60)
    failed = [
        run_id
        for run_id in _silent_runs(stale)
        if fail_run(run_id, _("Worker lost: the process running this run stopped responding."))
    ]
    # Taken from the queue by a worker (mark_taken) that died before its job claimed the run.
    for run_id in InferenceRun.objects.filter(
        status=Status.QUEUED, heartbeat_at__lt=stale
    ).values_list("pk", flat=True):
        if fail_run(
            run_id, _("Worker lost: the worker that took this run stopped before starting it.")
        ):
            failed.append(run_id)
    connection = redis_connection()
    waiting = InferenceRun.objects.filter(
        Q(status=Status.QUEUED, created_at__lt=now - _seconds("INFERENCE_QUEUED_GRACE_SECONDS", 30))
        | Q(status=Status.RUNNING, shards__status=Status.QUEUED)
    ).distinct()
    for run in waiting:
        reason = _check_jobs(run, connection, stale)
        if reason and fail_run(run.pk, reason):
            failed.append(run.pk)
    _requeue_lost_probes(connection)
    return failed


def _requeue_lost_probes(connection) -> None:
    """A model still waiting for its probe whose job Redis does not hold (Redis was down at
    upload, or lost it) gets its probe queued again, so it never waits forever."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from validation.modelfiles.importing import queue_probe

    for model in DetectionModel.objects.filter(probe_status=DetectionModel.ProbeStatus.PENDING):
        try:
            Job.fetch(f"probe-{model.pk}", connection=connection)
        except NoSuchJobError:
            queue_probe(model)


def _silent_runs(stale_before) -> list[int]:
    """Running runs nothing has beaten for. A sharded run with no shard running is only
    waiting in the queue for its next shard: its jobs are checked by _check_jobs instead."""
    silent = InferenceRun.objects.filter(status=Status.RUNNING, heartbeat_at__lt=stale_before)
    waiting = silent.filter(shards__isnull=False).exclude(shards__status=Status.RUNNING)
    return list(silent.exclude(pk__in=waiting.values("pk")).values_list("pk", flat=True))


def _check_jobs(run: InferenceRun, connection, stale_before) -> str:
    """Re-queue the run's lost jobs; a reason to fail it when a job ended or died unstarted."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from validation.queues import run_job_id
    from validation.runs.start import enqueue_run

    jobs: dict[str, int | None]
    if run.shards.exists():
        jobs = {
            f"{run_job_id(run.pk)}-shard-{index}": index
            for index in run.shards.filter(status=Status.QUEUED).values_list("index", flat=True)
        }
    else:
        jobs = {run_job_id(run.pk): None}
    lost = []
    for job_id, index in jobs.items():
        try:
            job = Job.fetch(job_id, connection=connection)
        except NoSuchJobError:
            lost.append(index)
            continue
        status = job.get_status()
        if status in ("failed", "stopped", "canceled"):
            return _("The job ended before the run started: %(status)s.") % {"status": status}
        if status == "started":
            beat = job.last_heartbeat or job.started_at
        else:
            # Still "queued" but taken: a worker recorded its execution, and died before its
            # work horse started the job (RQ leaves it in the intermediate queue for minutes).
            beats = [execution.last_heartbeat for execution in job.get_executions()]
            beat = max(beats, default=None)
        if beat is not None and beat < stale_before - JOB_HEARTBEAT_SLACK:
            return _("Worker lost: the worker that took this run stopped before starting it.")
    # Redis lost them (a restart without persistence): queue them again, once across workers.
    if lost and connection.set(f"portal:requeued:{run.pk}", 1, nx=True, ex=30):
        enqueue_run(run, connection, shards=[i for i in lost if i is not None] or None)
    return ""
