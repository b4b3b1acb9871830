"""kill -9 of a job's work horse, and of a whole worker: every run ends whole or not at all."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import redis

from tests.conftest import REPO_ROOT
from tests.hardening.conftest import (
    FAST_RECONCILE,
    start,
    taker,
    wait_ended,
    wait_for,
    whole_or_nothing,
)
from validation.models import InferenceRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

# Three kinds of run, taken in turn: big batches, one image a batch, and a run in two shards.
KINDS = [
    ("batch 4", {"batch_size": 4}),
    ("batch 1", {"batch_size": 1}),
    ("2 shards", {"batch_size": 2, "shards": 6}),
]


def _phase(run_id: int) -> str:
    """Where the run is, read just before the kill."""
    run = InferenceRun.objects.get(pk=run_id)
    if run.status == InferenceRun.Status.QUEUED:
        return "starting the job"
    if run.status != InferenceRun.Status.RUNNING:
        return f"after it ended ({run.status})"
    if run.images_done == 0:
        return "loading the model"
    if run.images_done < run.images_total:
        return "inference"
    return "final evaluation and commit"


def _finishing(run_id: int) -> bool:
    """Past the last batch: evaluating and committing, or already ended."""
    run = InferenceRun.objects.get(pk=run_id)
    if run.status == InferenceRun.Status.RUNNING:
        return run.images_done >= run.images_total
    return run.status != InferenceRun.Status.QUEUED


def _start_kind(kind: int, model, project, user, settings) -> InferenceRun:
    options = dict(KINDS[kind % len(KINDS)][1])
    settings.INFERENCE_SHARD_SIZE = options.pop("shards", 10_000)
    return start(model, project, user, **options)


def _kill_at(worker, run: InferenceRun, moment) -> str:
    """Wait for the moment, then kill -9 the job's horse; returns the phase it was killed in."""
    horse = worker.wait_horse()
    if moment == "fork":
        pass  # at once: the horse was just forked
    elif moment == "load":
        wait_for(lambda: _phase(run.pk) != "starting the job", 60, "the job to start", 0.005)
    elif moment == "commit":
        wait_for(lambda: _finishing(run.pk), 120, "the last batch", interval=0.005)
    else:
        time.sleep(moment)
    horse = worker.horse() or horse
    phase = _phase(run.pk)
    try:
        os.kill(horse, signal.SIGKILL)
    except ProcessLookupError:
        phase += ", horse already gone"
    return phase


def test_kill_9_of_the_work_horse_at_random_moments(
    workers, redis_server, flush_redis, slow_model, validation_project, owner, settings, figure
):
    worker = workers()
    worker.wait_ready(redis.Redis.from_url(redis_server))

    # One run left alone gives the length of a run, and the range of the random moments.
    began = time.monotonic()
    reference = _start_kind(0, slow_model, validation_project, owner, settings)
    reference = wait_ended(reference.pk, 180, worker)
    duration = time.monotonic() - began
    assert reference.status == InferenceRun.Status.COMPLETED, reference.error_message
    assert whole_or_nothing(reference) == ""

    rng = random.Random(20240607)
    moments: list = [round(rng.uniform(0, duration * 1.1), 2) for _ in range(10)]
    moments += ["fork", "load", "commit"]  # aimed at the short windows, besides the random ones
    outcomes, phases, problems = [], [], []
    for k, moment in enumerate(moments):
        run = _start_kind(k, slow_model, validation_project, owner, settings)
        phases.append(f"{moment}: {_kill_at(worker, run, moment)}")
        run = wait_ended(run.pk, 60, worker)
        outcomes.append(run.status)
        if problem := whole_or_nothing(run):
            problems.append(problem)
        if run.status == InferenceRun.Status.FAILED and "Worker lost" not in run.error_message:
            problems.append(f"run {run.pk} failed without 'Worker lost': {run.error_message}")
        assert worker.running(), worker.log()
        worker.wait_idle()  # a horse that finished its run may still be closing its RQ job

    # The same worker takes the next job and finishes it.
    last = _start_kind(0, slow_model, validation_project, owner, settings)
    last = wait_ended(last.pk, 180, worker)
    assert last.status == InferenceRun.Status.COMPLETED, last.error_message
    assert whole_or_nothing(last) == ""

    left_running = InferenceRun.objects.filter(status__in=InferenceRun.ACTIVE_STATUSES).count()
    figure(
        f"{len(moments)}/{len(moments)} horse kills ended failed or completed "
        f"({outcomes.count('failed')} failed, {outcomes.count('completed')} completed), "
        f"{left_running} left running, {len(problems)} partial results; a run lasts "
        f"{duration:.1f} s; killed during: {'; '.join(phases)}"
    )
    assert not problems, problems
    assert left_running == 0
    assert set(outcomes) <= {"failed", "completed"}


def test_kill_9_of_a_whole_worker_five_times(
    workers, redis_server, flush_redis, slow_model, validation_project, owner, settings, figure
):
    conn = redis.Redis.from_url(redis_server)
    fast = dict(FAST_RECONCILE)
    # A live worker on another device: its reconciler (and the CPU workers') finds the runs of
    # the dead. Two CPU workers listen at any time; a new one is started after each kill.
    watcher = workers(device="cuda:7", name="watcher", **fast)
    live = [workers(name=f"cpu-{k}", **fast) for k in range(2)]
    for worker in [watcher, *live]:
        worker.wait_ready(conn)
    # A run left alone gives the range of the random moments.
    began = time.monotonic()
    reference = _start_kind(0, slow_model, validation_project, owner, settings)
    reference = wait_ended(reference.pk, 180, *live)
    duration = time.monotonic() - began
    assert reference.status == InferenceRun.Status.COMPLETED, reference.error_message
    rng = random.Random(5)
    killed: list[tuple[InferenceRun, float]] = []
    takers: list[str] = []
    phases: list[str] = []
    # Five random moments after the horse started, and one at once when the worker took the
    # job: its horse is not forked yet, or has not claimed the run.
    moments = [rng.uniform(0.0, duration) for _ in range(5)] + [0.0]
    for k, moment in enumerate(moments):
        run = _start_kind(k, slow_model, validation_project, owner, settings)
        name = wait_for(lambda r=run: taker(conn, r.pk), 60, "a worker to take it", 0.002)
        busy = next(w for w in live if w.name == name)
        if moment:
            busy.wait_horse()
            time.sleep(moment)
        phases.append(_phase(run.pk))
        busy.kill_all()
        killed.append((run, time.time()))
        takers.append(busy.name)
        live.remove(busy)
        live.append(workers(name=f"cpu-{k + 2}", **fast))  # the spare takes the next run

    outcomes, problems, lost_after, reasons = [], [], [], []
    for run, when in killed:
        run = wait_ended(run.pk, 90, watcher, *live)
        outcomes.append(run.status)
        if run.status == InferenceRun.Status.FAILED:
            lost_after.append(run.finished_at.timestamp() - when)
            reasons.append(
                "before starting" if "before starting" in run.error_message else "mid-run"
            )
        if problem := whole_or_nothing(run):
            problems.append(problem)
        if run.status == InferenceRun.Status.FAILED and "Worker lost" not in run.error_message:
            problems.append(f"run {run.pk} failed without 'Worker lost': {run.error_message}")

    # A newly started worker takes the next job and finishes it.
    last = _start_kind(0, slow_model, validation_project, owner, settings)
    last = wait_ended(last.pk, 180, watcher, *live)
    assert last.status == InferenceRun.Status.COMPLETED, last.error_message
    assert whole_or_nothing(last) == ""
    assert watcher.running(), watcher.log()

    left_running = InferenceRun.objects.filter(status__in=InferenceRun.ACTIVE_STATUSES).count()
    figure(
        f"{len(moments)}/{len(moments)} whole-worker kills (parent and horse; 5 at random "
        f"moments, 1 as the job was taken) ended failed or completed "
        f"({outcomes.count('failed')} failed, {outcomes.count('completed')} completed), "
        f"{left_running} left running, {len(problems)} partial results (a run lasts "
        f"{duration:.1f} s); failed by another "
        f"worker's reconciler {min(lost_after, default=0):.1f}-{max(lost_after, default=0):.1f}"
        f" s after the kill "
        f"(stale after {FAST_RECONCILE['INFERENCE_STALE_SECONDS']} s here, 60 s by default; "
        f"{reasons.count('before starting')} lost before the job claimed the run); "
        f"runs taken by {', '.join(takers)} (cpu-2 and later started after a kill); killed "
        f"during: {'; '.join(f'{p} ({o})' for p, o in zip(phases, outcomes, strict=True))}"
    )
    assert not problems, problems
    assert left_running == 0
    assert len(set(takers)) == len(moments)


# A fresh interpreter that counts every question to CUDA while the worker gets ready.
CUDA_SPY = """
import os, sys
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import torch
asked = []
count = torch._C._cuda_getDeviceCount
torch._C._cuda_getDeviceCount = lambda *a: asked.append(1) or count(*a)
torch.cuda.init = lambda: asked.append(1)
import django
django.setup()
from validation.queues import redis_connection
from validation.runs.worker import DeviceHeartbeat, build_worker, warm_up_model_loading
warm_up_model_loading()
worker = build_worker("test-host", "cuda:0", redis_connection(), name="cuda-spy")
DeviceHeartbeat(worker, "test-host", "cuda:0", redis_connection())._beat()
print(len(asked), torch.cuda.is_initialized())
"""


def test_the_worker_parent_never_initialises_cuda(worker_env, redis_server, figure):
    """CUDA initialised before the fork fails in every forked job: the parent must not."""
    out = subprocess.run(
        [sys.executable, "-c", CUDA_SPY],
        cwd=REPO_ROOT,
        env=worker_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    asked, initialised = out.stdout.split()[-2:]
    figure(f"worker parent ready: {asked} CUDA device queries, CUDA initialised: {initialised}")
    assert (asked, initialised) == ("0", "False")
