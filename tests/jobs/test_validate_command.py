"""`manage.py validate`: the wizard's checks and messages, and --wait --json for pipelines."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import running_worker
from tests.run_builders import LINE_DECISION_KEYS
from validation.models import InferenceRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_a_label_confidence_below_the_base_is_refused_like_the_wizard(
    worker_env, flush_redis, tiny_model, validation_project, staff
):
    with pytest.raises(CommandError, match="below the base confidence"):
        call_command(
            "validate",
            "--model",
            tiny_model.name,
            "--project",
            validation_project.name,
            "--conf",
            "0.5",
            "--label-conf",
            "dent=0.2",
            "--user",
            "staff",
        )
    assert InferenceRun.objects.count() == 0


def test_an_unknown_model_is_refused(worker_env, flush_redis, validation_project, staff):
    with pytest.raises(CommandError, match="not found"):
        call_command(
            "validate", "--model", "nope", "--project", validation_project.name, "--user", "staff"
        )


def test_wait_json_follows_the_run_and_prints_its_results(
    worker_env, flush_redis, tiny_model, validation_project, staff
):
    with running_worker(worker_env):
        out, err = io.StringIO(), io.StringIO()
        call_command(
            "validate",
            "--model",
            str(tiny_model.pk),
            "--project",
            validation_project.name,
            "--conf",
            "0.3",
            "--label-conf",
            "dent=0.5",
            "--iou",
            "0.3",
            "--image-size",
            "64",
            "--user",
            "staff",
            "--wait",
            "--json",
            stdout=out,
            stderr=err,
        )
    result = json.loads(out.getvalue())
    run = InferenceRun.objects.get()
    assert result["run"] == run.pk and result["status"] == "completed"
    assert result["matrix"] == run.matrix
    assert result["columns"][-2:] == ["BG", "LOC"] and result["rows"][-1] == "{}"
    assert set(result["timing"]) >= {"load", "preprocess", "model", "match", "save", "total"}
    assert run.label_threshold_map() == {"dent": 0.5}
    images = result["images"]
    assert set(images) == {*LINE_DECISION_KEYS, "reject_labels"} and images == {
        **run.line_decision,
        "reject_labels": run.labels,
    }
    assert (
        images["total"]
        == 12
        == images["caught"] + images["escapes"] + images["overkills"] + images["passes"]
    )
    assert "completed 12/12" in err.getvalue()


def _validate_args(model, project) -> list[str]:
    return ["validate", "--model", str(model.pk), "--project", project.name, "--user", "staff"]


def test_a_device_no_live_worker_serves_is_refused_at_once_with_the_command_to_start_one(
    worker_env, flush_redis, tiny_model, validation_project, staff, settings
):
    settings.INFERENCE_WORKER_GRACE_SECONDS = 0
    for device in ("cpu", "any-gpu"):
        with pytest.raises(CommandError) as refused:
            call_command(*_validate_args(tiny_model, validation_project), "--device", device)
        message = str(refused.value)
        assert refused.value.returncode == 2 and "\n" not in message
        assert message.startswith(f"device: No live worker serves the queue of “{device}”")
        assert "manage.py inference_worker --device" in message
    assert InferenceRun.objects.count() == 0


def test_a_size_the_model_file_cannot_take_is_refused_in_one_line_with_exit_2(
    worker_env, flush_redis, tiny_model, validation_project, staff
):
    tiny_model.probe_info = {"dynamic_size": False, "fixed_size": 64, "fixed_shape": [64, 64]}
    tiny_model.save(update_fields=["probe_info"])
    with pytest.raises(CommandError) as refused:
        call_command(*_validate_args(tiny_model, validation_project), "--image-size", "320")
    message = str(refused.value)
    assert refused.value.returncode == 2 and "\n" not in message
    assert message == (
        "image_size: The file of “bright spots” fixes its input size to 64; "
        "it cannot run at 320. Enter 64."
    )
    assert InferenceRun.objects.count() == 0
