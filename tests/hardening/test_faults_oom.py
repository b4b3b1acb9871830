"""Out of memory during a run, through a real worker: the batch halves down to 1, then fails."""

from __future__ import annotations

import numpy as np
import pytest
import redis
import torch
from rq.registry import FailedJobRegistry
from torch import nn

from tests.hardening.conftest import start, wait_ended, wait_for, whole_or_nothing
from tests.jobs.conftest import LABELS
from tests.jobs.tiny_models import BrightSpotDetector
from validation.analysis import predictions as stored
from validation.modelfiles.importing import import_model
from validation.models import DetectionModel, InferenceRun, Process
from validation.queues import CPU_QUEUE, named_queue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


class OomAboveBatch(nn.Module):
    """The bright-spot detector, out of memory for batches larger than `limit` (raising what
    a scripted model raises when CUDA runs out of memory inside it)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.detector = BrightSpotDetector()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > self.limit:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB (simulated)")
        return self.detector(x)


class OomAbovePixels(nn.Module):
    """Out of memory for images larger than `pixels`, whatever the batch."""

    def __init__(self, pixels: int) -> None:
        super().__init__()
        self.pixels = pixels
        self.detector = BrightSpotDetector()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] * x.shape[3] > self.pixels:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB (simulated)")
        return self.detector(x)


def _upload(module: nn.Module, name: str, tmp_path) -> DetectionModel:
    """Script the module and import it as a user uploads a model (its probe job is queued)."""
    path = tmp_path / f"{name}.torchscript"
    torch.jit.script(module.eval()).save(str(path))
    process, _ = Process.objects.get_or_create(name="surface")
    return import_model(
        process,
        path,
        name=name,
        labels=LABELS,
        input_size=64,
        resize_mode="letterbox",
        output_format="nx6",
    )


def _probed(model: DetectionModel) -> DetectionModel:
    def passed():
        model.refresh_from_db()
        return model.probe_status != DetectionModel.ProbeStatus.PENDING

    wait_for(passed, 120, f"the probe of {model.name}")
    assert model.probe_status == DetectionModel.ProbeStatus.PASSED, model.probe_message
    return model


def _results(run: InferenceRun) -> tuple:
    return (run.matrix, run.per_label, run.precision, run.recall, run.f1, run.map50, run.map50_95)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_out_of_memory_halves_the_batch_to_1_then_fails_once_with_the_reason(
    workers, redis_server, flush_redis, validation_project, owner, tmp_path, figure
):
    conn = redis.Redis.from_url(redis_server)
    worker = workers()
    reference = _upload(OomAboveBatch(limit=256), "never out of memory", tmp_path)
    halving = _upload(OomAboveBatch(limit=1), "out of memory above batch 1", tmp_path)
    always = _upload(OomAbovePixels(pixels=64 * 64), "out of memory above 64 px", tmp_path)
    worker.wait_ready(conn)
    for model in (reference, halving, always):
        _probed(model)

    ref_run = start(reference, validation_project, owner, batch_size=8, image_size=64)
    oom_run = start(halving, validation_project, owner, batch_size=8, image_size=64)
    fail_run = start(always, validation_project, owner, batch_size=4, image_size=128)
    after = start(reference, validation_project, owner, batch_size=8, image_size=64)
    ref_run, oom_run, fail_run, after = (
        wait_ended(run.pk, 180, worker) for run in (ref_run, oom_run, fail_run, after)
    )

    assert ref_run.status == InferenceRun.Status.COMPLETED, ref_run.error_message
    assert oom_run.status == InferenceRun.Status.COMPLETED, oom_run.error_message
    same_metrics = _results(oom_run) == _results(ref_run)
    a, b = stored.load(ref_run.predictions_file.name), stored.load(oom_run.predictions_file.name)
    # Batched and single-image convolutions may round differently in the last bit.
    same_layout = all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("offsets", "labels"))
    drift = max(float(np.abs(a.boxes - b.boxes).max()), float(np.abs(a.scores - b.scores).max()))
    failed_jobs = FailedJobRegistry(queue=named_queue(CPU_QUEUE, conn)).get_job_ids()
    figure(
        f"batch 8 on a model out of memory above batch 1: {oom_run.status}, metrics "
        f"{'equal to' if same_metrics else 'DIFFERENT from'} the reference run's, the same "
        f"predictions {'' if same_layout else 'NOT '}to {drift:.1e} px/score; out of memory "
        f"at batch 1: {fail_run.status} ({fail_run.error_message!r}), its job failed "
        f"{failed_jobs.count(f'run-{fail_run.pk}')} time(s); the next run: {after.status}"
    )
    assert same_metrics and same_layout and drift < 1e-4
    assert whole_or_nothing(oom_run) == ""
    assert fail_run.status == InferenceRun.Status.FAILED
    assert "ran out of memory even with one image per batch" in fail_run.error_message
    assert "out of memory at batch size 1 on cpu" in fail_run.error_message
    assert whole_or_nothing(fail_run) == ""
    assert failed_jobs == [f"run-{fail_run.pk}"]
    assert after.status == InferenceRun.Status.COMPLETED, after.error_message
