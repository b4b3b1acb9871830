"""Redis connection and RQ queue names shared by the web process and the workers."""

from __future__ import annotations

import redis
from django.conf import settings
from rq import Queue
from rq.serializers import JSONSerializer

POOL_QUEUE = "pool-gpu"
CPU_QUEUE = "cpu"
CONTROL_QUEUE = "control"


def redis_connection() -> redis.Redis:
    """A client that fails fast when Redis is down or hangs, so a page can say so at once.

    Workers raise the read timeout for their blocking waits (RQ does so for its own client).
    """
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=2, health_check_interval=30
    )


def queue_for_device(device_key: str, connection: redis.Redis | None = None) -> Queue:
    """The queue a run with this device choice goes to."""
    if device_key == "any-gpu":
        name = POOL_QUEUE
    elif device_key == "cpu":
        name = CPU_QUEUE
    else:
        name = f"device:{device_key}"
    return named_queue(name, connection)


def named_queue(name: str, connection: redis.Redis | None = None) -> Queue:
    return Queue(
        name,
        connection=connection or redis_connection(),
        serializer=JSONSerializer,
        default_timeout=settings.INFERENCE_JOB_TIMEOUT,
    )


def run_job_id(run_id: int) -> str:
    """Job ids are derived from the run, so a retried enqueue finds the same job."""
    return f"run-{run_id}"
