"""Running one slice of a large run; the last slice to finish merges them and evaluates."""

from __future__ import annotations

import time

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from validation.analysis import predictions as stored
from validation.models import InferenceRun, RunShard
from validation.runs.execute import finish, guarded, infer, run_images
from validation.runs.progress import Progress
from validation.runs.spec import worker_name

Status = InferenceRun.Status


def _claim(run_id: int, index: int) -> bool:
    """Mark a queued shard of an active run running, and the run with it if it was queued."""
    now = timezone.now()
    with transaction.atomic():
        claimed = RunShard.objects.filter(
            run_id=run_id,
            index=index,
            status=Status.QUEUED,
            run__status__in=InferenceRun.ACTIVE_STATUSES,
            run__cancel_requested=False,
        ).update(status=Status.RUNNING, worker_device=worker_name(), images_done=0)
        if not claimed:
            return False
        InferenceRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
            status=Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            worker_device=_("shared"),
        )
    return True


def run_shard(run_id: int, index: int) -> dict:
    """Claim the shard, run it, record it; the last one to finish merges the run."""
    if not _claim(run_id, index):
        return {"run": run_id, "shard": index, "skipped": True}
    run = InferenceRun.objects.select_related("model", "project").get(pk=run_id)
    shard = RunShard.objects.get(run_id=run_id, index=index)

    def work() -> dict:
        images = run_images(run)[shard.first : shard.first + shard.count]
        preds, timing, skipped = infer(run, images, Progress(run_id, shard.pk))
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

    return guarded(run_id, work)


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
    return finish(run, preds, timing, skipped, started)
