"""Start an RQ worker that owns one device (cpu or cuda:N)."""

from __future__ import annotations

import os
import re

from django.core.management.base import BaseCommand, CommandError

from validation.engine.memory import keep_freed_memory
from validation.queues import redis_connection
from validation.runs import devices
from validation.runs.worker import DeviceHeartbeat, build_worker, warm_up_model_loading


class Command(BaseCommand):
    help = "Run an inference worker for one device: `--device cpu` or `--device cuda:0`."

    def add_arguments(self, parser):
        parser.add_argument("--device", default="cpu", help="cpu or cuda:N")
        parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
        parser.add_argument("--name", default=None, help="worker name (default: host/device/pid)")

    def handle(self, *args, device: str, burst: bool, name: str | None, **options):
        if not re.fullmatch(r"cpu|cuda:\d+", device):
            raise CommandError(f"--device must be cpu or cuda:N, not {device!r}")
        # Job code reads these; CUDA itself is only ever initialised in the forked work horse.
        os.environ["PORTAL_WORKER_DEVICE"] = device
        host = devices.this_host()
        os.environ.setdefault("PORTAL_WORKER_HOST", host)
        keep_freed_memory()  # inherited by every work horse: batches reuse their memory
        conn = redis_connection()
        worker = build_worker(host, device, conn, name or f"{host}-{device}-{os.getpid()}")
        heartbeat = DeviceHeartbeat(worker, host, device, conn)
        heartbeat.start()  # live at once: the wizard and `validate` see it while it warms up
        try:
            warm_up_model_loading()
        except Exception as exc:  # noqa: BLE001 - only a speed-up: jobs import what they need
            self.stderr.write(f"model loading was not warmed up: {exc}")
        self.stdout.write(
            f"worker {worker.name} on {device}, queues: {', '.join(q.name for q in worker.queues)}"
        )
        try:
            worker.work(burst=burst, logging_level="INFO")
        finally:
            heartbeat.stop()
