"""Killing a worker's job process mid-run ends the run failed, with no partial results."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import running_worker
from tests.jobs.conftest import _model_row
from tests.jobs.tiny_models import SlowDetector, export
from tests.run_builders import start_as_the_wizard
from validation.models import InferenceRun, Instance

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_kill_9_of_the_job_process_fails_the_run_and_the_worker_goes_on(
    worker_env, flush_redis, validation_project, owner, tmp_path, settings
):
    model = _model_row(
        export(SlowDetector(), tmp_path / "slow.pt2", size=512),
        "slow",
        settings,
        probe_status="passed",
    )
    with running_worker(worker_env, output=subprocess.PIPE) as worker:
        run = start_as_the_wizard(model, validation_project, owner, batch_size=1, image_size=512)
        _wait_for(
            lambda: InferenceRun.objects.get(pk=run.pk).images_done >= 1,
            120,
            "the run to make progress",
        )
        horses = _children(worker.pid)
        assert horses, "the worker has no work horse"
        for pid in horses:
            os.kill(pid, signal.SIGKILL)
        run = _wait_for(
            lambda: (r := InferenceRun.objects.get(pk=run.pk)).status != "running" and r,
            60,
            "the run to end",
        )
        assert run.status == InferenceRun.Status.FAILED
        assert "Worker lost" in run.error_message
        assert not Instance.objects.filter(run=run).exists()
        assert run.precision is None and run.matrix == []

        # The same worker takes the next job.
        next_run = start_as_the_wizard(model, validation_project, owner, image_size=512)
        done = _wait_for(
            lambda: (
                (r := InferenceRun.objects.get(pk=next_run.pk)).status in ("completed", "failed")
                and r
            ),
            240,
            "the next run to finish",
        )
        assert done.status == InferenceRun.Status.COMPLETED, done.error_message
