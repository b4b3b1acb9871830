"""Starting, cancelling and re-evaluating validation runs: what the views and commands call."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from validation.analysis import evaluation
from validation.models import InferenceRun, LabelConfidence, RunShard
from validation.queues import queue_for_device, redis_connection, run_job_id


class QueueUnavailable(Exception):
    """Redis cannot be reached: nothing was created, the user can try again."""


def _check_queue() -> redis.Redis:
    connection = redis_connection()
    try:
        connection.ping()
    except redis.RedisError as exc:
        raise QueueUnavailable(
            _(
                "The job queue (Redis) cannot be reached, so the run was not started. "
                "Nothing was lost: try again in a moment. (%(error)s)"
            )
            % {"error": exc}
        ) from exc
    return connection


def plan_shards(run: InferenceRun, shard_size: int) -> list[RunShard]:
    """Split a run's images into consecutive slices of at most shard_size."""
    total = run.images_total
    return RunShard.objects.bulk_create(
        RunShard(run=run, index=k, first=first, count=min(shard_size, total - first))
        for k, first in enumerate(range(0, total, shard_size))
    )


def save_label_confidences(run: InferenceRun, base: float, per_label: dict[str, float]) -> None:
    """A run's own confidence per label, each row with the run's base beside it."""
    LabelConfidence.objects.bulk_create(
        LabelConfidence(run=run, label_name=name, confidence=value, base_confidence=base)
        for name, value in sorted(per_label.items())
    )


def shardable(device: str, images: int) -> bool:
    """Large runs on a shared queue are split so that several workers share them."""
    return device in ("cpu", "any-gpu") and images > settings.INFERENCE_SHARD_SIZE


def enqueue_run(
    run: InferenceRun, connection: redis.Redis | None = None, shards: list[int] | None = None
) -> None:
    """Put the run's job (or its queued shards' jobs, or only `shards`) on its device's queue;
    job ids follow the run."""
    queue = queue_for_device(run.device, connection)
    options = dict(
        job_timeout=settings.INFERENCE_JOB_TIMEOUT, result_ttl=3600, failure_ttl=7 * 24 * 3600
    )
    if shards is None:
        shards = list(
            run.shards.filter(status=InferenceRun.Status.QUEUED).values_list("index", flat=True)
        )
    if not shards:
        queue.enqueue(
            "validation.jobs.run_inference_job",
            run.pk,
            job_id=run_job_id(run.pk),
            description=f"validation run {run.pk}",
            **options,
        )
        return
    for index in shards:
        queue.enqueue(
            "validation.jobs.run_shard_job",
            run.pk,
            index,
            job_id=f"{run_job_id(run.pk)}-shard-{index}",
            description=f"validation run {run.pk}, shard {index}",
            **options,
        )


def start_run(
    *,
    user,
    model,
    project,
    base_confidence: float,
    label_confidences: dict[str, float],
    device: str,
    batch_size: int,
    image_size: int,
    iou_threshold: float,
    low_overlap_threshold: float,
    submission_token: str | None = None,
    reject_labels: list[str] | None = None,  # SPEC §9, what makes a part NG; none: every label
) -> InferenceRun:
    """Create a run from validated settings and queue it once its row is committed."""
    if submission_token:
        existing = InferenceRun.objects.filter(submission_token=submission_token).first()
        if existing is not None:
            return existing
    connection = _check_queue()
    try:
        with transaction.atomic():
            run = InferenceRun.objects.create(
                process=model.process,
                model=model,
                project=project,
                created_by=user,
                submission_token=submission_token or None,
                base_confidence=base_confidence,
                device=device,
                batch_size=batch_size,
                image_size=image_size,
                iou_threshold=iou_threshold,
                low_overlap_threshold=low_overlap_threshold,
                reject_labels=list(reject_labels or []),
                images_total=project.validation_images().count(),
            )
            if shardable(device, run.images_total):
                plan_shards(run, settings.INFERENCE_SHARD_SIZE)
            save_label_confidences(run, base_confidence, label_confidences)
            transaction.on_commit(lambda: _enqueue_or_fail(run, connection))
    except IntegrityError:
        # A simultaneous identical submission won the race for the token: show its run.
        existing = (
            InferenceRun.objects.filter(submission_token=submission_token).first()
            if submission_token
            else None
        )
        if existing is None:
            raise
        return existing
    run.refresh_from_db()
    return run


def _enqueue_or_fail(run: InferenceRun, connection: redis.Redis) -> None:
    try:
        enqueue_run(run, connection)
    except redis.RedisError as exc:
        InferenceRun.objects.filter(pk=run.pk, status=InferenceRun.Status.QUEUED).update(
            status=InferenceRun.Status.FAILED,
            finished_at=timezone.now(),
            error_message=_(
                "The job queue (Redis) went away while the run was being queued: "
                "%(error)s. Start it again."
            )
            % {"error": exc},
        )


def cancel_run(run: InferenceRun) -> None:
    """A queued run is cancelled at once; a running one stops between batches."""
    now = timezone.now()
    updated = InferenceRun.objects.filter(pk=run.pk, status=InferenceRun.Status.QUEUED).update(
        status=InferenceRun.Status.CANCELLED,
        cancel_requested=True,
        finished_at=now,
        error_message=_("Cancelled before it started."),
    )
    if updated:
        try:
            from rq.job import Job

            Job.fetch(run_job_id(run.pk), connection=redis_connection()).cancel()
        except Exception:  # noqa: BLE001 - the job may be gone or Redis down; the row decides
            pass
    else:
        InferenceRun.objects.filter(pk=run.pk, status=InferenceRun.Status.RUNNING).update(
            cancel_requested=True
        )
    run.refresh_from_db()


def _headline(run: InferenceRun) -> dict[str, float | None]:
    return {"precision": run.precision, "recall": run.recall, "f1": run.f1}


def reevaluate_run(run: InferenceRun) -> dict:
    """Recompute a finished run against the current annotations; report what changed."""
    if run.status != InferenceRun.Status.COMPLETED or not run.predictions_file:
        raise ValueError(_("Only a completed run with stored predictions can be re-evaluated."))
    before_matrix = run.matrix
    before = _headline(run)
    result = evaluation.evaluate_stored_run(run)
    evaluation.store_evaluation(run, result)
    run.refresh_from_db()
    changed = [
        (
            r,
            c,
            before_matrix[r][c] if r < len(before_matrix) and c < len(before_matrix[r]) else 0,
            value,
        )
        for r, row in enumerate(run.matrix)
        for c, value in enumerate(row)
        if r >= len(before_matrix) or c >= len(before_matrix[r]) or before_matrix[r][c] != value
    ]
    return {"changed_cells": changed, "before": before, "after": _headline(run)}
