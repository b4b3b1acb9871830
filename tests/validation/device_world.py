"""A device in the registry, as a worker's heartbeat writes it."""

from __future__ import annotations

import redis

from validation.runs import devices


def publish_device(redis_url: str, key: str, kind: str) -> None:
    """Publish "host/cpu" or "host/cuda:N" as live (for the registry's TTL)."""
    info = devices.DeviceInfo(
        key=key,
        host=key.partition("/")[0],
        kind=kind,
        index=0 if kind == "cuda" else None,
        name="H100" if kind == "cuda" else "Xeon",
        memory_total=None,
        memory_free=None,
        busy=False,
        last_seen=0.0,
    )
    devices.publish(info, redis.Redis.from_url(redis_url))
