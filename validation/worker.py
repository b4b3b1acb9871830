"""An RQ worker that owns one device, publishes it, and ends its runs cleanly when it dies."""

from __future__ import annotations

import logging
import threading

import redis
from django.db import close_old_connections, connections
from django.utils.translation import gettext as _
from rq import Worker
from rq.serializers import JSONSerializer

from validation import devices
from validation.jobs import fail_run, reconcile_runs
from validation.queueing import CONTROL_QUEUE, CPU_QUEUE, POOL_QUEUE, named_queue

log = logging.getLogger(__name__)
RECONCILE_EVERY = 15.0


def queue_names(host: str, device: str) -> list[str]:
    """Its own queue first, then the shared pool (any GPU) or the CPU queue, then control."""
    own = f"device:{devices.device_key(host, device)}"
    shared = CPU_QUEUE if device == "cpu" else POOL_QUEUE
    return [own, shared, CONTROL_QUEUE]


def _run_id(job_id: str) -> int | None:
    """The run a job belongs to: "run-12" and "run-12-shard-3" are both run 12."""
    head = job_id.split("-shard-")[0]
    if head.startswith("run-") and head[4:].isdigit():
        return int(head[4:])
    return None


class InferenceWorker(Worker):
    """Forks a work horse per job (CUDA only ever starts there) and reports on lost horses."""

    def execute_job(self, job, queue):
        # The horse must not share the parent's database connection.
        connections.close_all()
        return super().execute_job(job, queue)

    def handle_job_failure(self, job, queue, started_job_registry=None, exc_string=""):
        super().handle_job_failure(job, queue, started_job_registry, exc_string)
        run_id = _run_id(job.id)
        if run_id is not None:
            reason = exc_string.strip().splitlines()[-1] if exc_string.strip() else ""
            fail_run(run_id, _("Worker lost: the process running this run ended unexpectedly "
                               "(%(reason)s).") % {"reason": reason or _("no reason given")})
            close_old_connections()

    def request_force_stop(self, signum, frame):
        job = self.get_current_job()
        run_id = _run_id(job.id) if job else None
        if run_id is not None:
            fail_run(run_id, _("The worker was stopped while this run was going (second stop "
                               "signal)."))
        super().request_force_stop(signum, frame)


class DeviceHeartbeat:
    """Publishes the device every few seconds and reconciles runs now and then, from a thread."""

    def __init__(self, worker: InferenceWorker, host: str, device: str, conn: redis.Redis):
        self.worker, self.host, self.device, self.conn = worker, host, device, conn
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="device-heartbeat", daemon=True)

    def start(self) -> None:
        self._beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        try:
            devices.withdraw(devices.device_key(self.host, self.device), self.conn)
        except redis.RedisError:
            pass

    def _beat(self) -> None:
        busy = self.worker.get_current_job_id() is not None
        devices.publish(devices.heartbeat_info(self.host, self.device, busy), self.conn)

    def _loop(self) -> None:
        since_reconcile = RECONCILE_EVERY
        while not self._stop.wait(devices.HEARTBEAT_SECONDS):
            try:
                self._beat()
                since_reconcile += devices.HEARTBEAT_SECONDS
                if since_reconcile >= RECONCILE_EVERY:
                    since_reconcile = 0.0
                    reconcile_runs()
            except Exception:  # noqa: BLE001 - a beat must never kill the worker
                log.exception("device heartbeat failed")
            finally:
                close_old_connections()


def build_worker(host: str, device: str, conn: redis.Redis, name: str | None = None):
    queues = [named_queue(q, conn) for q in queue_names(host, device)]
    return InferenceWorker(
        queues, connection=conn, serializer=JSONSerializer, name=name,
        job_monitoring_interval=5,
    )
