"""The annotation editor page and its save endpoint."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from projects.models import Image
from tests.clients import HTMX
from tests.projects.view_world import boxes_of, edit

pytestmark = pytest.mark.django_db


def editor_url(image) -> str:
    return reverse("projects:image-editor", args=[image.pk])


def save_url(image) -> str:
    return reverse("projects:image-annotations-save", args=[image.pk])


def config_of(response) -> dict:
    return response.context["config"]


def post_json(client, url: str, payload) -> object:
    return client.post(url, json.dumps(payload), content_type="application/json")


# ---- the editor page ---------------------------------------------------------------------


def test_the_editor_shows_the_image_its_boxes_and_the_project_labels(member_client, world):
    response = member_client.get(editor_url(world.image))

    assert response.status_code == 200
    config = config_of(response)
    assert config["image"]["url"] == reverse("projects:image-file", args=[world.image.pk])
    assert (config["image"]["width"], config["image"]["height"]) == (200, 100)
    assert [label["name"] for label in config["labels"]] == ["划痕", "凹坑", "污渍"]
    assert [(a["label_name"], a["x1"]) for a in config["annotations"]] == [
        ("划痕", 10),
        ("凹坑", 100),
    ]
    assert config["saveUrl"] == save_url(world.image)
    assert config["run"] is None
    body = response.content.decode()
    assert 'id="editor-config"' in body
    assert "js/editor.js" in body
    assert response.context["next_id"] == world.second_image.pk


def test_a_run_adds_its_predictions_url_and_a_link_back(member_client, world):
    response = member_client.get(editor_url(world.image), {"run": "12"})

    run = config_of(response)["run"]
    assert run["id"] == 12
    assert run["url"].endswith("/runs/12/")
    assert run["predictionsUrl"].endswith(f"/runs/12/images/{world.image.pk}/predictions.json")
    body = response.content.decode()
    assert 'data-role="back-to-run"' in body
    assert "?run=12" in body  # the next-image link keeps the run


@pytest.mark.parametrize("run", ["abc", "-1", "0", "1e3", "１２", "9" * 40])
def test_a_run_that_is_not_a_positive_int_is_ignored(member_client, world, run):
    response = member_client.get(editor_url(world.image), {"run": run})

    assert response.status_code == 200
    assert config_of(response)["run"] is None


def test_htmx_gets_the_editor_fragment(member_client, world):
    response = member_client.get(editor_url(world.image), **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="image-editor"')
    assert "<html" not in body
    assert 'id="editor-config"' in body


def test_an_outsider_cannot_open_the_editor(outsider_client, world):
    assert outsider_client.get(editor_url(world.image)).status_code == 404


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(editor_url(world.image))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_post_to_the_editor_page_is_not_allowed(member_client, world):
    assert member_client.post(editor_url(world.image)).status_code == 405


# ---- saving ---------------------------------------------------------------------------------


def test_saving_returns_the_saved_state(member_client, member, world):
    boxes = boxes_of(world.image)
    boxes[0]["label"] = world.labels["污渍"].pk
    boxes[1].update(x1=110, x2=160)
    boxes.append({"id": None, "label": world.labels["划痕"].pk, "x1": 0, "y1": 0, "x2": 5, "y2": 5})

    response = post_json(member_client, save_url(world.image), edit(world.image, boxes))

    assert response.status_code == 200
    data = response.json()
    assert (data["created"], data["updated"], data["deleted"], data["unchanged"]) == (1, 2, 0, 0)
    assert [a["label_name"] for a in data["annotations"]] == ["污渍", "凹坑", "划痕"]
    assert data["annotations"][1]["x1"] == 110
    assert {a["updated_by"] for a in data["annotations"]} == {"member"}
    assert boxes_of(world.image)[1]["x2"] == 160


def test_an_invalid_box_gives_422_with_located_errors_and_changes_nothing(member_client, world):
    before = boxes_of(world.image)
    boxes = boxes_of(world.image)
    boxes[0]["x1"] = 5
    boxes[1]["label"] = world.other_label.pk

    response = post_json(member_client, save_url(world.image), edit(world.image, boxes))

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, "label")]
    assert errors[0]["message"]
    assert boxes_of(world.image) == before


def test_a_body_that_is_not_json_is_refused(member_client, world):
    before = boxes_of(world.image)

    response = member_client.post(save_url(world.image), "{boxes:", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"
    assert boxes_of(world.image) == before


def test_saving_needs_the_csrf_token(member, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    page = client.get(editor_url(world.image))
    token = page.context["csrf_token"]
    payload = json.dumps(edit(world.image, []))

    refused = client.post(save_url(world.image), payload, content_type="application/json")
    assert refused.status_code == 403
    assert len(boxes_of(world.image)) == 2

    accepted = client.post(
        save_url(world.image),
        payload,
        content_type="application/json",
        headers={"X-CSRFToken": str(token)},
    )
    assert accepted.status_code == 200
    assert boxes_of(world.image) == []


def test_an_outsider_cannot_save(outsider_client, world):
    before = boxes_of(world.image)

    response = post_json(outsider_client, save_url(world.image), edit(world.image, []))

    assert response.status_code == 404
    assert boxes_of(world.image) == before


def test_anonymous_cannot_save(client, world):
    before = boxes_of(world.image)

    response = post_json(client, save_url(world.image), edit(world.image, []))

    assert response.status_code == 302
    assert boxes_of(world.image) == before


def test_get_on_the_save_url_is_not_allowed(member_client, world):
    assert member_client.get(save_url(world.image)).status_code == 405


# ---- two users at once ----------------------------------------------------------------------


def test_the_editor_page_carries_the_image_version(member_client, world):
    response = member_client.get(editor_url(world.image))

    assert config_of(response)["image"]["version"] == Image.objects.get(pk=world.image.pk).version
    assert 'data-action="reload"' in response.content.decode()


def test_a_stale_save_gets_409_with_a_message_and_saves_nothing(client, member, owner, world):
    client.force_login(member)
    read_at = config_of(client.get(editor_url(world.image)))["image"]["version"]
    other = Client()
    other.force_login(owner)
    moved = boxes_of(world.image)
    moved[0].update(x1=20, x2=60)
    assert post_json(other, save_url(world.image), edit(world.image, moved)).status_code == 200
    after_first = boxes_of(world.image)

    response = post_json(
        client, save_url(world.image), {"version": read_at, "boxes": boxes_of(world.image)[1:]}
    )

    assert response.status_code == 409
    data = response.json()
    assert data["errors"][0]["field"] == "version"
    assert "Someone else saved" in data["errors"][0]["message"]
    assert data["version"] == read_at + 1
    assert boxes_of(world.image) == after_first


def test_a_save_answers_the_new_version_for_the_next_save(member_client, world):
    first = post_json(
        member_client, save_url(world.image), edit(world.image, boxes_of(world.image))
    )
    boxes = boxes_of(world.image)
    boxes[0].update(x2=70)

    second = post_json(
        member_client, save_url(world.image), {"version": first.json()["version"], "boxes": boxes}
    )

    assert second.status_code == 200
    assert second.json()["version"] == first.json()["version"] + 1


def test_a_tiny_box_gives_422_next_to_the_box(member_client, world):
    before = boxes_of(world.image)
    box = {"id": None, "label": world.labels["划痕"].pk, "x1": 5, "y1": 5, "x2": 5 + 1e-7, "y2": 9}

    response = post_json(member_client, save_url(world.image), edit(world.image, [*before, box]))

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"index": 2, "field": "x2", "message": response.json()["errors"][0]["message"]}
    ]
    assert "at least 1 px" in response.json()["errors"][0]["message"]
    assert boxes_of(world.image) == before
