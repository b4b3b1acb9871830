"""The crop view: a PNG the server made, cached, only for those who may see the run."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.validation.run_world import make_completed_run
from validation.presenters.crops import crop_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(world):
    return make_completed_run(world.project, world.model, world.owner)


def url(run, instance) -> str:
    return reverse("validation:instance-crop", args=[run.pk, instance.pk])


def test_crop_is_a_png_with_safe_headers(client, world, run):
    instance = run.instances.first()
    client.force_login(world.member)
    response = client.get(url(run, instance))
    body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, max-age=86400"
    assert body.startswith(b"\x89PNG")


def test_second_request_reads_the_cached_file(client, world, run):
    instance = run.instances.first()
    client.force_login(world.member)
    b"".join(client.get(url(run, instance)).streaming_content)
    crop_path(instance).write_bytes(b"\x89PNG-from-cache")
    assert b"".join(client.get(url(run, instance)).streaming_content) == b"\x89PNG-from-cache"


def test_instance_of_another_run_is_404(client, world, run):
    other = make_completed_run(world.project, world.model, world.owner)
    client.force_login(world.member)
    assert client.get(url(run, other.instances.first())).status_code == 404


def test_missing_image_file_is_404(client, world, run):
    instance = run.instances.first()
    instance.image.file.delete(save=False)
    client.force_login(world.member)
    assert client.get(url(run, instance)).status_code == 404


def test_outsider_anonymous_and_wrong_method(client, world, run):
    instance = run.instances.first()
    assert client.get(url(run, instance)).url.startswith(reverse("login"))
    client.force_login(world.outsider)
    assert client.get(url(run, instance)).status_code == 404
    client.force_login(world.member)
    assert client.post(url(run, instance)).status_code == 405
