"""The validation list: access, filters, paging, the htmx fragment."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.clients import HTMX
from tests.validation.run_world import make_completed_run
from validation.models import InferenceRun

pytestmark = pytest.mark.django_db
URL = reverse("validation:run-list")


def test_lists_the_runs_of_my_projects_newest_first(client, world):
    older = make_completed_run(world.project, world.model, world.owner)
    newer = make_completed_run(world.project, world.model, world.member)
    make_completed_run(world.foreign_project, world.model, world.outsider)
    client.force_login(world.member)
    response = client.get(URL)
    assert response.status_code == 200
    assert [run.pk for run in response.context["page"].object_list] == [newer.pk, older.pk]
    assert "foreign" not in response.content.decode()


def test_shows_f1_time_and_who(client, world):
    make_completed_run(world.project, world.model, world.owner)
    client.force_login(world.owner)
    html = client.get(URL).content.decode()
    assert "0.250" in html  # F1 of the hand-made run
    assert "3.4 s" in html
    assert ">owner<" in html


def test_undefined_f1_is_a_dash(client, world):
    make_completed_run(world.project, world.model, world.owner)
    InferenceRun.objects.update(f1=None, status=InferenceRun.Status.QUEUED)
    client.force_login(world.owner)
    html = client.get(URL).content.decode()
    assert '<td class="num">—</td>' in html


def test_staff_see_every_run(client, world, staff):
    make_completed_run(world.foreign_project, world.model, world.outsider)
    client.force_login(staff)
    assert len(client.get(URL).context["page"].object_list) == 1


@pytest.mark.parametrize("name", ["process", "model", "project", "status"])
def test_filters(client, world, name):
    kept = make_completed_run(world.project, world.model, world.owner)
    other_model = world.other_model
    dropped = make_completed_run(
        world.project, other_model, world.owner, status=InferenceRun.Status.FAILED
    )
    value = {
        "process": world.process.pk,
        "model": world.model.pk,
        "project": world.project.pk,
        "status": "completed",
    }[name]
    if name == "project":
        dropped.project = world.no_validation_project
        dropped.save()
    client.force_login(world.owner)
    runs = client.get(URL, {name: value}).context["page"].object_list
    assert [run.pk for run in runs] == [kept.pk]


def test_bad_filter_values_are_ignored(client, world):
    make_completed_run(world.project, world.model, world.owner)
    client.force_login(world.owner)
    response = client.get(URL, {"process": "x", "status": "nope", "page": "zz"})
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 1


def test_pages_of_25(client, world):
    run = make_completed_run(world.project, world.model, world.owner)
    for _ in range(26):
        run.pk = None
        run.submission_token = None
        run.save()
    client.force_login(world.owner)
    first = client.get(URL)
    assert len(first.context["page"].object_list) == 25
    assert "page=2" in first.content.decode()
    assert len(client.get(URL, {"page": 2}).context["page"].object_list) == 2


def test_htmx_gets_only_the_table(client, world):
    make_completed_run(world.project, world.model, world.owner)
    client.force_login(world.owner)
    html = client.get(URL, {"status": "completed"}, **HTMX).content.decode()
    assert html.lstrip().startswith('<section id="run-table"')
    assert "<html" not in html


def test_empty_list_invites_to_start(owner_client, world):
    html = owner_client.get(URL).content.decode()
    assert "No validation run yet." in html
    assert reverse("validation:wizard-start") in html


def test_no_n_plus_one(client, world, django_assert_max_num_queries):
    for _ in range(5):
        make_completed_run(world.project, world.model, world.owner)
    client.force_login(world.owner)
    with django_assert_max_num_queries(10):
        client.get(URL)


def test_wrong_method(owner_client, world):
    assert owner_client.post(URL).status_code == 405


def test_anonymous_goes_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
