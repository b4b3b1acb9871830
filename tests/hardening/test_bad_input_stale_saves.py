"""Stale saves, two users at once: the second save of what both read is refused, nothing lost.

Each case: user A and user B open the same object; A saves a change; B saves what he read.
B gets 409 with a message saying why, and A's change is still there, whole. Each outcome goes
into the bad-input tally (kind "stale").
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from django import forms
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.urls import reverse

from projects.editing import AnnotationsStale, save_annotations
from projects.models import Annotation, Image, Task
from tests import clients
from tests.clients import HTMX
from tests.hardening.bad_input import Guard, Outcome, record
from tests.hardening.corpus import zip_bytes
from tests.projects.view_world import boxes_of
from tests.validation.run_world import make_completed_run
from validation.models import DetectionModel, InferenceRun

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    """A client of the user's own that answers a server error as a browser gets it (a 500)."""
    return clients.logged_in(user, raise_request_exception=False)


def refused_stale(name: str, response, message: str, guard: Guard) -> Outcome:
    """Record B's stale save: 409, the message in the answer, no row changed by it."""
    outcome = record(Outcome("stale", name, name.split("/")[0], refused=True))
    body = response.content.decode()
    outcome.reason = f"{response.status_code} {body[:200]}"
    if response.status_code >= 500:
        outcome.server_error = f"HTTP {response.status_code}"
    outcome.located = response.status_code == 409 and message in body
    guard.check_refused(outcome)
    guard.close()
    return outcome


def form_version(response) -> int:
    """The version a form fragment was rendered at (its hidden field)."""
    return int(re.search(r'name="version" value="(\d+)"', response.content.decode()).group(1))


def editor_boxes(client: Client, image: Image) -> dict:
    """What the editor page hands its JS: the image version and the boxes."""
    config = client.get(reverse("projects:image-editor", args=[image.pk])).context["config"]
    boxes = [
        {k: a[k] for k in ("id", "label", "x1", "y1", "x2", "y2")} for a in config["annotations"]
    ]
    return {"version": config["image"]["version"], "boxes": boxes}


def save(client: Client, image: Image, payload: dict):
    url = reverse("projects:image-annotations-save", args=[image.pk])
    return client.post(url, json.dumps(payload), content_type="application/json")


def test_a_stale_editor_save_does_not_erase_the_first_users_boxes(world, tmp_path, settings):
    image = world.project.validation_images().order_by("id").first()
    alice, bob = logged_in(world.owner), logged_in(world.member)
    seen_by_alice, seen_by_bob = editor_boxes(alice, image), editor_boxes(bob, image)
    seen_by_alice["boxes"][0].update(x1=25, x2=85)  # moves a box
    label = seen_by_alice["boxes"][0]["label"]
    seen_by_alice["boxes"].append(
        {"id": None, "label": label, "x1": 5, "y1": 5, "x2": 15, "y2": 15}
    )
    assert save(alice, image, seen_by_alice).status_code == 200
    alices = list(Annotation.objects.filter(image=image).order_by("id").values_list())
    guard = Guard(tmp_path, Path(settings.MEDIA_ROOT))

    response = save(bob, image, {**seen_by_bob, "boxes": seen_by_bob["boxes"][1:]})

    outcome = refused_stale("editor/stale-list", response, "Someone else saved", guard)
    assert outcome.clean, str(outcome)
    assert list(Annotation.objects.filter(image=image).order_by("id").values_list()) == alices


def test_of_two_editor_saves_read_at_one_version_exactly_one_is_stored(world):
    image = world.project.validation_images().order_by("id").first()
    alice, bob = logged_in(world.owner), logged_in(world.member)
    payload = editor_boxes(alice, image)

    answers = [save(client, image, payload).status_code for client in (alice, bob, alice)]

    assert answers == [200, 409, 409]
    assert Image.objects.get(pk=image.pk).version == payload["version"] + 1


def test_a_stale_review_does_not_overwrite_the_first_sign_off(world, tmp_path, settings):
    run = make_completed_run(world.project, world.model, world.owner)
    url = reverse("validation:run-review", args=[run.pk])
    alice, bob = logged_in(world.owner), logged_in(world.member)
    version = form_version(alice.get(url, **HTMX))
    assert form_version(bob.get(url, **HTMX)) == version
    first = {"review_status": "rejected", "review_notes": "漏检太多", "version": version}
    assert alice.post(url, first, **HTMX).status_code == 200
    guard = Guard(tmp_path, Path(settings.MEDIA_ROOT))

    response = bob.post(url, {"review_status": "approved", "version": version}, **HTMX)

    outcome = refused_stale("review/stale-sign-off", response, "Someone else saved", guard)
    assert outcome.clean, str(outcome)
    run.refresh_from_db()
    assert (run.review_status, run.review_notes, run.reviewed_by) == (
        "rejected",
        "漏检太多",
        world.owner,
    )


@pytest.mark.parametrize("status", ["queued", "running", "failed", "cancelled"])
def test_signing_off_a_run_without_results_is_refused(world, tmp_path, settings, status):
    run = make_completed_run(world.project, world.model, world.owner, status=status)
    url = reverse("validation:run-review", args=[run.pk])
    guard = Guard(tmp_path, Path(settings.MEDIA_ROOT))

    response = logged_in(world.member).post(
        url, {"review_status": "approved", "version": 0}, **HTMX
    )

    outcome = refused_stale(f"review/sign-off-{status}", response, "Only a completed run", guard)
    assert outcome.clean, str(outcome)
    assert InferenceRun.objects.get(pk=run.pk).review_status == "to_review"


def test_a_stale_flag_click_does_not_undo_the_other_users_change(world, tmp_path, settings):
    task = Task.objects.get(project=world.project, name="train")
    url = reverse("projects:task-validation", args=[task.pk])
    page = reverse("projects:task-detail", args=[task.pk])
    alice, bob = logged_in(world.owner), logged_in(world.member)
    bobs_version = bob.get(page).context["task"].version
    read_at = alice.get(page).context["task"].version
    assert alice.post(url, {"is_validation": "1", "version": read_at}, **HTMX).status_code == 200
    read_again = alice.get(page).context["task"].version
    assert alice.post(url, {"is_validation": "0", "version": read_again}, **HTMX).status_code == 200
    guard = Guard(tmp_path, Path(settings.MEDIA_ROOT))

    # Bob's page still says "off" (version 0); he clicks to switch it on, over Alice's decision.
    response = bob.post(url, {"is_validation": "1", "version": bobs_version}, **HTMX)

    outcome = refused_stale("task-flag/stale-click", response, "Someone else changed", guard)
    assert outcome.clean, str(outcome)
    assert not Task.objects.get(pk=task.pk).is_validation


def _admin_form_data(response) -> dict:
    """The admin change form's fields as the browser would post them unchanged."""
    form = response.context["adminform"].form
    data: dict = {"_save": "Save"}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.FileField) or value is None:
            continue
        data[name] = field.prepare_value(value) if isinstance(field, forms.JSONField) else value
    return data


def test_stale_model_settings_are_refused_in_the_admin(
    world, django_user_model, tmp_path, settings
):
    model = world.model
    default_storage.save(model.file.name, ContentFile(zip_bytes([("m/a", b"x")])))
    url = reverse("admin:validation_detectionmodel_change", args=[model.pk])
    alice = logged_in(django_user_model.objects.create_superuser("alice", password="x-pass-123"))
    bob = logged_in(django_user_model.objects.create_superuser("bob", password="x-pass-123"))
    alices, bobs = _admin_form_data(alice.get(url)), _admin_form_data(bob.get(url))
    assert alice.post(url, {**alices, "input_size": "512"}).status_code == 302
    guard = Guard(tmp_path, Path(settings.MEDIA_ROOT))

    response = bob.post(url, {**bobs, "nms_iou": "0.5"})

    outcome = refused_stale("model-settings/stale-admin", response, "Someone else saved", guard)
    assert outcome.clean, str(outcome)
    model = DetectionModel.objects.get(pk=model.pk)
    assert (model.input_size, model.nms_iou, model.version) == (512, 0.7, 1)


@pytest.mark.django_db(transaction=True)
def test_two_saves_at_the_same_instant_store_exactly_one(world):
    owner, member = world.owner, world.member
    image = world.project.validation_images().order_by("id").first()
    read = boxes_of(image)
    payloads = {owner: {"version": 0, "boxes": read[:1]}, member: {"version": 0, "boxes": read}}
    start, answers = threading.Barrier(2), {}

    def save_as(user) -> None:
        try:
            start.wait()
            save_annotations(Image.objects.get(pk=image.pk), payloads[user], user)
            answers[user] = "saved"
        except AnnotationsStale:
            answers[user] = "stale"
        finally:
            connection.close()

    threads = [threading.Thread(target=save_as, args=(user,)) for user in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(answers.values()) == ["saved", "stale"]
    winner = next(user for user, answer in answers.items() if answer == "saved")
    stored = Annotation.objects.filter(image=image).count()
    assert stored == len(payloads[winner]["boxes"])
    assert Image.objects.get(pk=image.pk).version == 1
