"""A project's page: labels and tasks with counts, the upload form, the task-table fragment."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from projects.models import Annotation, Task
from tests.clients import HTMX
from tests.projects.view_world import add_image

pytestmark = pytest.mark.django_db


def url(project) -> str:
    return reverse("projects:project-detail", args=[project.pk])


def test_a_member_sees_labels_tasks_and_the_upload_form(member_client, world):
    response = member_client.get(url(world.project))

    assert response.status_code == 200
    labels = {label.name: label.annotation_count for label in response.context["labels"]}
    assert labels == {"划痕": 2, "凹坑": 1, "污渍": 0}
    rows = {row.task.name: row for row in response.context["tasks"]}
    assert rows["验证任务"].per_label == [2, 1, 0]
    assert (rows["验证任务"].task.image_count, rows["验证任务"].task.annotation_count) == (2, 3)
    assert rows["training"].per_label == [0, 0, 0]
    body = response.content.decode()
    assert reverse("projects:task-detail", args=[world.validation_task.pk]) in body
    assert reverse("projects:dataset-upload", args=[world.project.pk]) in body
    assert 'name="archive"' in body and 'name="validation"' in body
    assert len(re.findall(r'class="badge badge-on"', body)) == 1  # only the validation task


def test_the_page_is_in_chinese_for_chinese_users(client, member, world):
    client.force_login(member)
    client.cookies["django_language"] = "zh-hans"

    response = client.get(url(world.project))

    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()


def test_the_number_of_queries_does_not_grow_with_tasks(member_client, world):
    member_client.get(url(world.project))
    with CaptureQueriesContext(connection) as few:
        member_client.get(url(world.project))
    for i in range(5):
        task = Task.objects.create(project=world.project, name=f"more {i}")
        image = add_image(task, f"m{i}.png", (10, 10))
        Annotation.objects.create(image=image, label=world.labels["污渍"], x1=1, y1=1, x2=2, y2=2)
    with CaptureQueriesContext(connection) as many:
        response = member_client.get(url(world.project))

    assert len(response.context["tasks"]) == 7
    assert len(many) == len(few)


def test_an_outsider_gets_404(outsider_client, world):
    assert outsider_client.get(url(world.project)).status_code == 404


def test_staff_may_see_any_project(staff_client, world):
    assert staff_client.get(url(world.project)).status_code == 200


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(url(world.project))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_post_is_not_allowed(member_client, world):
    assert member_client.post(url(world.project)).status_code == 405


def test_htmx_gets_the_task_table_fragment(member_client, world):
    response = member_client.get(url(world.project), **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="project-tasks"')
    assert "hx-swap-oob" not in body
    assert "验证任务" in body
    assert "<html" not in body
