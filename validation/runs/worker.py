"""An RQ worker that owns one device, publishes it, and ends its runs cleanly when it dies."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from contextlib import suppress

import redis
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils.translation import gettext as _
from rq import Worker
from rq.serializers import JSONSerializer
from rq.worker import WorkerStatus

from validation.queues import CONTROL_QUEUE, CPU_QUEUE, POOL_QUEUE, named_queue
from validation.runs import devices
from validation.runs.reconcile import fail_unfinished, mark_taken, reconcile_runs

log = logging.getLogger(__name__)
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


def queue_names(host: str, device: str) -> list[str]:
    """Its own queue first, then the shared pool (any GPU) or the CPU queue, then control."""
    own = f"device:{devices.device_key(host, device)}"
    shared = CPU_QUEUE if device == "cpu" else POOL_QUEUE
    return [own, shared, CONTROL_QUEUE]


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else ""


class InferenceWorker(Worker):
    """Forks a work horse per job (CUDA only ever starts there) and reports on lost horses.

    A Redis outage during a job does not stop it: the horse needs only the database, and the
    worker goes back to its queues once Redis answers again.
    """

    _job_id: str | None = None

    def execute_job(self, job, queue):
        try:
            mark_taken(job.id)
        except Exception:  # noqa: BLE001 - only a hint for the reconciler
            log.exception("could not mark the run of job %s as taken", job.id)
        # The horse must not share the parent's database connection.
        connections.close_all()
        self._job_id = job.id
        try:
            return super().execute_job(job, queue)
        except REDIS_DOWN as exc:
            self._after_redis_outage(job, exc)
        finally:
            self._job_id = None

    def _after_redis_outage(self, job, exc: Exception) -> None:
        """Redis failed around a job: let the horse end, fail the run if it did not finish it,
        wait for Redis, then go on listening."""
        log.warning("Redis unreachable around job %s (%s)", job.id, exc)
        if self.horse_pid:
            with suppress(ChildProcessError):
                os.waitpid(self.horse_pid, 0)
            self._horse_pid = 0
        fail_unfinished(
            job.id,
            _(
                "Worker lost: the process running this run ended while the "
                "job queue (Redis) could not be reached (%(error)s)."
            )
            % {"error": exc},
        )
        close_old_connections()
        self._wait_for_redis()
        with suppress(*REDIS_DOWN):
            self.set_state(WorkerStatus.IDLE)

    def _wait_for_redis(self) -> None:
        delay = 1.0
        while not self._stop_requested:
            try:
                self.connection.ping()
                return
            except REDIS_DOWN:
                time.sleep(delay)
                delay = min(delay * 2, 30.0)

    def maintain_heartbeats(self, job):
        try:
            super().maintain_heartbeats(job)
        except REDIS_DOWN as exc:  # the horse goes on; RQ's own records catch up later
            log.warning("Redis unreachable while job %s runs (%s)", job.id, exc)

    def set_current_job_working_time(self, current_job_working_time, pipeline=None):
        try:
            super().set_current_job_working_time(current_job_working_time, pipeline)
        except REDIS_DOWN:
            if pipeline is not None:
                raise

    def setup_work_horse_signals(self):
        # A stop signal sent to every process of the worker (systemd, docker, a terminal) is
        # the parent's to handle: the first lets the job finish, the second kills the horse.
        super().setup_work_horse_signals()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def handle_job_failure(self, job, queue, started_job_registry=None, exc_string=""):
        # The database first: it is the truth, and RQ's bookkeeping below may fail.
        reason = _last_line(exc_string) or _("no reason given")
        if self.is_horse:  # the job raised; its run is normally failed already with the reason
            message = _("The job failed: %(reason)s") % {"reason": reason}
        else:
            message = _(
                "Worker lost: the process running this run ended unexpectedly (%(reason)s)."
            ) % {"reason": reason}
        try:
            fail_unfinished(job.id, message)
        except Exception:  # noqa: BLE001 - the reconciler fails the run later
            log.exception("could not fail the run of job %s", job.id)
        finally:
            close_old_connections()
        super().handle_job_failure(job, queue, started_job_registry, exc_string)

    def request_force_stop(self, signum, frame):
        job_id = self._job_id
        try:
            super().request_force_stop(signum, frame)  # kills the horse, then exits
        except SystemExit:
            if job_id is not None:
                fail_unfinished(
                    job_id,
                    _("The worker was stopped while this run was going (second stop signal)."),
                )
            raise


class DeviceHeartbeat:
    """Publishes the device every few seconds and reconciles runs now and then, from a thread."""

    def __init__(self, worker: InferenceWorker, host: str, device: str, conn: redis.Redis):
        self.worker, self.host, self.device, self.conn = worker, host, device, conn
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="device-heartbeat", daemon=True)

    def start(self) -> None:
        try:
            self._beat()
        except redis.RedisError:
            log.exception("device heartbeat failed")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with suppress(redis.RedisError):
            devices.withdraw(devices.device_key(self.host, self.device), self.conn)

    def _beat(self) -> None:
        busy = self.worker.get_current_job_id() is not None
        devices.publish(devices.heartbeat_info(self.host, self.device, busy), self.conn)

    def _loop(self) -> None:
        every = float(getattr(settings, "INFERENCE_RECONCILE_SECONDS", 15))
        last_beat = time.monotonic()
        last_reconcile = last_beat - every
        while not self._stop.wait(min(float(devices.HEARTBEAT_SECONDS), every)):
            now = time.monotonic()
            if now - last_beat >= devices.HEARTBEAT_SECONDS:
                last_beat = now
                self._safely(self._beat)
            if now - last_reconcile >= every:
                last_reconcile = now
                self._safely(reconcile_runs)

    @staticmethod
    def _safely(action) -> None:
        try:
            action()
        except Exception:  # noqa: BLE001 - a beat must never kill the worker
            log.exception("device heartbeat failed")
        finally:
            close_old_connections()


def warm_up_model_loading() -> None:
    """Import torch.export's deserialiser (with the FX and sympy it pulls in) once in the
    parent, so that each forked job does not spend seconds importing it again.

    Imports only: exporting or running anything here would ask CUDA for its devices, and
    CUDA initialised before the fork fails in every job.
    """
    import importlib

    started = time.perf_counter()
    importlib.import_module("torch._export.serde.serialize")
    log.info("model loading warmed up in %.1f s", time.perf_counter() - started)


def build_worker(host: str, device: str, conn: redis.Redis, name: str | None = None):
    queues = [named_queue(q, conn) for q in queue_names(host, device)]
    return InferenceWorker(
        queues,
        connection=conn,
        serializer=JSONSerializer,
        name=name,
        job_monitoring_interval=5,
    )
