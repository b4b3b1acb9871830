"""Hardening fixtures: the validation world and the access world built on it; for the fault tests
real worker processes, a Redis of our own to stop, the figures printed; the bad-input summary last.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import REPO_ROOT, free_port, redis_server_command, worker_command
from tests.hardening.access_world import access  # noqa: F401 (fixture)
from tests.jobs.conftest import _model_row
from tests.jobs.tiny_models import SlowDetector, export
from tests.run_builders import STEP3_FIELDS, start_as_the_wizard
from tests.validation.run_world import world  # noqa: F401 (fixture)
from validation.jobs import probe_model_job
from validation.models import DetectionModel, InferenceRun, Instance

# Worker timings for the tests: a run beats every second, is "lost" after 6 s of silence, each
# worker reconciles every second, and a queued run whose job Redis lost is re-queued after 3 s.
FAST_RECONCILE = {
    "INFERENCE_HEARTBEAT_SECONDS": "1",
    "INFERENCE_STALE_SECONDS": "6",
    "INFERENCE_RECONCILE_SECONDS": "1",
    "INFERENCE_QUEUED_GRACE_SECONDS": "3",
}
FIGURES: list[str] = []
SLOW_SIZE = 160  # the slow model's fixed input size
SUMMARY_TEST = "test_every_bad_input_was_answered_cleanly"  # in test_bad_input_summary.py


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The bad-input summary runs after every other test collected, whatever the file order: it
    tallies what the bad-input tests recorded (a run of its file alone has nothing to tally)."""
    last = [item for item in items if item.name == SUMMARY_TEST]
    items[:] = [item for item in items if item.name != SUMMARY_TEST] + last


def pytest_terminal_summary(terminalreporter) -> None:
    """Print every figure the fault tests reported, whether or not output was captured."""
    if FIGURES:
        terminalreporter.section("fault figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture
def figure(request) -> Callable[[str], None]:
    """Report one figure of a test: printed now and again in the run's summary."""

    def report(text: str) -> None:
        line = f"{request.node.name}: {text}"
        FIGURES.append(line)
        print(line)

    return report


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    """Poll until the predicate returns something truthy; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (killed, not yet reaped by its parent) is dead too
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def taker(conn: redis.Redis, run_id: int) -> str | None:
    """The worker that took one of the run's jobs from the queue: RQ records it in the job's
    execution before it forks the horse."""
    for job_id in (f"run-{run_id}", f"run-{run_id}-shard-0", f"run-{run_id}-shard-1"):
        for execution in conn.zrange(f"rq:executions:{job_id}", 0, -1):
            name = conn.hget(f"rq:execution:{job_id}:{execution.decode()}", "worker_name")
            if name:
                return name.decode()
    return None


class WorkerProcess:
    """`manage.py inference_worker` in a real process, its output in a log file."""

    def __init__(self, env: dict[str, str], log_dir: Path, device: str, name: str) -> None:
        self.name, self.device = name, device
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            worker_command(device, "--name", name),
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, conn: redis.Redis, timeout: float = 90) -> None:
        """Until RQ registered the worker (it is listening on its queues)."""
        wait_for(
            lambda: not self.running() or conn.exists(f"rq:worker:{self.name}"),
            timeout,
            f"worker {self.name} to start",
        )
        assert self.running(), self.log()

    def horse(self) -> int | None:
        """The work horse forked for the current job, if any (a fork runs the worker's own
        command line; other children, such as a library's helper program, do not)."""
        own = _cmdline(self.pid)
        kids = [pid for pid in children(self.pid) if _cmdline(pid) == own and alive(pid)]
        return kids[0] if kids else None

    def wait_horse(self, timeout: float = 60) -> int:
        return wait_for(self.horse, timeout, f"a work horse of {self.name}", interval=0.02)

    def wait_idle(self, timeout: float = 60) -> None:
        """Until the worker has reaped its last horse."""
        wait_for(lambda: not children(self.pid), timeout, f"{self.name} to be idle", 0.02)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def kill_all(self) -> list[int]:
        """kill -9 of the worker and of its horse; returns the pids killed."""
        os.kill(self.pid, signal.SIGSTOP)  # frozen, it cannot fork a horse we would miss
        victims = [self.pid, *children(self.pid)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)
        for pid in victims[1:]:  # orphaned horses are reaped by init; wait until they are gone
            wait_for(lambda p=pid: not alive(p), 10, f"horse {pid} to die")
        return victims

    def stop(self, timeout: float = 30) -> None:
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill_all()
        for pid in children(self.pid):
            os.kill(pid, signal.SIGKILL)
        self._log.close()


@pytest.fixture
def workers(worker_env, tmp_path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start workers with `workers(device="cpu", name=..., **env)`; all are stopped afterwards."""
    started: list[WorkerProcess] = []
    log_dir = tmp_path / "worker-logs"
    log_dir.mkdir()

    def start(device: str = "cpu", name: str | None = None, **env: str) -> WorkerProcess:
        worker = WorkerProcess(
            {**worker_env, **env}, log_dir, device, name or f"fault-{len(started)}"
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


class RedisProcess:
    """A redis-server of the test's own, without persistence, that can be stopped and restarted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="fault-redis-")
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            redis_server_command(self.port, self.workdir),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        conn = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        wait_for(lambda: self._pings(conn), 10, "redis-server to start", interval=0.05)

    @staticmethod
    def _pings(conn: redis.Redis) -> bool:
        try:
            return bool(conn.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """Shut it down (everything in it is lost: no persistence)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(10)

    def freeze(self) -> None:
        """SIGSTOP: it still accepts connections but never answers."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture
def own_redis(settings, worker_env) -> Iterator[RedisProcess]:
    """A private, running redis-server; the test may stop, freeze and restart it."""
    server = RedisProcess()
    server.start()
    settings.REDIS_URL = server.url
    yield server
    server.close()


@pytest.fixture
def slow_model(tmp_path, settings) -> DetectionModel:
    """The slow detector at 160 px: a run of the 12 validation images lasts a few seconds."""
    path = export(SlowDetector(), tmp_path / "slow.pt2", size=SLOW_SIZE)
    return probed(_model_row(path, "slow", settings))


def probed(model: DetectionModel) -> DetectionModel:
    """The model after its probe job (run here), as an uploaded model is before its runs."""
    result = probe_model_job(model.pk)
    assert result["passed"], result
    model.refresh_from_db()
    return model


def start(model, project, user, **overrides) -> InferenceRun:
    """Start a run the way the wizard does, in batches of 2 at the slow model's size."""
    values = {"batch_size": 2, "image_size": SLOW_SIZE, **overrides}
    return start_as_the_wizard(model, project, user, **values)


def ended(run_id: int) -> InferenceRun | None:
    """The run once it is completed, failed or cancelled; None while queued or running."""
    run = InferenceRun.objects.get(pk=run_id)
    return None if run.status in InferenceRun.ACTIVE_STATUSES else run


def wait_ended(run_id: int, timeout: float, *watched: WorkerProcess) -> InferenceRun:
    """The run once it ended; on timeout, fail with its row and the workers' last log lines."""
    try:
        return wait_for(lambda: ended(run_id), timeout, f"run {run_id} to end")
    except AssertionError as exc:
        run = InferenceRun.objects.get(pk=run_id)
        state = (
            f"status={run.status} done={run.images_done}/{run.images_total} "
            f"heartbeat={run.heartbeat_at} error={run.error_message!r}"
        )
        logs = "\n".join(f"--- {w.name} ---\n{w.log()[-3000:]}" for w in watched)
        raise AssertionError(f"{exc}: {state}\n{logs}") from None


def whole_or_nothing(run: InferenceRun) -> str:
    """'' when a run shows all of its results (completed) or none (otherwise); else what is off."""
    instances = Instance.objects.filter(run=run).count()
    matrix_total = sum(sum(row) for row in run.matrix)
    has_results = bool(run.matrix) or run.evaluated_at is not None or bool(run.per_label)
    if run.status == InferenceRun.Status.COMPLETED:
        missing = [
            name
            for name, ok in [
                ("matrix", bool(run.matrix)),
                ("instances", instances > 0 and instances == matrix_total),
                ("metrics", bool(run.per_label) and run.evaluated_at is not None),
                ("predictions file", bool(run.predictions_file)),
            ]
            if not ok
        ]
        return f"completed run {run.pk} lacks {', '.join(missing)}" if missing else ""
    if instances or has_results:
        return (
            f"{run.status} run {run.pk} shows partial results: {instances} instances, "
            f"matrix {'set' if run.matrix else 'empty'}"
        )
    if run.status == InferenceRun.Status.FAILED and not run.error_message:
        return f"failed run {run.pk} has no reason"
    return ""


# The validation project (12 images, three labels) and the fast tiny model of the worker tests.
from tests.jobs.conftest import tiny_model, validation_project  # noqa: E402, F401


def fill_wizard(client, model: DetectionModel, project) -> None:
    """Steps 1 and 2 of the wizard, as a user fills them; step 3 is the test's."""
    from django.urls import reverse

    step1 = {"process": model.process_id, "model": model.pk, "project": project.pk}
    response = client.post(reverse("validation:wizard-step1"), step1)
    assert response.status_code == 302, response.content.decode()[:2000]
    step2 = {"base_confidence": "0.3", "tab": "source", "label_confidences": "{}", "action": "next"}
    response = client.post(reverse("validation:wizard-step2"), step2)
    assert response.status_code == 302, response.content.decode()[:2000]


def step3_data(token: str, **changes: str) -> dict[str, str]:
    """The final step's form: start the run (batches of 4 at 64 px) with this submission token."""
    fields = {"batch_size": "4", "image_size": "64", "submission_token": token, "action": "start"}
    return {**STEP3_FIELDS, **fields, **changes}
