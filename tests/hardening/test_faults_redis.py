"""Redis down when a run is started or restarted while runs go; what RQ says after a run ended."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis
from django.urls import reverse
from django.utils import timezone
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

from tests.clients import HTMX
from tests.conftest import run_burst_worker
from tests.hardening.conftest import (
    FAST_RECONCILE,
    fill_wizard,
    start,
    step3_data,
    wait_ended,
    wait_for,
    whole_or_nothing,
)
from validation.models import InferenceRun, Instance
from validation.queues import CPU_QUEUE, named_queue, redis_connection
from validation.runs.reconcile import reconcile_runs
from validation.runs.start import QueueUnavailable, cancel_run
from validation.runs.worker import build_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]
OUTAGE = 7  # seconds: longer than the 5 s between the worker's own heartbeats to RQ


@pytest.mark.parametrize("how", ["stopped", "frozen"])
def test_redis_down_at_the_start_is_said_at_once_and_the_run_starts_after(
    how, own_redis, worker_env, tiny_model, validation_project, owner, client, figure
):
    # "stopped": the server is gone (connection refused); "frozen": SIGSTOP, it accepts the
    # connection and never answers, the slow case.
    own_redis.stop() if how == "stopped" else own_redis.freeze()
    began = time.perf_counter()
    with pytest.raises(QueueUnavailable, match="cannot be reached") as info:
        start(tiny_model, validation_project, owner, image_size=64)
    direct = time.perf_counter() - began

    client.force_login(owner)
    fill_wizard(client, tiny_model, validation_project)
    began = time.perf_counter()
    response = client.post(reverse("validation:wizard-step3"), step3_data("tok-down"), **HTMX)
    page = time.perf_counter() - began
    html = response.content.decode()
    assert response.status_code == 503, html[:2000]
    assert "The job queue (Redis) cannot be reached, so the run was not started." in html
    made_while_down = InferenceRun.objects.count()
    assert made_while_down == 0

    # Redis is back: the same submission starts the run, once, and a worker runs it.
    own_redis.start() if how == "stopped" else own_redis.thaw()
    response = client.post(reverse("validation:wizard-step3"), step3_data("tok-down"), **HTMX)
    run = InferenceRun.objects.get()
    assert response["HX-Redirect"] == run.get_absolute_url()
    run_burst_worker({**worker_env, "REDIS_URL": own_redis.url})
    run.refresh_from_db()
    figure(
        f"Redis {how} at the start: start_run said so in {direct:.1f} s, the wizard's "
        f"step 3 in {page:.1f} s (503, {made_while_down} runs made while down); after a "
        f"restart the same submission ran: {run.status}"
    )
    assert run.status == InferenceRun.Status.COMPLETED, run.error_message
    assert whole_or_nothing(run) == ""
    assert "Nothing was lost" in str(info.value)
    # What bounds the wait on a hung Redis (the figure above is the measured one).
    options = redis_connection().connection_pool.connection_kwargs
    assert options["socket_connect_timeout"] <= 2 and options["socket_timeout"] <= 2


def test_redis_restarted_while_runs_go(
    own_redis, workers, slow_model, validation_project, owner, figure
):
    conn = redis.Redis.from_url(own_redis.url)
    worker = workers(REDIS_URL=own_redis.url, **FAST_RECONCILE)
    worker.wait_ready(conn)
    going = start(slow_model, validation_project, owner, batch_size=1)
    waiting = start(slow_model, validation_project, owner, batch_size=4)  # queued behind it
    wait_for(
        lambda: InferenceRun.objects.get(pk=going.pk).status == InferenceRun.Status.RUNNING,
        90,
        "the first run to start",
    )
    own_redis.stop()  # no persistence: the queued run's job is lost with everything else
    was_queued = InferenceRun.objects.get(pk=waiting.pk).status == InferenceRun.Status.QUEUED
    time.sleep(OUTAGE)
    own_redis.start()
    going = wait_ended(going.pk, 120, worker)
    waiting = wait_ended(waiting.pk, 120, worker)
    assert worker.running(), worker.log()

    # While idle, Redis goes away and comes back again: the worker reconnects and takes a run.
    own_redis.stop()
    time.sleep(2)
    own_redis.start()
    after = start(slow_model, validation_project, owner, batch_size=4)
    after = wait_ended(after.pk, 120, worker)
    left = InferenceRun.objects.filter(status__in=InferenceRun.ACTIVE_STATUSES).count()
    figure(
        f"Redis down {OUTAGE} s and restarted (empty) mid-run: the running run {going.status}, "
        f"the queued run whose job was lost re-queued by the reconciler and {waiting.status}, "
        f"the worker stayed up and, after a second restart while idle, ran the next run: "
        f"{after.status}; {left} runs left queued or running"
    )
    for run in (going, waiting, after):
        assert run.status == InferenceRun.Status.COMPLETED, (run.pk, run.error_message)
        assert whole_or_nothing(run) == ""
    assert left == 0
    assert was_queued


def _snapshot(run: InferenceRun) -> tuple:
    run.refresh_from_db()
    instances = sorted(Instance.objects.filter(run=run).values_list("pk", flat=True))
    return (
        run.status,
        run.error_message,
        run.finished_at,
        run.matrix,
        run.per_label,
        run.precision,
        run.map50,
        run.predictions_file.name,
        instances,
    )


@pytest.mark.parametrize("shards", [False, True], ids=["one-job", "sharded"])
def test_a_completed_run_stays_completed_whatever_rq_says_later(
    shards,
    worker_env,
    redis_server,
    flush_redis,
    tiny_model,
    validation_project,
    owner,
    settings,
    figure,
):
    settings.INFERENCE_SHARD_SIZE = 6 if shards else 10_000
    run = start(tiny_model, validation_project, owner, image_size=64)
    run_burst_worker(worker_env)
    before = _snapshot(run)
    assert before[0] == InferenceRun.Status.COMPLETED, before[1]
    assert whole_or_nothing(run) == ""

    conn = redis_connection()
    queue = named_queue(CPU_QUEUE, conn)
    job_ids = [f"run-{run.pk}-shard-{k}" for k in range(2)] if shards else [f"run-{run.pk}"]
    said = []
    future = timezone.now() + timedelta(hours=2)

    # RQ's cleanup of an abandoned job: moved to the failed registry, status failed.
    for job_id in job_ids:
        job = Job.fetch(job_id, connection=conn)
        job.set_status(JobStatus.FAILED)
        FailedJobRegistry(queue=queue).add(job, exc_string="AbandonedJobError")
    reconcile_runs(now=future)
    said.append(("moved to the failed registry", _snapshot(run) == before))

    # A worker's failure handling called for it (the horse "lost" after the commit).
    worker = build_worker("test-host", "cpu", conn, name="late-failure")
    for job_id in job_ids:
        worker.handle_job_failure(
            Job.fetch(job_id, connection=conn), queue, exc_string="Work-horse terminated"
        )
    said.append(("handle_job_failure called", _snapshot(run) == before))

    # The job run again, from the failed registry, by a real worker.
    for job_id in job_ids:
        FailedJobRegistry(queue=queue).requeue(job_id)
    output = run_burst_worker(worker_env)
    assert all(job_id in output for job_id in job_ids), output
    said.append(("re-run by a worker", _snapshot(run) == before))

    # The job deleted, then every reconciler pass there is.
    for job_id in job_ids:
        Job.fetch(job_id, connection=conn).delete()
    reconcile_runs(now=future)
    said.append(("deleted", _snapshot(run) == before))

    # A late cancel (a stale page) is no RQ message, but must not touch it either.
    cancel_run(run)
    said.append(("cancelled late", _snapshot(run) == before))
    figure(
        f"{'sharded' if shards else 'one-job'} completed run after its job was "
        + ", ".join(f"{what}: {'unchanged' if same else 'CHANGED'}" for what, same in said)
    )
    assert all(same for _what, same in said), said
