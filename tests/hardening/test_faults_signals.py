"""Stop signals: one SIGTERM lets the job finish, a second one ends the run as failed."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis

from tests.hardening.conftest import (
    alive,
    probed,
    start,
    wait_ended,
    wait_for,
    whole_or_nothing,
)
from tests.jobs.conftest import _model_row
from tests.jobs.tiny_models import SlowDetector, export
from validation.models import DetectionModel, InferenceRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _running(run_id: int) -> bool:
    return InferenceRun.objects.get(pk=run_id).status == InferenceRun.Status.RUNNING


@pytest.mark.parametrize("to_horse", [False, True], ids=["to-the-worker", "to-worker-and-horse"])
def test_one_sigterm_lets_the_job_finish(
    to_horse, workers, redis_server, flush_redis, slow_model, validation_project, owner, figure
):
    worker = workers()
    worker.wait_ready(redis.Redis.from_url(redis_server))
    run = start(slow_model, validation_project, owner, batch_size=1)
    horse = worker.wait_horse()
    wait_for(lambda: _running(run.pk), 60, "the run to start")
    worker.signal(signal.SIGTERM)
    if to_horse:  # as systemd or docker do: every process of the service gets it
        os.kill(horse, signal.SIGTERM)
    code = worker.proc.wait(180)
    run = wait_ended(run.pk, 10, worker)
    figure(
        f"one SIGTERM {'to worker and horse' if to_horse else 'to the worker'} mid-run: run "
        f"{run.status}, worker exited with {code} after the job, "
        f"{whole_or_nothing(run) or 'results whole'}"
    )
    assert run.status == InferenceRun.Status.COMPLETED, run.error_message
    assert whole_or_nothing(run) == ""
    assert code == 0, worker.log()
    assert not alive(horse)


@pytest.fixture
def slower_model(tmp_path, settings) -> DetectionModel:
    """The slow detector at 512 px: a run lasts many seconds (it is stopped early here)."""
    path = export(SlowDetector(), tmp_path / "slower.pt2", size=512)
    return probed(_model_row(path, "slower", settings))


def test_two_sigterms_end_the_run_as_failed_with_the_reason(
    workers, redis_server, flush_redis, slower_model, validation_project, owner, figure
):
    worker = workers()
    worker.wait_ready(redis.Redis.from_url(redis_server))
    run = start(slower_model, validation_project, owner, batch_size=1, image_size=512)
    horse = worker.wait_horse()
    wait_for(lambda: _running(run.pk), 60, "the run to start")
    worker.signal(signal.SIGTERM)
    time.sleep(1.2)  # RQ takes a second signal within a second for a duplicate of the first
    worker.signal(signal.SIGTERM)
    worker.proc.wait(60)
    run = wait_ended(run.pk, 10, worker)
    figure(
        f"two SIGTERMs mid-run: run {run.status} ({run.error_message!r}), horse "
        f"{'still alive' if alive(horse) else 'killed'}, "
        f"{whole_or_nothing(run) or 'no partial results'}"
    )
    assert run.status == InferenceRun.Status.FAILED
    assert "second stop signal" in run.error_message
    assert whole_or_nothing(run) == ""
    assert not alive(horse)
