"""The compare page: refusals, the picker, metrics and matrix difference, HTMX drill-downs."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from projects.models import Annotation, Label
from tests.clients import HTMX
from tests.validation.compare_world import A_PREDICTIONS, evaluated_run, model_b, run_pair
from validation.analysis import comparison as cmp
from validation.models import InferenceRun

pytestmark = pytest.mark.django_db
URL = reverse("validation:run-compare")


@pytest.fixture
def pair(world) -> tuple[InferenceRun, InferenceRun]:
    return run_pair(world)


def compare(a, b, **extra) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"a": a.pk, "b": b.pk, **extra}.items())
    return f"{URL}?{query}"


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# ---------------------------------------------------------------- the page


def test_page_shows_both_runs_metrics_and_changes(member_client, pair):
    a, b = pair
    response = member_client.get(compare(a, b))
    html = text(response)
    assert response.status_code == 200
    assert f"#{a.pk} · #{b.pk}" in html and "yolo-s" in html and "yolo-m" in html
    assert 'href="/static/css/compare.css"' in html
    f1 = re.search(r'data-metric="f1">(.*?)</div>', html).group(1)
    assert "0.667" in f1 and "0.588" in f1 and "delta-worse" in f1 and "−0.078" in f1
    assert 'data-group="tp-missed"' in html and 'data-group="missed-tp"' in html
    counts = re.findall(r'<span class="headline-count">(\d+)</span>', html)
    assert counts == ["1", "2"]
    assert "Click a group of changes" in html


def test_difference_cells_link_to_their_drill_down(member_client, pair):
    a, b = pair
    html = text(member_client.get(compare(a, b)))
    labels = cmp.union_labels(a.labels, b.labels)
    s = labels.index("scratch")
    href = compare(a, b, cell=f"{s}-{s}").replace("&", "&amp;")
    link = re.search(
        rf'<a class="diff-link" href="{re.escape(href)}" hx-get="[^"]+" '
        rf'data-cell="{s}-{s}">(.*?)</a>',
        html,
    )
    assert link and "−1" in link.group(1) and "3→2" in link.group(1)
    assert '<td class="diff-worse diag"' in html
    assert html.count('class="diff-link"') == sum(
        1 for row in cmp.matrix_difference(a, b).cells for c in row if c.a or c.b
    )


def test_per_label_table_aligns_labels_by_name(member_client, pair):
    a, b = pair
    html = text(member_client.get(compare(a, b)))
    rows = re.findall(r'<tr><th scope="row">([^<]+?)(?: <span|</th>)', html)
    assert rows[:4] == ["scratch", "dent", "划痕", "crack"]


def test_a_shared_link_opens_with_its_drill_down(member_client, pair):
    a, b = pair
    html = text(member_client.get(compare(a, b, group="tp-missed")))
    section = html[html.index('<section id="compare-instances"') :]
    assert section.count('<li class="change-card') == 1
    assert "found → missed" in section


def test_swap_link_exchanges_the_runs(member_client, pair):
    a, b = pair
    html = member_client.get(compare(a, b)).content.decode()
    assert f'href="{URL}?a={b.pk}&amp;b={a.pk}"' in html


# ---------------------------------------------------------------- HTMX drill-down


def test_group_fragment_shows_both_runs_crops_and_pushes_the_url(member_client, pair):
    a, b = pair
    response = member_client.get(compare(a, b, group="tp-missed"), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="compare-instances"')
    assert "<h2>Metrics</h2>" not in html
    assert response["HX-Push-Url"] == f"{URL}?a={a.pk}&b={b.pk}&group=tp-missed"
    assert re.search(rf'src="/runs/{a.pk}/instances/\d+/crop.png"', html)
    assert re.search(rf'src="/runs/{b.pk}/instances/\d+/crop.png"', html)
    assert "change-worse" in html and ">found<" in html and ">missed<" in html
    assert "HX-Request" in response["Vary"]


def test_group_fragment_links_full_screen_and_editor(member_client, world, pair):
    a, b = pair
    html = member_client.get(compare(a, b, group="missed-tp"), **HTMX).content.decode()
    image = world.project.validation_images().order_by("id")[0]
    assert f'href="/runs/{b.pk}/images/{image.pk}/?instance=' in html
    editor = reverse("projects:image-editor", args=[image.pk])
    assert f'href="{editor}?run={b.pk}"' in html


def test_cell_fragment_has_a_tab_per_run(member_client, pair):
    a, b = pair
    labels = cmp.union_labels(a.labels, b.labels)
    s = labels.index("scratch")
    response = member_client.get(compare(a, b, cell=f"{s}-{s}"), **HTMX)
    html = text(response)
    assert response.status_code == 200
    assert f"Only in run #{b.pk} (0)" in html and f"Only in run #{a.pk} (1)" in html
    assert 'data-side="a" aria-current="true"' in html  # b has none: a's side opens
    assert html.count('<li class="change-card') == 1
    assert "3 in run" in html and "2 in both" in html
    oob = html[html.index('<section class="card" id="compare-matrix" hx-swap-oob="true">') :]
    assert f'data-cell="{s}-{s}" aria-current="true"' in oob  # the matrix marks the chosen cell
    b_side = member_client.get(compare(a, b, cell=f"{s}-{s}", side="b"), **HTMX)
    assert "Nothing changed here." in b_side.content.decode()


def test_changes_are_paged_fifty_at_a_time(member_client, world):
    image = world.project.validation_images().order_by("id")[0]
    scratch = Label.objects.get(project=world.project, name="scratch")
    boxes = [
        (5 + 12 * (i % 20), 100 + 12 * (i // 20), 15 + 12 * (i % 20), 110 + 12 * (i // 20))
        for i in range(55)
    ]
    Annotation.objects.bulk_create(
        Annotation(image=image, label=scratch, x1=x1, y1=y1, x2=x2, y2=y2)
        for x1, y1, x2, y2 in boxes
    )
    found = {0: [(box, 0, 0.9) for box in boxes]}
    a = evaluated_run(world, world.model, found)
    b = evaluated_run(world, model_b(world), {})
    page1 = member_client.get(compare(a, b, group="tp-missed"), **HTMX).content.decode()
    assert page1.count('<li class="change-card') == 50 and "Page 1 of 2" in page1
    next_url = compare(a, b, group="tp-missed", page=2).replace("&", "&amp;")
    assert f'href="{next_url}" hx-get="{next_url}"' in page1
    page2 = member_client.get(compare(a, b, group="tp-missed", page=2), **HTMX)
    assert page2.content.decode().count('<li class="change-card') == 5
    assert page2["HX-Push-Url"].endswith("&group=tp-missed&page=2")


def test_deleted_annotations_are_listed_without_error(member_client, world):
    a = evaluated_run(world, world.model, A_PREDICTIONS)
    image = world.project.validation_images().order_by("id")[0]
    Annotation.objects.filter(image=image, label__name="scratch").delete()
    b = evaluated_run(world, model_b(world), {})
    page = text(member_client.get(compare(a, b)))
    assert f"1 in run #{a.pk}" in page
    response = member_client.get(compare(a, b, group="deleted-a"), **HTMX)
    html = text(response)
    assert response.status_code == 200 and html.count('<li class="change-card') == 1
    assert "not in the run" in html


@pytest.mark.parametrize("query", ["group=tp-tp", "group=nonsense", "cell=99-0", "cell=x"])
def test_an_unknown_selection_gets_a_message(member_client, pair, query):
    a, b = pair
    key, value = query.split("=")
    response = member_client.get(compare(a, b, **{key: value}), **HTMX)
    assert response.status_code == 400
    assert "There is no" in response.content.decode() and value in response.content.decode()


# ---------------------------------------------------------------- the picker


def test_picker_lists_the_other_completed_runs_of_the_project(member_client, world, pair):
    a, b = pair
    running = evaluated_run(world, world.model, {})
    InferenceRun.objects.filter(pk=running.pk).update(status=InferenceRun.Status.RUNNING)
    foreign = evaluated_run(world, world.model, {})
    InferenceRun.objects.filter(pk=foreign.pk).update(project=world.foreign_project)
    response = member_client.get(f"{URL}?a={a.pk}")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="{URL}?a={a.pk}&amp;b={b.pk}"' in html
    for absent in (a, running, foreign):
        assert f'b={absent.pk}"' not in html


def test_picker_says_when_there_is_nothing_to_compare(member_client, world):
    a = evaluated_run(world, world.model, A_PREDICTIONS)
    html = member_client.get(f"{URL}?a={a.pk}").content.decode()
    assert "no other completed run" in html


# ---------------------------------------------------------------- refusals


def test_runs_of_different_projects_are_refused_with_a_message(client, world, pair):
    a, _b = pair
    world.foreign_project.members.add(world.owner)
    other = evaluated_run(world, world.model, {})
    InferenceRun.objects.filter(pk=other.pk).update(project=world.foreign_project)
    client.force_login(world.owner)
    response = client.get(compare(a, other))
    html = text(response)
    assert response.status_code == 422
    assert 'role="alert"' in html and "only runs of the same project can be compared" in html


def test_a_run_that_is_not_completed_is_refused(member_client, pair):
    a, b = pair
    InferenceRun.objects.filter(pk=b.pk).update(status=InferenceRun.Status.RUNNING)
    response = member_client.get(compare(a, b))
    assert response.status_code == 422
    assert f"Run #{b.pk} is running: only completed runs can be compared." in text(response)
    picker = member_client.get(f"{URL}?a={b.pk}")
    assert picker.status_code == 422 and "only completed runs" in picker.content.decode()


def test_the_same_run_twice_is_refused(member_client, pair):
    a, _b = pair
    response = member_client.get(compare(a, a))
    assert response.status_code == 422 and "two different runs" in response.content.decode()


@pytest.mark.parametrize("query", ["", "?b=1", "?a=abc", "?a=1&b=x"])
def test_missing_or_malformed_run_numbers_get_a_message(member_client, pair, query):
    response = member_client.get(URL + query)
    assert response.status_code == 400
    assert 'class="form-error" role="alert"' in response.content.decode()


def test_outsider_gets_404(client, world, pair):
    a, b = pair
    client.force_login(world.outsider)
    assert client.get(compare(a, b)).status_code == 404
    assert client.get(f"{URL}?a={a.pk}").status_code == 404
    assert client.get(compare(a, b, group="tp-missed"), **HTMX).status_code == 404


def test_a_run_the_user_cannot_see_is_404_even_beside_a_visible_one(client, world, pair):
    a, _b = pair
    hidden = evaluated_run(world, world.model, {})
    InferenceRun.objects.filter(pk=hidden.pk).update(project=world.foreign_project)
    client.force_login(world.member)
    assert client.get(compare(a, hidden)).status_code == 404


def test_anonymous_is_sent_to_login(client, pair):
    a, b = pair
    response = client.get(compare(a, b))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_wrong_method_is_refused(member_client, pair):
    a, b = pair
    assert member_client.post(compare(a, b)).status_code == 405
