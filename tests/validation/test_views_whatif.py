"""What-if views: the panel, the recomputed fragment, drill-down, crops, save as new run."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from tests.clients import HTMX
from tests.run_builders import new_run
from tests.validation.export_world import DOWNLOADS
from tests.validation.run_world import make_completed_run, make_five_per_image_run
from tests.validation.whatif_world import project_with_validation_task, random_run
from validation.analysis import evaluation, whatif
from validation.analysis.evaluation import Thresholds
from validation.models import InferenceRun, Instance

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_redis", "fresh_whatif_cache")]


@pytest.fixture
def run(world) -> InferenceRun:
    return make_five_per_image_run(world.project, world.model, world.owner)


def whatif_url(run, **query) -> str:
    return reverse("validation:run-whatif", args=[run.pk])


def page_htmx(run, **extra):
    """Headers of an htmx request from the run page."""
    current = "http://testserver" + run.get_absolute_url() + extra.pop("page_query", "")
    return {**HTMX, "HTTP_HX_CURRENT_URL": current, **extra}


QUERY = {"wi_base": "0.7", "wi_iou": "0.3", "wi_low": "0.5"}


def push_query(response) -> dict[str, list[str]]:
    return parse_qs(urlsplit(response.headers["HX-Push-Url"]).query)


# ---------------------------------------------------------------- the panel on the run page


def test_panel_shows_the_runs_own_thresholds_without_errors(member_client, run):
    run.label_confidences.create(label_name="dent", confidence=0.6, base_confidence=0.25)
    html = member_client.get(run.get_absolute_url()).content.decode()
    assert 'id="whatif-form"' in html
    assert 'hx-trigger="input delay:300ms, submit"' in html
    assert re.search(r'name="wi_base"[^>]*value="0.25"', html)
    assert re.search(r'name="wi_lc.dent"[^>]*\s+value="0.6"', html)
    assert "errorlist" not in html.split('id="whatif-form"')[1].split("</form>")[0]


def test_panel_is_not_offered_for_a_run_without_results(member_client, world):
    queued = new_run(world.project, world.model, world.owner)
    html = member_client.get(queued.get_absolute_url()).content.decode()
    assert "whatif-form" not in html
    assert member_client.get(whatif_url(queued), QUERY, **HTMX).status_code == 404


def test_page_with_a_whatif_query_shows_its_matrix_and_differences(member_client, run):
    html = member_client.get(run.get_absolute_url(), QUERY).content.decode()
    assert "whatif-banner" in html
    # At 0.7 the dent false alarms go (fewer: better); the scratch-on-dent confusion stays.
    assert '<span class="zero">0</span><span class="delta delta-better">−3</span>' in html
    assert "/whatif/cells/0-0/?wi_base=0.7" in html
    assert re.search(r'name="wi_base"[^>]*value="0.7"', html)
    run.refresh_from_db()
    assert run.base_confidence == 0.25  # the run itself is unchanged


def test_links_to_the_other_pages_of_the_run(member_client, run):
    html = member_client.get(run.get_absolute_url()).content.decode()
    pages = ("validation:worst-images", "validation:run-review", "validation:run-curves")
    for name in [*(name for name, _type, _file in DOWNLOADS), *pages]:
        assert reverse(name, args=[run.pk]) in html
    assert reverse("validation:run-compare") + f"?a={run.pk}" in html
    assert 'hx-trigger="load"' in html and 'id="run-review"' in html


# ---------------------------------------------------------------- the recomputed fragment


def test_whatif_fragment_recomputes_matrix_metrics_and_cell(member_client, run):
    response = member_client.get(whatif_url(run), QUERY, **page_htmx(run, page_query="?cell=0-0"))
    assert response.status_code == 200
    html = response.content.decode()
    for target in ("#run-tiles", "#run-categories", "#run-matrix", "#run-instances"):
        assert f'<hx-partial hx-target="{target}" hx-swap="outerHTML">' in html
    expected = whatif.evaluate(run, Thresholds(0.7, {}, 0.3, 0.5))
    assert f"{expected.f1:.3f}" in html
    assert html.count('class="instance"') == expected.matrix[0][0]
    assert push_query(response) == {
        "cell": ["0-0"],
        "wi_base": ["0.7"],
        "wi_iou": ["0.3"],
        "wi_low": ["0.5"],
    }


def test_whatif_fragment_keeps_sections_and_sort_and_canonical_label_query(member_client, run):
    query = {**QUERY, "wi_lc.dent": "0.75", "wi_lc.scratch": ""}
    headers = page_htmx(run, page_query="?open=metrics,details&sort=-f1&page=3")
    response = member_client.get(whatif_url(run), query, **headers)
    assert push_query(response) == {
        "open": ["metrics,details"],
        "sort": ["-f1"],
        "wi_base": ["0.7"],
        "wi_iou": ["0.3"],
        "wi_low": ["0.5"],
        "wi_lc": ["dent:0.75"],
    }


def test_whatif_without_htmx_redirects_to_the_page(member_client, run):
    response = member_client.get(whatif_url(run), QUERY)
    assert response.status_code == 302
    assert response.url.startswith(run.get_absolute_url() + "?")
    assert "wi_base=0.7" in response.url


@pytest.mark.parametrize(
    ("query", "slot", "message"),
    [
        (
            {"wi_base": "0.5", "wi_iou": "0.3", "wi_low": "0.5", "wi_lc.dent": "0.2"},
            "wi-err-lc-1",
            "The confidence of “dent” (0.2) is below the base confidence (0.5)",
        ),
        (
            {"wi_base": "0.5", "wi_iou": "0.6", "wi_low": "0.5"},
            "wi-err-low",
            "at least the IoU threshold",
        ),
        ({"wi_base": "2", "wi_iou": "0.3", "wi_low": "0.5"}, "wi-err-base", "between 0 and 1"),
        (
            {"wi_base": "0.5", "wi_iou": "zero", "wi_low": "0.5"},
            "wi-err-iou",
            "Enter a number between 0 and 1.",
        ),
        (
            {"wi_base": "0.5", "wi_iou": "0.3", "wi_low": "0.5", "wi_lc": "rust:0.6"},
            "wi-err-general",
            "Unknown label “rust”",
        ),
    ],
)
def test_invalid_thresholds_answer_422_with_the_message_in_its_slot(
    member_client, run, query, slot, message
):
    response = member_client.get(whatif_url(run), query, **page_htmx(run))
    assert response.status_code == 422
    html = response.content.decode()
    part = html.split(f'hx-target="#{slot}"')[1].split("</hx-partial>")[0]
    assert message in part
    assert "#run-matrix" not in html and "HX-Push-Url" not in response.headers


def test_invalid_query_on_the_page_shows_errors_and_the_saved_results(member_client, run):
    html = member_client.get(
        run.get_absolute_url(), {"wi_base": "0.5", "wi_iou": "0.3", "wi_low": "0.2"}
    ).content.decode()
    assert "at least the IoU threshold" in html
    assert "whatif-banner" not in html


def test_whatif_wrong_method_outsider_and_anonymous(client, world, run):
    client.force_login(world.member)
    assert client.post(whatif_url(run), QUERY, **HTMX).status_code == 405
    client.force_login(world.outsider)
    assert client.get(whatif_url(run), QUERY, **HTMX).status_code == 404
    client.logout()
    response = client.get(whatif_url(run), QUERY, **HTMX)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


# ---------------------------------------------------------------- drill-down in memory


def cell_url(run, row, col) -> str:
    return reverse("validation:run-whatif-cell", args=[run.pk, row, col])


def test_whatif_cell_lists_its_entries_and_pushes_the_page_url(member_client, run):
    n = len(run.labels)
    response = member_client.get(
        cell_url(run, n, 1), {**QUERY, "wi_base": "0.85"}, **page_htmx(run)
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="instance"') == 3  # the dents are missed once 0.80 is dropped
    assert "missed" in html and 'data-id="a' in html
    assert push_query(response)["cell"] == [f"{n}-1"]


def test_whatif_cell_pages_hold_fifty_entries(member_client, world):
    project = project_with_validation_task([world.owner, world.member])
    big = random_run(project, world.model, world.owner, images=60, seed=1)
    n = len(big.labels)
    query = {"wi_base": "0.0", "wi_iou": "0.05", "wi_low": "1"}
    result = whatif.evaluate(big, Thresholds(0.0, {}, 0.05, 1.0))
    row, col = max(
        ((r, c) for r in range(n) for c in range(n + 2)), key=lambda rc: result.matrix[rc[0]][rc[1]]
    )
    count = result.matrix[row][col]
    assert count > 50
    first = member_client.get(cell_url(big, row, col), query, **page_htmx(big)).content.decode()
    assert first.count('class="instance"') == 50
    last_page = (count + 49) // 50
    last = member_client.get(
        cell_url(big, row, col), {**query, "page": last_page}, **page_htmx(big)
    ).content.decode()
    assert last.count('class="instance"') == count - 50 * (last_page - 1)


def test_whatif_loc_cell_splits_by_actual_label(member_client, run):
    n = len(run.labels)
    html = member_client.get(
        cell_url(run, 1, n + 1), QUERY | {"wi_base": "0.25"}, **page_htmx(run)
    ).content.decode()
    assert "crack (3)" in html
    split = member_client.get(
        cell_url(run, 1, n + 1), {**QUERY, "wi_base": "0.25", "actual": "3"}, **page_htmx(run)
    )
    assert split.content.decode().count('class="instance"') == 3


def test_whatif_cell_outside_the_matrix_is_404_and_no_htmx_redirects(member_client, run):
    n = len(run.labels)
    assert member_client.get(cell_url(run, n + 1, 0), QUERY, **HTMX).status_code == 404
    response = member_client.get(cell_url(run, 0, 0), QUERY)
    assert response.status_code == 302 and "cell=0-0" in response.url


def crop_urls(html: str) -> list[str]:
    return re.findall(r'<img src="(/runs/\d+/whatif/crops/[^"]+)"', html)


def test_whatif_crop_is_drawn_once_and_cached(member_client, run, settings):
    html = member_client.get(cell_url(run, 0, 0), QUERY, **page_htmx(run)).content.decode()
    url = crop_urls(html)[0]
    response = member_client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    cached = list((settings.MEDIA_ROOT / "crops" / str(run.pk) / "whatif").glob("*.png"))
    assert len(cached) == 1
    assert member_client.get(url).status_code == 200
    assert len(list(cached[0].parent.glob("*.png"))) == 1


def test_whatif_crop_refuses_a_forged_or_foreign_token(client, world, run):
    client.force_login(world.member)
    html = client.get(cell_url(run, 0, 0), QUERY, **page_htmx(run)).content.decode()
    url = crop_urls(html)[0]
    token = url.rsplit("/", 1)[1][: -len(".png")]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert client.get(url.replace(token, forged)).status_code == 404
    other = make_five_per_image_run(world.project, world.model, world.owner)
    assert client.get(url.replace(f"/runs/{run.pk}/", f"/runs/{other.pk}/")).status_code == 404
    client.force_login(world.outsider)
    assert client.get(url).status_code == 404


def test_whatif_full_screen_shows_the_kept_predictions(member_client, run):
    image_id = run.instances.order_by("id").first().image_id
    url = reverse("validation:run-whatif-image", args=[run.pk, image_id])
    html = member_client.get(url, {**QUERY, "instance": "p0"}, **HTMX).content.decode()
    assert html.count('class="box prediction') == 2  # 0.95 and 0.80 stay at 0.7
    assert html.count('class="box annotation') == 3


def test_whatif_selection_lists_the_chosen_entries(member_client, run):
    url = reverse("validation:run-whatif-selection", args=[run.pk])
    html = member_client.get(url, {**QUERY, "ids": "p0,p5,p3,bogus"}, **HTMX).content.decode()
    assert html.count('class="modify-title"') == 2  # p3 (0.60) is dropped at 0.7
    assert reverse("projects:image-editor", args=[run.instances.first().image_id]) in html


# ---------------------------------------------------------------- save as new run


def save_url(run) -> str:
    return reverse("validation:run-whatif-save", args=[run.pk])


def test_save_as_new_run_creates_one_derived_run_equal_to_a_fresh_evaluate(member_client, world):
    project = project_with_validation_task([world.owner, world.member])
    source = random_run(project, world.model, world.owner, images=10, seed=7)
    data = {"wi_base": "0.4", "wi_iou": "0.35", "wi_low": "0.6", "wi_lc.dent": "0.55"}
    count = InferenceRun.objects.count()
    response = member_client.post(save_url(source), data, **HTMX)
    assert response.status_code == 200
    assert InferenceRun.objects.count() == count + 1
    new = InferenceRun.objects.latest("id")
    assert response.headers["HX-Redirect"] == new.get_absolute_url()
    assert new.derived_from == source and new.created_by == world.member
    assert new.status == InferenceRun.Status.COMPLETED
    assert (new.base_confidence, new.iou_threshold, new.low_overlap_threshold) == (0.4, 0.35, 0.6)
    assert new.label_threshold_map() == {"dent": 0.55}
    assert new.predictions_file.name != source.predictions_file.name
    expected = evaluation.evaluate_stored_run(new)
    assert new.matrix == expected.matrix.tolist()
    assert (new.precision, new.recall, new.f1) == (
        expected.overall["precision"],
        expected.overall["recall"],
        expected.overall["f1"],
    )
    assert new.per_label == expected.per_label
    assert Instance.objects.filter(run=new).count() == len(expected.instances)
    source.refresh_from_db()
    assert source.base_confidence == 0.25 and source.derived_from is None


def test_save_twice_with_the_same_thresholds_makes_one_run(member_client, run):
    data = {**QUERY, "wi_lc.dent": "0.8"}
    first = member_client.post(save_url(run), data, **HTMX).headers["HX-Redirect"]
    second = member_client.post(save_url(run), data, **HTMX).headers["HX-Redirect"]
    assert first == second
    assert InferenceRun.objects.filter(derived_from=run).count() == 1


def test_save_without_htmx_redirects_to_the_new_run(member_client, run):
    response = member_client.post(save_url(run), QUERY)
    new = InferenceRun.objects.get(derived_from=run)
    assert response.status_code == 302 and response.url == new.get_absolute_url()
    html = member_client.get(new.get_absolute_url()).content.decode()
    assert f"Saved from a what-if on run #{run.pk}" in html


def test_save_refuses_invalid_thresholds(member_client, run):
    data = {"wi_base": "0.5", "wi_iou": "0.3", "wi_low": "0.5", "wi_lc.dent": "0.1"}
    response = member_client.post(save_url(run), data, **HTMX)
    assert response.status_code == 422
    assert "below the base confidence" in response.content.decode()
    assert not InferenceRun.objects.filter(derived_from=run).exists()
    response = member_client.post(save_url(run), data)
    assert response.status_code == 302 and "wi_lc.dent=0.1" in response.url


def test_save_wrong_method_outsider_and_unfinished_run(client, world, run):
    client.force_login(world.member)
    assert client.get(save_url(run)).status_code == 405
    client.force_login(world.outsider)
    assert client.post(save_url(run), QUERY, **HTMX).status_code == 404
    client.force_login(world.member)
    by_hand = make_completed_run(world.project, world.model, world.owner)  # no predictions file
    assert client.post(save_url(by_hand), QUERY, **HTMX).status_code == 404
    assert not InferenceRun.objects.filter(derived_from__isnull=False).exists()


# ---------------------------------------------------------------- the list's review filter


def test_run_list_filters_by_review_status(member_client, world, run):
    other = make_five_per_image_run(world.project, world.model, world.owner)
    InferenceRun.objects.filter(pk=other.pk).update(review_status=InferenceRun.Review.APPROVED)
    html = member_client.get(reverse("validation:run-list"), {"review": "approved"}).content
    html = html.decode()
    assert f'href="{other.get_absolute_url()}"' in html
    assert f'href="{run.get_absolute_url()}"' not in html
    assert '<option value="approved" selected>' in html
    everything = member_client.get(reverse("validation:run-list"), {"review": "bogus"}).content
    assert f'href="{run.get_absolute_url()}"'.encode() in everything


def test_sorting_categories_keeps_the_whatif(member_client, run):
    url = reverse("validation:run-categories", args=[run.pk])
    response = member_client.get(
        url,
        {"sort": "-f1"},
        **page_htmx(run, page_query="?open=metrics&wi_base=0.7&wi_iou=0.3&wi_low=0.5"),
    )
    html = response.content.decode()
    expected = whatif.evaluate(run, Thresholds(0.7, {}, 0.3, 0.5))
    assert f"{expected.precision:.3f}" in html
    assert "wi_base=0.7" in response.headers["HX-Replace-Url"]
