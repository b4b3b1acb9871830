"""Reconciling runs with their jobs: fail runs whose worker died, re-queue work Redis lost."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from validation.models import DetectionModel, InferenceRun, RunShard
from validation.runs.execute import fail_run

Status = InferenceRun.Status
# RQ refreshes a started job's heartbeat every few seconds from the worker's parent process.
JOB_HEARTBEAT_SLACK = timedelta(seconds=15)


def _seconds(name: str, default: int) -> timedelta:
    """A duration setting (INFERENCE_STALE_SECONDS and the like, see config/settings.py)."""
    return timedelta(seconds=getattr(settings, name, default))


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
