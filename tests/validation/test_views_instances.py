"""Drill-down: a cell's instances, the selection dialog, one image in full, predictions JSON."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from projects.models import Image
from tests.clients import HTMX
from tests.validation.run_world import make_completed_run, unmatched
from validation.models import InferenceRun, Instance

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(world) -> InferenceRun:
    return make_completed_run(world.project, world.model, world.owner)


def cell_url(run, row, col) -> str:
    return reverse("validation:run-cell", args=[run.pk, row, col])


def add_background_instances(run: InferenceRun, count: int) -> None:
    """Many false alarms of label 0, to page through."""
    image = run.project.validation_images().first()
    Instance.objects.bulk_create(
        unmatched(
            run, image, Instance.Kind.BACKGROUND, (10 + i % 50, 10, 40 + i % 50, 40), score=0.5
        )
        for i in range(count)
    )


# ---------------------------------------------------------------- a cell's instances


def test_cell_fragment_shows_each_instance_with_its_facts(member_client, run):
    n = len(run.labels)
    response = member_client.get(cell_url(run, 1, n + 1), **HTMX)  # LOC of "dent"
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="run-instances"')
    assert html.count('<li class="instance"') == 3
    assert "poorly localised · actual crack" in html
    assert "0.300" in html and "0.500" in html  # IoU and score
    instance = run.instances.filter(row=1, col=n + 1).first()
    crop = reverse("validation:instance-crop", args=[run.pk, instance.pk])
    assert f'<img src="{crop}" loading="lazy"' in html
    assert "annotation (solid green)" in html and "prediction (dashed orange)" in html


def test_cell_fragment_pushes_the_page_url_keeping_open_sections(member_client, run):
    current = f"http://testserver{run.get_absolute_url()}?open=settings,details"
    response = member_client.get(cell_url(run, 0, 1), HTTP_HX_CURRENT_URL=current, **HTMX)
    assert response["HX-Push-Url"] == f"{run.get_absolute_url()}?open=settings%2Cdetails&cell=0-1"


def test_cell_kinds_are_named(member_client, run):
    n = len(run.labels)
    assert "true positive" in member_client.get(cell_url(run, 0, 0), **HTMX).content.decode()
    assert "confusion" in member_client.get(cell_url(run, 0, 1), **HTMX).content.decode()
    assert "background" in member_client.get(cell_url(run, 2, n), **HTMX).content.decode()


def test_missed_and_duplicate_instances_are_named(member_client, run):
    n = len(run.labels)
    image = run.project.validation_images().first()
    unmatched(run, image, Instance.Kind.MISSED).save()
    unmatched(run, image, Instance.Kind.DUPLICATE, score=0.4).save()
    assert "missed" in member_client.get(cell_url(run, n, 0), **HTMX).content.decode()
    assert "duplicate" in member_client.get(cell_url(run, 0, n), **HTMX).content.decode()


def test_empty_cell_says_so(member_client, run):
    html = member_client.get(cell_url(run, 3, 3), **HTMX).content.decode()
    assert "No instances in this cell." in html


def test_pages_of_50_do_not_load_the_rest(member_client, run, django_assert_max_num_queries):
    add_background_instances(run, 120)
    n = len(run.labels)
    with django_assert_max_num_queries(8):
        first = member_client.get(cell_url(run, 0, n), **HTMX).content.decode()
    assert first.count('<li class="instance"') == 50
    assert "Page 1 of 3" in first
    assert f"{cell_url(run, 0, n)}?page=2" in first
    last = member_client.get(cell_url(run, 0, n), {"page": 3}, **HTMX).content.decode()
    assert last.count('<li class="instance"') == 20
    assert "?page=2" in last  # back link


def test_loc_cell_can_be_split_by_actual_label(member_client, run):
    n = len(run.labels)
    image = run.project.validation_images().first()
    Instance.objects.create(
        run=run,
        image=image,
        row=1,
        col=n + 1,
        kind=Instance.Kind.LOC,
        actual_label=0,
        score=0.9,
        iou=0.4,
        px1=1,
        py1=1,
        px2=9,
        py2=9,
        gx1=2,
        gy1=2,
        gx2=10,
        gy2=10,
    )
    html = member_client.get(cell_url(run, 1, n + 1), **HTMX).content.decode()
    assert "scratch (1)" in html and "crack (3)" in html
    only = member_client.get(cell_url(run, 1, n + 1), {"actual": 0}, **HTMX).content.decode()
    assert only.count('<li class="instance"') == 1


def test_cell_without_htmx_redirects_to_the_page_with_the_cell(member_client, run):
    response = member_client.get(cell_url(run, 0, 1), {"page": 2, "open": "metrics"})
    assert response.status_code == 302
    assert response.url == f"{run.get_absolute_url()}?open=metrics&cell=0-1&page=2"


def test_cell_outside_the_matrix_is_404(member_client, run):
    n = len(run.labels)
    assert member_client.get(cell_url(run, n + 1, 0), **HTMX).status_code == 404
    assert member_client.get(cell_url(run, 0, n + 2), **HTMX).status_code == 404


def test_cell_access_and_method(client, world, run):
    client.force_login(world.outsider)
    assert client.get(cell_url(run, 0, 0), **HTMX).status_code == 404
    client.force_login(world.member)
    assert client.post(cell_url(run, 0, 0)).status_code == 405
    client.logout()
    assert client.get(cell_url(run, 0, 0)).url.startswith(reverse("login"))


# ---------------------------------------------------------------- the selection (Modify)


def test_selection_lists_instances_in_order_with_editor_links(member_client, run):
    ids = list(run.instances.order_by("id").values_list("pk", flat=True)[:3])
    url = reverse("validation:instance-selection", args=[run.pk])
    html = member_client.get(url, {"ids": f"{ids[2]},{ids[0]},{ids[2]},x"}, **HTMX).content.decode()
    assert html.lstrip().startswith('<div id="modify-list"')
    assert html.count('class="modify-title"') == 2
    crops = [reverse("validation:instance-crop", args=[run.pk, i]) for i in (ids[2], ids[0])]
    assert html.index(crops[0]) < html.index(crops[1])  # in the order given
    first = Instance.objects.get(pk=ids[2])
    editor = reverse("projects:image-editor", args=[first.image_id]) + f"?run={run.pk}"
    assert f'href="{editor}"' in html


def test_selection_ignores_instances_of_other_runs(member_client, world, run):
    other = make_completed_run(world.foreign_project, world.model, world.outsider)
    foreign_id = other.instances.first().pk
    url = reverse("validation:instance-selection", args=[run.pk])
    html = member_client.get(url, {"ids": str(foreign_id)}, **HTMX).content.decode()
    assert "No instance is selected." in html


def test_selection_page_without_htmx_and_access(client, world, run):
    url = reverse("validation:instance-selection", args=[run.pk])
    client.force_login(world.member)
    assert "<html" in client.get(url, {"ids": "1"}).content.decode()
    assert client.post(url).status_code == 405
    client.force_login(world.outsider)
    assert client.get(url, **HTMX).status_code == 404


# ---------------------------------------------------------------- one image in full


def test_image_view_draws_all_annotations_and_the_run_predictions(member_client, run):
    n = len(run.labels)
    instance = run.instances.filter(row=1, col=n).first()
    url = reverse("validation:image-view", args=[run.pk, instance.image_id])
    html = member_client.get(url, {"instance": instance.pk}, **HTMX).content.decode()
    assert html.lstrip().startswith('<div id="image-view"')
    assert html.count('<g class="box annotation') == 3
    assert html.count('<g class="box prediction') == 5
    assert html.count("prediction highlight") == 1
    assert reverse("projects:image-file", args=[instance.image_id]) in html
    assert 'viewBox="0 0 320 240"' in html


def test_image_view_of_another_projects_image_is_404(member_client, world, run):
    foreign = Image.objects.filter(task__project=world.foreign_project).first()
    url = reverse("validation:image-view", args=[run.pk, foreign.pk])
    assert member_client.get(url, **HTMX).status_code == 404


def test_image_view_access_and_method(client, world, run):
    image = run.instances.first().image_id
    url = reverse("validation:image-view", args=[run.pk, image])
    client.force_login(world.member)
    assert "<html" in client.get(url).content.decode()
    assert client.post(url).status_code == 405
    client.force_login(world.outsider)
    assert client.get(url).status_code == 404


# ---------------------------------------------------------------- predictions as JSON


def test_predictions_json_for_the_editor(member_client, run):
    image = run.instances.first().image_id
    url = reverse("validation:image-predictions", args=[run.pk, image])
    response = member_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = json.loads(response.content)
    assert [p["score"] for p in data] == [0.95, 0.8, 0.6, 0.55, 0.5]
    assert data[0] == {
        "label": "scratch",
        "score": 0.95,
        "box": [21.0, 21.0, 79.0, 71.0],
        "kind": "true_positive",
    }
    assert {p["kind"] for p in data} == {"true_positive", "confusion", "background", "loc"}
    assert data[2]["label"] == "dent"


def test_predictions_json_access_and_method(client, world, run):
    image = run.instances.first().image_id
    url = reverse("validation:image-predictions", args=[run.pk, image])
    client.force_login(world.outsider)
    assert client.get(url).status_code == 404
    client.force_login(world.member)
    assert client.post(url).status_code == 405
    foreign = Image.objects.filter(task__project=world.foreign_project).first()
    other = reverse("validation:image-predictions", args=[run.pk, foreign.pk])
    assert client.get(other).status_code == 404
