"""The device registry as the wizard, the run page and `validate` read it (issue 14, finding 11)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.clients import HTMX
from tests.run_builders import new_run
from tests.validation.device_world import publish_device
from tests.validation.run_world import World
from validation.models import InferenceRun
from validation.runs import devices

pytestmark = pytest.mark.django_db
CPU_COMMAND = ".venv/bin/python manage.py inference_worker --device cpu"


@pytest.fixture
def live_redis(settings, redis_server, flush_redis) -> str:
    settings.REDIS_URL = redis_server
    return redis_server


def queued_run(world: World, device: str) -> InferenceRun:
    return new_run(
        world.project, world.model, world.owner, base_confidence=0.3, device=device, images_total=3
    )


def progress(client, run: InferenceRun) -> str:
    response = client.get(reverse("validation:run-progress", args=[run.pk]), **HTMX)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("choice", "command"),
    [
        ("cpu", CPU_COMMAND),
        ("any-gpu", ".venv/bin/python manage.py inference_worker --device cuda:0"),
        ("box-2/cuda:1", ".venv/bin/python manage.py inference_worker --device cuda:1 on box-2"),
    ],
)
def test_a_choice_no_live_worker_serves_is_named_with_the_command_that_starts_one(
    live_redis, choice, command
):
    if choice == "cpu":
        publish_device(live_redis, "box-1/cuda:0", "cuda")  # a GPU is live, no CPU worker
    reason = devices.unserved_reason(choice)
    assert f"No live worker serves the queue of “{choice}”" in reason
    assert reason.endswith(command)


@pytest.mark.parametrize(
    ("live", "choice"),
    [("box-1/cpu", "cpu"), ("box-1/cuda:0", "any-gpu"), ("box-1/cuda:0", "box-1/cuda:0")],
)
def test_a_choice_a_live_worker_serves_has_no_reason(live_redis, live, choice):
    publish_device(live_redis, live, "cpu" if live.endswith("cpu") else "cuda")
    assert devices.unserved_reason(choice) == ""


def test_an_unreachable_redis_is_not_reported_as_a_missing_worker(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert devices.unserved_reason("cpu") == ""


def test_a_queued_run_no_worker_serves_says_so_on_its_progress_fragment(
    owner_client, world, live_redis
):
    run = queued_run(world, "cpu")
    html = progress(owner_client, run)
    assert "No live worker serves the queue of “cpu”" in html and CPU_COMMAND in html
    publish_device(live_redis, "box-1/cpu", "cpu")  # a worker starts: the next poll is quiet
    assert "No live worker" not in progress(owner_client, run)


def test_the_run_page_says_so_on_first_load_too(owner_client, world, live_redis):
    run = queued_run(world, "any-gpu")
    html = owner_client.get(run.get_absolute_url()).content.decode()
    assert "No live worker serves the queue of “any-gpu”" in html


def test_a_running_run_is_not_warned_about(owner_client, world, live_redis):
    run = queued_run(world, "cpu")
    InferenceRun.objects.filter(pk=run.pk).update(status=InferenceRun.Status.RUNNING)
    assert "No live worker" not in progress(owner_client, run)
