"""Task details (任务详情): the validation-set toggle and the paged gallery."""

from __future__ import annotations

import pytest
from django.urls import reverse

from projects.models import Image, Task
from projects.views.task_detail import GALLERY_PAGE_SIZE
from tests.clients import HTMX

pytestmark = pytest.mark.django_db


def url(task) -> str:
    return reverse("projects:task-detail", args=[task.pk])


def toggle_url(task) -> str:
    return reverse("projects:task-validation", args=[task.pk])


def test_a_member_sees_the_task_its_flag_and_its_images(member_client, world):
    response = member_client.get(url(world.validation_task))

    assert response.status_code == 200
    body = response.content.decode()
    assert 'role="switch"' in body and 'aria-checked="true"' in body
    for image in (world.image, world.second_image):
        assert reverse("projects:image-thumb", args=[image.pk]) in body
        assert reverse("projects:image-editor", args=[image.pk]) in body
    assert response.context["task"].image_count == 2
    assert dict((label.name, n) for label, n in response.context["label_counts"]) == {
        "划痕": 2,
        "凹坑": 1,
        "污渍": 0,
    }


def test_the_page_follows_the_language_cookie(client, member, world):
    client.force_login(member)
    client.cookies["django_language"] = "zh-hans"

    response = client.get(url(world.validation_task))

    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()


def many_images(task, n: int) -> None:
    Image.objects.bulk_create(
        Image(
            task=task,
            name=f"img-{i:03d}.png",
            file=f"x/{i}.png",
            width=8,
            height=8,
            checksum=f"{i:064d}",
        )
        for i in range(n)
    )


def test_the_gallery_is_paged(client, member, world):
    many_images(world.training_task, GALLERY_PAGE_SIZE + 3)
    client.force_login(member)

    first = client.get(url(world.training_task))
    second = client.get(url(world.training_task), {"page": 2})

    assert len(first.context["page"].object_list) == GALLERY_PAGE_SIZE
    assert len(second.context["page"].object_list) == 4  # 3 + the world's t.png
    assert 'href="?page=2"' in first.content.decode()


def test_htmx_paging_returns_the_gallery_fragment(client, member, world):
    many_images(world.training_task, GALLERY_PAGE_SIZE + 3)
    client.force_login(member)

    response = client.get(url(world.training_task), {"page": 2}, **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="task-gallery"')
    assert "<html" not in body
    assert "img-050.png" in body and "img-000.png" not in body


def test_a_page_out_of_range_shows_the_last_page(member_client, world):
    response = member_client.get(url(world.validation_task), {"page": "999"})

    assert response.status_code == 200
    assert response.context["page"].number == 1


def test_an_outsider_gets_404(outsider_client, world):
    assert outsider_client.get(url(world.validation_task)).status_code == 404


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(url(world.validation_task))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_post_to_the_page_is_not_allowed(member_client, world):
    assert member_client.post(url(world.validation_task)).status_code == 405


def test_the_toggle_sets_the_flag_and_htmx_gets_the_toggle_fragment(member_client, world):
    response = member_client.post(
        toggle_url(world.training_task),
        {"is_validation": "1", "version": 0},
        **HTMX,
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="task-validation"')
    assert 'aria-checked="true"' in body
    assert 'name="is_validation" value="0"' in body  # the next click clears it
    assert Task.objects.get(pk=world.training_task.pk).is_validation


def test_the_toggle_is_idempotent_and_redirects_without_htmx(member_client, world):
    for _ in range(2):
        response = member_client.post(
            toggle_url(world.validation_task), {"is_validation": "0", "version": 0}
        )
        assert response.status_code == 302
        assert response["Location"] == url(world.validation_task)
    assert not Task.objects.get(pk=world.validation_task.pk).is_validation


def test_the_toggle_needs_the_csrf_token(member, world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(member)

    response = client.post(toggle_url(world.training_task), {"is_validation": "1"})

    assert response.status_code == 403
    assert not Task.objects.get(pk=world.training_task.pk).is_validation


def test_an_outsider_cannot_toggle(outsider_client, world):
    response = outsider_client.post(toggle_url(world.training_task), {"is_validation": "1"})

    assert response.status_code == 404
    assert not Task.objects.get(pk=world.training_task.pk).is_validation


def test_anonymous_cannot_toggle(client, world):
    response = client.post(toggle_url(world.training_task), {"is_validation": "1"})

    assert response.status_code == 302
    assert not Task.objects.get(pk=world.training_task.pk).is_validation


def test_get_on_the_toggle_is_not_allowed(member_client, world):
    assert member_client.get(toggle_url(world.training_task)).status_code == 405


def test_a_click_on_a_flag_changed_meanwhile_is_409_and_changes_nothing(member_client, world):
    Task.objects.filter(pk=world.training_task.pk).update(is_validation=True, version=1)
    Task.objects.filter(pk=world.training_task.pk).update(is_validation=False, version=2)

    response = member_client.post(
        toggle_url(world.training_task),
        {"is_validation": "1", "version": 0},
        **HTMX,
    )

    assert response.status_code == 409
    body = response.content.decode()
    assert 'data-role="flag-stale"' in body and 'aria-checked="false"' in body
    assert 'name="version" value="2"' in body  # the next click is read at the current version
    task = Task.objects.get(pk=world.training_task.pk)
    assert (task.is_validation, task.version) == (False, 2)


@pytest.mark.parametrize("data", [{"is_validation": "1"}, {"is_validation": "yes", "version": 0}])
def test_a_click_without_a_valid_version_or_value_is_422(member_client, world, data):
    response = member_client.post(toggle_url(world.training_task), data, **HTMX)

    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode()
    assert not Task.objects.get(pk=world.training_task.pk).is_validation
