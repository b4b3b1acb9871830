"""A run goes through a real RQ worker process on a real Redis, and matches the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings as django_settings

import metrics_rs
from tests.conftest import run_burst_worker
from tests.run_builders import start_as_the_wizard
from validation import engine
from validation.analysis import evaluation
from validation.analysis import predictions as stored
from validation.jobs import run_inference_job
from validation.models import InferenceRun, Instance
from validation.runs.reconcile import reconcile_runs
from validation.runs.spec import model_spec
from validation.runs.start import QueueUnavailable, cancel_run, reevaluate_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _start(model, project, user, **overrides) -> InferenceRun:
    """A run with dent's own confidence 0.5 and IoU 0.3."""
    values = {"label_confidences": {"dent": 0.5}, "iou_threshold": 0.3, **overrides}
    return start_as_the_wizard(model, project, user, **values)


def test_run_completes_through_a_burst_worker_and_matches_the_engine(
    worker_env, flush_redis, tiny_model, validation_project, owner
):
    run = _start(tiny_model, validation_project, owner)
    run_burst_worker(worker_env)
    run.refresh_from_db()
    assert run.status == InferenceRun.Status.COMPLETED, run.error_message
    assert run.images_done == run.images_total == 12
    assert set(run.timing) >= {"load", "preprocess", "model", "match", "save", "total"}

    images = list(validation_project.validation_images().order_by("id"))
    direct = engine.run_inference(
        model_spec(tiny_model),
        [(str(Path(django_settings.MEDIA_ROOT) / i.file.name), i.name) for i in images],
        device="cpu",
        batch_size=4,
        image_size=64,
    )
    saved = stored.load(run.predictions_file.name)
    np.testing.assert_array_equal(saved.offsets, direct.offsets)
    np.testing.assert_allclose(saved.boxes, direct.boxes)
    np.testing.assert_allclose(saved.scores, direct.scores)
    np.testing.assert_array_equal(saved.labels, direct.labels)

    labels = evaluation.run_axis_labels(run)
    assert labels == ["划痕", "dent", "stain", "crack"]
    gt = evaluation.load_ground_truth(saved, labels)
    ev = metrics_rs.evaluate(
        gt.boxes,
        gt.labels,
        gt.offsets,
        saved.boxes,
        saved.labels,
        saved.scores,
        saved.offsets,
        num_labels=4,
        label_thresholds=np.array([0.3, 0.5, 0.3, 0.3]),
        iou_threshold=0.3,
        low_overlap_threshold=0.5,
    )
    assert run.matrix == np.asarray(ev.matrix).tolist()
    assert Instance.objects.filter(run=run).count() == int(np.asarray(ev.matrix).sum())
    for row, cells in enumerate(run.matrix):
        for col, count in enumerate(cells):
            assert Instance.objects.filter(run=run, row=row, col=col).count() == count


def test_redis_down_at_submit_says_so_and_creates_nothing(
    settings, tiny_model, validation_project, owner
):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    with pytest.raises(QueueUnavailable, match="cannot be reached"):
        _start(tiny_model, validation_project, owner)
    assert InferenceRun.objects.count() == 0


def test_the_same_submission_token_starts_one_run(
    worker_env, flush_redis, tiny_model, validation_project, owner
):
    first = _start(tiny_model, validation_project, owner, submission_token="tok-1")
    second = _start(tiny_model, validation_project, owner, submission_token="tok-1")
    assert first.pk == second.pk
    assert InferenceRun.objects.count() == 1


def test_a_job_run_twice_replaces_its_results(
    worker_env, flush_redis, tiny_model, validation_project, owner
):
    run = _start(tiny_model, validation_project, owner)
    run_inference_job(run.pk)
    first = Instance.objects.filter(run=run).count()
    InferenceRun.objects.filter(pk=run.pk).update(status=InferenceRun.Status.QUEUED)
    run_inference_job(run.pk)
    run.refresh_from_db()
    assert run.status == InferenceRun.Status.COMPLETED
    assert Instance.objects.filter(run=run).count() == first > 0


def test_a_completed_run_stays_completed_when_its_job_runs_again(
    worker_env, flush_redis, tiny_model, validation_project, owner
):
    run = _start(tiny_model, validation_project, owner)
    run_inference_job(run.pk)
    result = run_inference_job(run.pk)
    assert result["skipped"] is True
    run.refresh_from_db()
    assert run.status == InferenceRun.Status.COMPLETED


def test_corrupt_and_missing_images_are_skipped_by_name(
    worker_env, flush_redis, tiny_model, validation_project, owner
):
    images = list(validation_project.validation_images().order_by("id"))
    Path(django_settings.MEDIA_ROOT, images[0].file.name).write_bytes(b"not an image at all")
    Path(django_settings.MEDIA_ROOT, images[1].file.name).unlink()
    run = _start(tiny_model, validation_project, owner)
    run_burst_worker(worker_env)
    run.refresh_from_db()
    assert run.status == InferenceRun.Status.COMPLETED, run.error_message
    names = {item["name"] for item in run.skipped_images}
    assert names == {images[0].name, images[1].name}
    assert all(item["reason"] for item in run.skipped_images)
    assert not Instance.objects.filter(run=run, image__in=images[:2]).exists()


def test_a_model_with_the_wrong_output_fails_with_what_was_expected(
    worker_env, flush_redis, wrong_model, validation_project, owner
):
    run = _start(wrong_model, validation_project, owner)
    run_burst_worker(worker_env)
    run.refresh_from_db()
    assert run.status == InferenceRun.Status.FAILED
    assert "expected" in run.error_message.lower()
    assert not Instance.objects.filter(run=run).exists()


def test_cancel_of_a_queued_run_is_immediate_and_the_job_does_nothing(
    worker_env, flush_redis, tiny_model, validation_project, owner
):
    run = _start(tiny_model, validation_project, owner)
    cancel_run(run)
    assert run.status == InferenceRun.Status.CANCELLED
    run_burst_worker(worker_env)
    run.refresh_from_db()
    assert run.status == InferenceRun.Status.CANCELLED
    assert not Instance.objects.filter(run=run).exists()


def test_cancel_of_a_running_run_stops_between_batches(
    worker_env, flush_redis, tiny_model, validation_project, owner, monkeypatch
):
    from validation.runs import progress

    run = _start(tiny_model, validation_project, owner, batch_size=1)
    monkeypatch.setattr(progress, "PROGRESS_INTERVAL", 0.0)
    batches = []
    original = progress.Progress.__call__

    def progress_then_cancel(self, done, total):
        batches.append(done)
        original(self, done, total)
        if len(batches) == 2:  # the user presses cancel while the third image is decoding
            cancel_run(InferenceRun.objects.get(pk=run.pk))

    monkeypatch.setattr(progress.Progress, "__call__", progress_then_cancel)
    result = run_inference_job(run.pk)
    run.refresh_from_db()
    assert result.get("cancelled") is True
    assert run.status == InferenceRun.Status.CANCELLED
    assert len(batches) < 12
    assert not Instance.objects.filter(run=run).exists()


def test_reconciler_fails_a_run_whose_worker_stopped_beating(
    worker_env, flush_redis, tiny_model, validation_project, owner
):
    from datetime import timedelta

    from django.utils import timezone

    run = _start(tiny_model, validation_project, owner)
    InferenceRun.objects.filter(pk=run.pk).update(
        status=InferenceRun.Status.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=3)
    )
    assert reconcile_runs() == [run.pk]
    run.refresh_from_db()
    assert run.status == InferenceRun.Status.FAILED
    assert "Worker lost" in run.error_message


def test_reconciler_fails_a_shard_taken_by_a_worker_that_died_before_its_horse_started(
    worker_env, flush_redis, tiny_model, validation_project, owner, settings
):
    import time

    import redis
    from rq import Queue, Worker

    from validation.jobs import run_shard_job
    from validation.queues import queue_for_device

    settings.INFERENCE_SHARD_SIZE = 6
    run = _start(tiny_model, validation_project, owner)
    assert run.shards.count() == 2
    run_shard_job(run.pk, 1)  # another worker did shard 1: the run is running
    conn = redis.Redis.from_url(worker_env["REDIS_URL"])
    queue = queue_for_device(run.device, conn)
    # A worker takes shard 0's job (RQ moves it to its intermediate queue and records the
    # execution) and is killed before its work horse marks the job started.
    job, _queue = Queue.dequeue_any([queue], None, connection=conn)
    assert job.id == f"run-{run.pk}-shard-0"
    Worker([queue], connection=conn, name="killed").prepare_execution(job)
    assert job.get_status() == "queued"
    assert reconcile_runs() == []  # its heartbeat is fresh: the worker may be starting it
    execution = job.get_executions()[0]
    conn.hset(execution.key, "last_heartbeat", time.time() - 600)
    assert reconcile_runs() == [run.pk]
    run.refresh_from_db()
    assert run.status == InferenceRun.Status.FAILED
    assert run.error_message == (
        "Worker lost: the worker that took this run stopped before starting it."
    )


def test_reevaluate_after_fixing_an_annotation_changes_exactly_that_instance(
    worker_env, flush_redis, tiny_model, validation_project, owner
):
    run = _start(
        tiny_model,
        validation_project,
        owner,
        iou_threshold=0.05,
        low_overlap_threshold=0.05,
        label_confidences={},
    )
    run_inference_job(run.pk)
    run.refresh_from_db()
    missed = Instance.objects.filter(run=run, kind=Instance.Kind.MISSED).first()
    assert missed is not None
    missed.annotation.delete()
    change = reevaluate_run(run)
    run.refresh_from_db()
    n = len(run.labels)
    assert (n, missed.col, 1 + run.matrix[n][missed.col], run.matrix[n][missed.col]) in [
        tuple(c) for c in change["changed_cells"]
    ]
    assert len(change["changed_cells"]) == 1


def test_a_model_whose_probe_was_never_queued_is_probed_after_reconcile(
    worker_env, flush_redis, tiny_model
):
    from validation.models import DetectionModel

    DetectionModel.objects.filter(pk=tiny_model.pk).update(probe_status="pending")
    reconcile_runs()
    run_burst_worker(worker_env)
    tiny_model.refresh_from_db()
    assert tiny_model.probe_status == "passed", tiny_model.probe_message
