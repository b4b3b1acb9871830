"""The worst-images page: ranking, filters, HTMX gallery, access, a bounded number of queries."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from projects.models import Image
from tests.clients import HTMX
from tests.validation.compare_world import B_PREDICTIONS, evaluated_run, model_b
from tests.validation.run_world import add_image, unmatched
from validation.models import InferenceRun, Instance

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(world) -> InferenceRun:
    return evaluated_run(world, model_b(world), B_PREDICTIONS)


def url(run, query: str = "") -> str:
    return reverse("validation:worst-images", args=[run.pk]) + query


def gallery_names(html: str) -> list[str]:
    return re.findall(r'<p class="image-name" title="([^"]+)"', html)


def test_page_ranks_images_with_badges_and_links(member_client, run):
    response = member_client.get(url(run))
    html = response.content.decode()
    assert response.status_code == 200
    assert gallery_names(html) == ["图像_01.png", "图像_00.png", "图像_02.png"]
    assert "3 images with errors of the chosen kinds" in html
    first = html.split('<li class="worst-image"')[1]
    assert 'data-errors="3"' in first
    image = Image.objects.get(name="图像_01.png", task__project=run.project)
    assert f'src="{reverse("projects:image-thumb", args=[image.pk])}"' in html
    assert f'href="{reverse("validation:image-view", args=[run.pk, image.pk])}"' in html
    assert f'href="{reverse("projects:image-editor", args=[image.pk])}?run={run.pk}"' in html
    badges = re.findall(r'data-kind="(\w+)" title="[^"]+">[^<]+<strong>(\d+)</strong>', first)
    assert badges == [("missed", "1"), ("false_alarm", "1"), ("confusion", "1")]
    assert 'href="/static/css/compare.css"' in html


def test_filter_by_kind_and_label_from_the_query(member_client, run):
    crack = run.labels.index("crack")
    html = member_client.get(url(run, f"?kind=missed&label={crack}")).content.decode()
    assert gallery_names(html) == ["图像_01.png", "图像_02.png"]
    assert re.search(r'<input[^>]*value="missed"[^>]*checked', html)
    assert not re.search(r'<input[^>]*value="loc"[^>]*checked', html)
    assert re.search(rf'<option value="{crack}" selected>crack</option>', html)
    assert 'data-kind="confusion"' not in html


def test_without_a_kind_every_kind_is_counted_and_ticked(member_client, run):
    html = member_client.get(url(run)).content.decode()
    for key in ("missed", "false_alarm", "confusion", "loc"):
        assert re.search(rf'<input[^>]*value="{key}"[^>]*checked', html)


def test_htmx_filter_returns_the_gallery_and_pushes_the_url(member_client, run):
    response = member_client.get(url(run, "?kind=confusion"), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="worst-gallery"')
    assert "<form" not in html
    assert gallery_names(html) == ["图像_01.png"]
    assert response["HX-Push-Url"] == url(run, "?kind=confusion")


def test_an_unknown_label_gets_a_message_next_to_the_field(member_client, run):
    response = member_client.get(url(run, "?label=99"))
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="label-errors"' in html and "99 is not one of the available choices" in html
    fragment = member_client.get(url(run, "?kind=bogus"), **HTMX)
    assert (
        fragment.status_code == 400 and "These filters are not valid" in fragment.content.decode()
    )


def test_gallery_is_paged(member_client, world, run, settings):
    task = world.project.tasks.get(is_validation=True)
    extra = [add_image(task, f"extra_{i:02d}.png", width=40, height=30, seed=i) for i in range(50)]
    Instance.objects.bulk_create(
        unmatched(run, image, Instance.Kind.BACKGROUND, score=0.5) for image in extra
    )
    html = member_client.get(url(run, "?kind=false_alarm")).content.decode()
    assert len(gallery_names(html)) == 48 and "Page 1 of 2" in html
    assert 'href="{}"'.format(url(run, "?kind=false_alarm&amp;page=2")) in html
    page2 = member_client.get(url(run, "?kind=false_alarm&page=2")).content.decode()
    assert len(gallery_names(page2)) == 52 - 48


def test_queries_do_not_grow_with_the_images(
    member_client, world, run, django_assert_max_num_queries
):
    task = world.project.tasks.get(is_validation=True)
    extra = [add_image(task, f"more_{i:02d}.png", width=40, height=30, seed=i) for i in range(30)]
    Instance.objects.bulk_create(unmatched(run, image, Instance.Kind.MISSED) for image in extra)
    with django_assert_max_num_queries(5):  # session, user, run, count, one page
        response = member_client.get(url(run))
    assert len(gallery_names(response.content.decode())) == 33


def test_a_run_without_results_says_so(member_client, run):
    InferenceRun.objects.filter(pk=run.pk).update(status=InferenceRun.Status.RUNNING)
    html = member_client.get(url(run)).content.decode()
    assert "The images appear when the run has completed." in html


def test_outsider_gets_404(outsider_client, world, run):
    assert outsider_client.get(url(run)).status_code == 404
    assert outsider_client.get(url(run), **HTMX).status_code == 404


def test_anonymous_is_sent_to_login(client, run):
    response = client.get(url(run))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_wrong_method_is_refused(member_client, run):
    assert member_client.post(url(run)).status_code == 405
