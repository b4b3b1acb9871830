"""The project list: membership, counts by aggregate queries, the filter fragment."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from projects.models import Project, Task
from tests.clients import HTMX
from tests.projects.view_world import add_image

pytestmark = pytest.mark.django_db
URL = reverse("projects:project-list")


def row_of(project) -> str:
    return reverse("projects:project-detail", args=[project.pk])


def test_a_member_sees_their_projects_with_counts(member_client, world):
    response = member_client.get(URL)

    assert response.status_code == 200
    projects = list(response.context["projects"])
    assert projects == [world.project]
    counts = projects[0]
    assert (counts.task_count, counts.validation_task_count) == (2, 1)
    assert (counts.image_count, counts.annotation_count) == (3, 3)
    assert row_of(world.project) in response.content.decode()
    assert row_of(world.other) not in response.content.decode()


def test_staff_see_every_project(staff_client, world):
    response = staff_client.get(URL)

    assert set(response.context["projects"]) == {world.project, world.other}


def test_an_outsider_sees_only_their_own_project(outsider_client, world):
    response = outsider_client.get(URL)

    assert list(response.context["projects"]) == [world.other]


def test_a_user_without_projects_is_told_so(client, django_user_model, world):
    client.force_login(django_user_model.objects.create_user("lonely"))

    response = client.get(URL)

    assert list(response.context["projects"]) == []
    assert "not a member of any project" in response.content.decode()


def test_the_number_of_queries_does_not_grow_with_projects(staff_client, world):
    staff_client.get(URL)  # warm the session and caches
    with CaptureQueriesContext(connection) as few:
        staff_client.get(URL)
    for i in range(4):
        project = Project.objects.create(name=f"extra {i}")
        add_image(Task.objects.create(project=project, name="t"), f"x{i}.png", (8, 8))
    with CaptureQueriesContext(connection) as many:
        response = staff_client.get(URL)

    assert len(response.context["projects"]) == 6
    assert len(many) == len(few)


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_post_is_not_allowed(member_client, world):
    assert member_client.post(URL).status_code == 405


def test_htmx_filter_returns_the_table_fragment(staff_client, world):
    response = staff_client.get(URL, {"q": "other"}, **HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="project-table"')
    assert "<html" not in body
    assert row_of(world.other) in body
    assert row_of(world.project) not in body


def test_a_filter_without_match_says_so(member_client, world):
    response = member_client.get(URL, {"q": "zzz"}, **HTMX)

    assert response.status_code == 200
    assert "No project matches “zzz”." in response.content.decode()
