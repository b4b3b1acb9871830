"""The registry of live devices, written by workers' heartbeats and read by the wizard."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import asdict, dataclass

import redis
from django.utils.translation import gettext as _

from validation.queues import redis_connection

DEVICE_KEY_PREFIX = "portal:device:"
HEARTBEAT_SECONDS = 5
DEVICE_TTL_SECONDS = 20


@dataclass(frozen=True)
class DeviceInfo:
    key: str
    host: str
    kind: str
    index: int | None
    name: str
    memory_total: int | None
    memory_free: int | None
    busy: bool
    last_seen: float


def device_key(host: str, device: str) -> str:
    """The registry key of one device on one host: "host/cuda:0" or "host/cpu"."""
    return f"{host}/{device}"


def publish(info: DeviceInfo, connection: redis.Redis) -> None:
    """Write one heartbeat; the entry expires unless the worker keeps beating."""
    connection.set(DEVICE_KEY_PREFIX + info.key, json.dumps(asdict(info)), ex=DEVICE_TTL_SECONDS)


def withdraw(key: str, connection: redis.Redis) -> None:
    connection.delete(DEVICE_KEY_PREFIX + key)


def _read_live(connection: redis.Redis | None = None) -> list[DeviceInfo] | None:
    """Devices whose worker beat recently; None when Redis cannot be reached."""
    try:
        conn = connection or redis_connection()
        keys = sorted(conn.scan_iter(DEVICE_KEY_PREFIX + "*"))
        values = conn.mget(keys) if keys else []
    except redis.RedisError:
        return None
    devices = []
    for raw in values:
        if raw:
            devices.append(DeviceInfo(**json.loads(raw)))
    return sorted(devices, key=lambda d: (d.host, d.kind != "cuda", d.index or 0))


def live_devices(connection: redis.Redis | None = None) -> list[DeviceInfo]:
    """Devices whose worker beat recently; empty when Redis cannot be reached."""
    return _read_live(connection) or []


def _describe(device: DeviceInfo) -> str:
    parts = [device.key, device.name]
    if device.memory_total:
        free = (device.memory_free or 0) / 2**30
        parts.append(
            _("%(free).0f/%(total).0f GiB free")
            % {"free": free, "total": device.memory_total / 2**30}
        )
    parts.append(_("busy") if device.busy else _("idle"))
    return " · ".join(parts)


@dataclass(frozen=True)
class DeviceOption:
    """One entry of the wizard's device select: offered, or shown disabled with the reason."""

    value: str
    name: str
    disabled_reason: str = ""


def device_options(live: list[DeviceInfo] | None = None) -> list[DeviceOption]:
    """Any GPU (disabled while no GPU worker is live), CPU, then each live GPU."""
    live = live_devices() if live is None else live
    gpus = [device for device in live if device.kind == "cuda"]
    hosts = ", ".join(device.host for device in live if device.kind == "cpu")
    cpu = _("CPU (%(hosts)s)") % {"hosts": hosts} if hosts else _("CPU (no worker live yet)")
    return [
        DeviceOption("any-gpu", _("Any GPU"), "" if gpus else _("no GPU worker is live")),
        DeviceOption("cpu", cpu),
        *(DeviceOption(device.key, _describe(device)) for device in gpus),
    ]


def default_device(options: list[DeviceOption]) -> str:
    """A GPU when a GPU worker is live (any of them takes the run), else the CPU."""
    usable = {option.value for option in options if not option.disabled_reason}
    return "any-gpu" if "any-gpu" in usable else "cpu"


def serves(device: DeviceInfo, choice: str) -> bool:
    """Whether this device's worker listens on the queue of a run's device choice."""
    if choice == "any-gpu":
        return device.kind == "cuda"
    if choice == "cpu":
        return device.kind == "cpu"
    return device.key == choice


WORKER_COMMAND = ".venv/bin/python manage.py inference_worker --device %s"


def start_command(choice: str) -> str:
    """The command that starts a worker for this device choice (on its host, for one GPU)."""
    if choice == "cpu":
        return WORKER_COMMAND % "cpu"
    if choice == "any-gpu":
        return WORKER_COMMAND % "cuda:0"
    host, _sep, device = choice.rpartition("/")
    return _("%(command)s on %(host)s") % {"command": WORKER_COMMAND % device, "host": host}


def unserved_reason(choice: str, connection: redis.Redis | None = None) -> str:
    """Why a run on this device choice would wait for ever, or "" (served, or Redis down)."""
    live = _read_live(connection)
    if live is None or any(serves(device, choice) for device in live):
        return ""
    return no_worker_message(choice)


def no_worker_message(choice: str) -> str:
    """What the wizard, the run page and `validate` say when no worker serves a choice."""
    return _(
        "No live worker serves the queue of “%(device)s”, so the run cannot start. "
        "Start one with: %(command)s"
    ) % {"device": choice, "command": start_command(choice)}


def this_host() -> str:
    return os.environ.get("PORTAL_WORKER_HOST") or socket.gethostname()


def probe_hardware(device: str) -> tuple[str, int | None, int | None]:
    """Name, total and free memory of a device, without initialising CUDA in this process."""
    if device == "cpu":
        return _cpu_name(), _meminfo("MemTotal"), _meminfo("MemAvailable")
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    try:
        out = subprocess.run(
            [
                "nvidia-smi",
                f"--id={index}",
                "--query-gpu=name,memory.total,memory.free",
                "--format=csv,noheader,nounits",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        name, total, free = (part.strip() for part in out.split(","))
        return name, int(total) * 2**20, int(free) * 2**20
    except (OSError, subprocess.SubprocessError, ValueError):
        return f"GPU {index}", None, None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"CPU ({os.cpu_count()} cores)"


def _meminfo(field: str) -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def heartbeat_info(host: str, device: str, busy: bool) -> DeviceInfo:
    name, total, free = probe_hardware(device)
    kind = "cpu" if device == "cpu" else "cuda"
    index = None if kind == "cpu" else int(device.split(":", 1)[1] if ":" in device else 0)
    return DeviceInfo(
        key=device_key(host, device),
        host=host,
        kind=kind,
        index=index,
        name=name,
        memory_total=total,
        memory_free=free,
        busy=busy,
        last_seen=time.time(),
    )
