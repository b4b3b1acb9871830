"""A running run's signs of life: a heartbeat thread, and progress with the cancel flag."""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Sum
from django.utils import timezone

from validation.models import InferenceRun, RunShard

Status = InferenceRun.Status
PROGRESS_INTERVAL = 1.0  # seconds between progress writes and cancel-flag reads


class RunHeartbeat:
    """Beats on the run row from a thread, so a dead job is told from a slow one."""

    def __init__(self, run_id: int, every: float | None = None) -> None:
        self.run_id = run_id
        self.every = every or float(getattr(settings, "INFERENCE_HEARTBEAT_SECONDS", 10))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> RunHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.every):
                InferenceRun.objects.filter(pk=self.run_id, status=Status.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
        finally:
            close_old_connections()


class Progress:
    """Writes progress at most once a second and reads the cancel flag as often."""

    def __init__(self, run_id: int, shard_id: int | None = None) -> None:
        self.run_id, self.shard_id = run_id, shard_id
        self.started = time.monotonic()
        self._last_write = 0.0
        self._last_check = 0.0
        self._stop = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last_write < PROGRESS_INTERVAL and done < total:
            return
        self._last_write = now
        rate = done / max(now - self.started, 1e-6)
        if self.shard_id is None:
            done_all, total_all = done, total
        else:
            done_all, total_all = self._run_totals(self.shard_id, done)
        left = (total_all - done_all) / rate if rate > 0 else None
        InferenceRun.objects.filter(pk=self.run_id, status=Status.RUNNING).update(
            images_done=min(done_all, total_all),
            images_per_second=rate,
            seconds_left=left,
            heartbeat_at=timezone.now(),
        )

    def _run_totals(self, shard_id: int, done: int) -> tuple[int, int]:
        """Record this shard's count; (done, total) of the whole run over all its shards."""
        RunShard.objects.filter(pk=shard_id).update(images_done=done)
        done_all = (
            RunShard.objects.filter(run_id=self.run_id).aggregate(n=Sum("images_done"))["n"] or 0
        )
        total_all = InferenceRun.objects.values_list("images_total", flat=True).get(pk=self.run_id)
        return done_all, total_all

    def should_stop(self) -> bool:
        """True once the user cancelled, or the run ended elsewhere (another shard failed)."""
        now = time.monotonic()
        if now - self._last_check >= PROGRESS_INTERVAL:
            self._last_check = now
            self._stop = not InferenceRun.objects.filter(
                pk=self.run_id, status=Status.RUNNING, cancel_requested=False
            ).exists()
        return self._stop
