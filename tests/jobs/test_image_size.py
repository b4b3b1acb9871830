"""A model whose file fixes its input size: stored at its probe, and each run records the size
the engine really ran at (issue 14, finding 6)."""

from __future__ import annotations

import pytest

from tests.run_builders import start_as_the_wizard
from validation.forms.wizard import InferenceParametersForm
from validation.jobs import probe_model_job, run_inference_job
from validation.models import DetectionModel, InferenceRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_the_probe_stores_the_size_the_model_file_fixes(tiny_model):
    DetectionModel.objects.filter(pk=tiny_model.pk).update(input_size=320)  # declared wrongly
    probe_model_job(tiny_model.pk)
    tiny_model.refresh_from_db()
    assert tiny_model.probe_info["fixed_size"] == 64  # the exported graph takes 64×64 only
    assert tiny_model.input_size == 64
    form = InferenceParametersForm(model=tiny_model)
    assert form.fields["image_size"].initial == 64


def test_a_run_asked_at_another_size_records_the_size_the_engine_used(
    worker_env, flush_redis, tiny_model, validation_project, owner
):
    # 320: what an older wizard or a script asked for
    run = start_as_the_wizard(tiny_model, validation_project, owner, image_size=320)
    run_inference_job(run.pk)
    run.refresh_from_db()
    assert run.status == InferenceRun.Status.COMPLETED, run.error_message
    assert run.image_size == 64
