"""A large run split into shards on two worker processes gives the same results as one."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO_ROOT, run_burst_worker
from tests.run_builders import start_as_the_wizard
from validation.analysis import predictions as stored
from validation.models import InferenceRun, Instance, RunShard

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _start(model, project, user) -> InferenceRun:
    """A run at base 0.2, IoU 0.1, low overlap 0.4, in batches of 2."""
    settings = {"base_confidence": 0.2, "iou_threshold": 0.1, "low_overlap_threshold": 0.4}
    return start_as_the_wizard(model, project, user, batch_size=2, **settings)


def test_two_workers_sharing_a_sharded_run_match_a_single_run(
    worker_env, flush_redis, tiny_model, validation_project, owner, settings
):
    single = _start(tiny_model, validation_project, owner)
    run_burst_worker(worker_env)
    single.refresh_from_db()
    assert single.status == InferenceRun.Status.COMPLETED, single.error_message
    assert not RunShard.objects.filter(run=single).exists()

    settings.INFERENCE_SHARD_SIZE = 5
    sharded = _start(tiny_model, validation_project, owner)
    assert RunShard.objects.filter(run=sharded).count() == 3  # 12 images: 5 + 5 + 2
    env = dict(worker_env, INFERENCE_SHARD_SIZE="5")
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "inference_worker",
                "--device",
                "cpu",
                "--burst",
                "--name",
                f"shard-worker-{k}",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for k in range(2)
    ]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    sharded.refresh_from_db()
    assert sharded.status == InferenceRun.Status.COMPLETED, sharded.error_message
    assert sharded.images_done == sharded.images_total == 12
    assert sharded.matrix == single.matrix
    assert sharded.per_label == single.per_label
    a = stored.load(single.predictions_file.name)
    b = stored.load(sharded.predictions_file.name)
    np.testing.assert_array_equal(a.image_ids, b.image_ids)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_allclose(a.boxes, b.boxes)
    assert (
        Instance.objects.filter(run=sharded).count() == Instance.objects.filter(run=single).count()
    )
    assert set(RunShard.objects.filter(run=sharded).values_list("status", flat=True)) == {
        "completed"
    }
