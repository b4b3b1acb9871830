"""The run page: sections, progress polling, cancel, metrics, categories, re-evaluate."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from projects.models import Annotation, Label
from tests.clients import HTMX
from tests.validation.run_world import (
    make_completed_run,
    make_five_per_image_run,
)
from validation.models import InferenceRun
from validation.runs import start as runs

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_redis")]


@pytest.fixture
def run(world) -> InferenceRun:
    return make_completed_run(world.project, world.model, world.owner)


def table_labels(html: str) -> list[str]:
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r'<th scope="row">([^<]+)</th>', body)


def open_sections(html: str) -> list[str]:
    return re.findall(r'data-section="(\w+)" open', html)


# ---------------------------------------------------------------- the page


def test_details_open_by_default_and_other_sections_closed(member_client, run):
    response = member_client.get(run.get_absolute_url())
    assert response.status_code == 200
    assert open_sections(response.content.decode()) == ["details"]


def test_open_sections_come_from_the_url(member_client, run):
    html = member_client.get(run.get_absolute_url(), {"open": "settings,metrics,bogus"}).content
    assert open_sections(html.decode()) == ["settings", "metrics"]
    assert (
        open_sections(member_client.get(run.get_absolute_url(), {"open": ""}).content.decode())
        == []
    )


def test_settings_show_every_parameter(member_client, run):
    run.label_confidences.create(label_name="dent", confidence=0.6, base_confidence=0.25)
    html = member_client.get(run.get_absolute_url(), {"open": "settings"}).content.decode()
    for text in (
        "Base confidence",
        "dent: 0.6",
        "Batch size",
        "Image size",
        "IoU threshold",
        "Low-overlap threshold",
        "cpu",
        run.model.name,
        run.project.name,
    ):
        assert text in html


def test_metrics_show_dashes_for_undefined_values(member_client, run):
    html = member_client.get(run.get_absolute_url(), {"open": "metrics"}).content.decode()
    assert "0.250" in html  # F1
    assert '<span class="tile-value">—</span>' in html  # mAP is undefined in the hand-made run
    assert "3.4 s" in html and "loading images" in html


def test_matrix_has_axis_titles_counts_diagonal_and_links(member_client, run):
    html = member_client.get(run.get_absolute_url()).content.decode()
    assert "Predicted ↓" in html and "Actual →" in html
    n = len(run.labels)
    assert f'data-cell="1-{n}"' in html  # the BG cell of "dent"
    assert f'href="{run.get_absolute_url()}?cell=1-{n}&amp;open=details"' in html
    cell_url = reverse("validation:run-cell", args=[run.pk, 1, n])
    assert f'hx-get="{cell_url}"' in html
    assert len(re.findall(r'<td class="diag[ "]', html)) == n
    assert '<span class="zero">0</span>' in html  # empty cells are shown
    assert '<th scope="row" title="missed annotations">{}</th>' in html
    assert "--share:1.000" in html  # the 划痕 row is all BG


def test_cell_in_the_url_reopens_its_instances(member_client, run):
    n = len(run.labels)
    response = member_client.get(run.get_absolute_url(), {"cell": f"2-{n}"})
    assert len(response.context["cell_items"]) == 3
    assert re.search(
        r'<td class="[^"]*selected[^"]*"[^>]*><a class="cell-link"[^>]*data-cell="2-',
        response.content.decode(),
    )


def test_a_cell_outside_the_matrix_is_ignored(member_client, run):
    response = member_client.get(run.get_absolute_url(), {"cell": "99-0"})
    assert response.status_code == 200
    assert "cell_items" not in response.context


def test_queued_run_polls_its_progress(member_client, world):
    run = make_completed_run(
        world.project, world.model, world.owner, status=InferenceRun.Status.QUEUED, images_done=0
    )
    html = member_client.get(run.get_absolute_url()).content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert reverse("validation:run-progress", args=[run.pk]) in html
    assert "The confusion matrix appears when the run has completed." in html
    assert reverse("validation:run-cancel", args=[run.pk]) in html


def test_failed_run_shows_its_reason_and_skipped_images(member_client, world):
    run = make_completed_run(
        world.project,
        world.model,
        world.owner,
        status=InferenceRun.Status.FAILED,
        error_message="CUDA out of memory",
        skipped_images=[{"name": "坏.png", "reason": "truncated"}],
    )
    html = member_client.get(run.get_absolute_url()).content.decode()
    assert "The run failed" in html and "CUDA out of memory" in html
    assert "坏.png" in html and "truncated" in html
    assert 'hx-trigger="every 1s"' not in html


def test_outsider_gets_404(outsider_client, world, run):
    assert outsider_client.get(run.get_absolute_url()).status_code == 404


def test_staff_see_any_run(staff_client, run):
    assert staff_client.get(run.get_absolute_url()).status_code == 200


def test_anonymous_goes_to_login(client, run):
    response = client.get(run.get_absolute_url())
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_wrong_method(member_client, run):
    assert member_client.post(run.get_absolute_url()).status_code == 405


def test_htmx_gets_the_run_body(member_client, run):
    html = member_client.get(run.get_absolute_url(), **HTMX).content.decode()
    assert html.lstrip().startswith('<div id="run-body"')


def test_history_restore_gets_the_whole_page(member_client, run):
    headers = {**HTMX, "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}
    assert "<html" in member_client.get(run.get_absolute_url(), **headers).content.decode()


def test_page_queries_do_not_grow_with_instances(member_client, run, django_assert_max_num_queries):
    n = len(run.labels)
    with django_assert_max_num_queries(12):
        member_client.get(run.get_absolute_url(), {"cell": f"0-{n}", "open": "settings,metrics"})


# ---------------------------------------------------------------- progress


def test_progress_fragment_while_running(member_client, world):
    run = make_completed_run(
        world.project,
        world.model,
        world.owner,
        status=InferenceRun.Status.RUNNING,
        images_done=1,
        images_per_second=2.5,
        seconds_left=0.8,
    )
    url = reverse("validation:run-progress", args=[run.pk])
    response = member_client.get(url, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="run-progress"')
    assert "1 / 3" in html and "2.5" in html and "800 ms" in html


def test_progress_stops_polling_with_286_and_swaps_in_the_results(member_client, run):
    url = reverse("validation:run-progress", args=[run.pk])
    current = f"http://testserver{run.get_absolute_url()}?open=metrics"
    response = member_client.get(url, HTTP_HX_CURRENT_URL=current, **HTMX)
    html = response.content.decode()
    assert response.status_code == 286
    assert response["HX-Retarget"] == "#run-body"
    assert response["HX-Reswap"] == "outerHTML"
    assert html.lstrip().startswith('<div id="run-body"')
    assert 'hx-trigger="every 1s"' not in html
    assert open_sections(html) == ["metrics"]


def test_progress_without_htmx_redirects_to_the_page(member_client, run):
    response = member_client.get(reverse("validation:run-progress", args=[run.pk]))
    assert response.status_code == 302 and response.url == run.get_absolute_url()


def test_progress_access_and_method(client, world, run):
    url = reverse("validation:run-progress", args=[run.pk])
    client.force_login(world.outsider)
    assert client.get(url, **HTMX).status_code == 404
    client.force_login(world.member)
    assert client.post(url).status_code == 405


# ---------------------------------------------------------------- cancel


def test_cancel_a_queued_run(member_client, world):
    run = make_completed_run(
        world.project, world.model, world.owner, status=InferenceRun.Status.QUEUED, images_done=0
    )
    response = member_client.post(reverse("validation:run-cancel", args=[run.pk]), **HTMX)
    run.refresh_from_db()
    assert run.status == InferenceRun.Status.CANCELLED
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="run-body"')
    assert "This run was cancelled." in html


def test_cancel_a_running_run_asks_the_worker_to_stop(member_client, world):
    run = make_completed_run(
        world.project, world.model, world.owner, status=InferenceRun.Status.RUNNING, images_done=1
    )
    response = member_client.post(reverse("validation:run-cancel", args=[run.pk]))
    run.refresh_from_db()
    assert response.status_code == 302 and response.url == run.get_absolute_url()
    assert run.cancel_requested and run.status == InferenceRun.Status.RUNNING


def test_cancel_access_and_method(client, world, run):
    url = reverse("validation:run-cancel", args=[run.pk])
    client.force_login(world.outsider)
    assert client.post(url).status_code == 404
    client.force_login(world.member)
    assert client.get(url).status_code == 405


# ---------------------------------------------------------------- categories


def test_category_overview_per_label_with_macro_average(member_client, run):
    html = member_client.get(run.get_absolute_url(), {"open": "metrics,categories"}).content
    html = html.decode()
    assert open_sections(html) == ["metrics", "categories"]
    assert "Macro average" in html and "All labels (micro)" in html
    table = html.split('id="run-categories"')[1]
    for label in run.labels:
        assert f'<th scope="row">{label}</th>' in table


def test_category_sorting_puts_undefined_last(member_client, run):
    url = reverse("validation:run-categories", args=[run.pk])
    response = member_client.get(url, {"sort": "-precision"}, **HTMX)
    rows = table_labels(response.content.decode())
    precision = {name: m["precision"] for name, m in run.per_label.items()}
    defined = sorted((n for n in rows if precision[n] is not None), key=lambda n: -precision[n])
    assert rows[: len(defined)] == defined
    assert all(precision[n] is None for n in rows[len(defined) :])
    assert response.content.decode().lstrip().startswith('<div id="run-categories"')
    assert "sort=-precision" in response["HX-Replace-Url"]


def test_category_sort_links_toggle_direction(member_client, run):
    url = reverse("validation:run-categories", args=[run.pk])
    html = member_client.get(url, {"sort": "f1"}, **HTMX).content.decode()
    assert "sort=-f1" in html and "▲" in html


def test_category_bad_sort_is_ignored_and_plain_get_redirects(member_client, run):
    url = reverse("validation:run-categories", args=[run.pk])
    response = member_client.get(url, {"sort": "__class__"}, **HTMX)
    assert table_labels(response.content.decode()) == run.labels
    plain = member_client.get(url, {"sort": "f1"})
    assert plain.status_code == 302 and "sort=f1" in plain.url


def test_categories_access_and_method(client, world, run):
    url = reverse("validation:run-categories", args=[run.pk])
    client.force_login(world.outsider)
    assert client.get(url, **HTMX).status_code == 404
    client.force_login(world.member)
    assert client.post(url).status_code == 405


# ---------------------------------------------------------------- re-evaluate


def test_reevaluate_without_stored_predictions_says_why(member_client, run):
    response = member_client.post(reverse("validation:run-reevaluate", args=[run.pk]), **HTMX)
    assert response.status_code == 200
    assert "Only a completed run with stored predictions can be re-evaluated." in (
        response.content.decode()
    )


def test_reevaluate_shows_cells_and_f1_before_and_after(member_client, run, monkeypatch):
    n = len(run.labels)

    def fake_reevaluate(target):
        assert target.pk == run.pk
        return {
            "changed_cells": [(1, n, 3, 2), (1, 1, 0, 1)],
            "before": {"precision": 0.5, "recall": 0.4, "f1": 0.25},
            "after": {"precision": 0.6, "recall": 0.5, "f1": 0.3},
        }

    monkeypatch.setattr(runs, "reevaluate_run", fake_reevaluate)
    response = member_client.post(reverse("validation:run-reevaluate", args=[run.pk]))
    assert response.status_code == 302
    html = member_client.get(response.url).content.decode()
    assert "Predicted dent / actual BG: <strong>3 → 2</strong>" in html
    assert "Predicted dent / actual dent: <strong>0 → 1</strong>" in html
    assert re.search(r"F1</th><td class=\"num\">0.250</td><td>→</td><td class=\"num\">0.300", html)
    # shown once
    assert "Re-evaluated" not in member_client.get(run.get_absolute_url()).content.decode()


def test_reevaluate_access_and_method(client, world, run):
    url = reverse("validation:run-reevaluate", args=[run.pk])
    client.force_login(world.outsider)
    assert client.post(url).status_code == 404
    client.force_login(world.member)
    assert client.get(url).status_code == 405


def test_hand_made_runs_match_what_metrics_rs_computes(world, run):
    real = make_five_per_image_run(world.project, world.model, world.owner)
    assert (real.labels, real.matrix) == (run.labels, run.matrix)
    fields = ("row", "col", "kind", "actual_label")
    assert sorted(real.instances.values_list(*fields)) == sorted(run.instances.values_list(*fields))


def test_reevaluate_after_fixing_an_annotation_changes_exactly_that_instance(member_client, world):
    run = make_five_per_image_run(world.project, world.model, world.owner)
    image = run.project.validation_images().order_by("id").first()
    dent = Annotation.objects.get(image=image, label__name="dent")
    dent.label = Label.objects.get(project=world.project, name="scratch")
    dent.save()
    response = member_client.post(reverse("validation:run-reevaluate", args=[run.pk]), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Predicted scratch / actual scratch: <strong>3 → 4</strong>" in html
    assert "Predicted scratch / actual dent: <strong>3 → 2</strong>" in html
    assert html.count("<li>Predicted ") == 2
    assert re.search(r"F1</th><td class=\"num\">0.250</td><td>→</td><td class=\"num\">0.333", html)
    run.refresh_from_db()
    assert run.matrix[0][:2] == [4, 2]
