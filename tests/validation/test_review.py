"""Reviewing a run: the fragment, saving with who/when, errors, access, the list filter."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.clients import HTMX
from tests.validation.run_world import make_completed_run
from validation.models import InferenceRun
from validation.runs.review import NOTES_MAX_LENGTH, filter_by_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(world) -> InferenceRun:
    return make_completed_run(world.project, world.model, world.owner)


def review_url(run) -> str:
    return reverse("validation:run-review", args=[run.pk])


def test_get_renders_the_review_page_with_the_current_status(member_client, world, run):
    response = member_client.get(review_url(run))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and 'id="run-review"' in html
    assert '<option value="to_review" selected>' in html
    assert 'value="approved"' in html and 'value="rejected"' in html


def test_htmx_get_returns_only_the_fragment(member_client, world, run):
    html = member_client.get(review_url(run), **HTMX).content.decode()
    assert html.lstrip().startswith('<section id="run-review"')
    assert "<html" not in html
    assert f'hx-post="{review_url(run)}"' in html and 'hx-target="#run-review"' in html


def test_htmx_post_saves_status_notes_who_and_when(member_client, world, run):
    response = member_client.post(
        review_url(run),
        {"review_status": "approved", "review_notes": "可以上线", "version": 0},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="run-review"')
    assert "Review saved." in html and "by member" in html
    assert '<option value="approved" selected>' in html
    run.refresh_from_db()
    assert run.review_status == InferenceRun.Review.APPROVED
    assert run.review_notes == "可以上线"
    assert run.reviewed_by == world.member
    assert run.reviewed_at is not None


def test_plain_post_redirects_to_the_run(owner_client, world, run):
    response = owner_client.post(
        review_url(run), {"review_status": "rejected", "review_notes": "", "version": 0}
    )
    assert response.status_code == 302
    assert response["Location"] == run.get_absolute_url()
    run.refresh_from_db()
    assert run.review_status == "rejected" and run.reviewed_by == world.owner


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"review_status": "shipped", "review_notes": "", "version": 0}, "review_status"),
        ({"review_notes": "x", "version": 0}, "review_status"),
        (
            {
                "review_status": "rejected",
                "review_notes": "x" * (NOTES_MAX_LENGTH + 1),
                "version": 0,
            },
            "review_notes",
        ),
    ],
)
def test_invalid_review_is_422_with_the_error_next_to_its_field(
    member_client, world, run, data, field
):
    response = member_client.post(review_url(run), data, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="run-review"')
    field_block = html.split(f'for="id_{field}"')[1].split("</div>")[0]
    assert 'class="errorlist' in field_block
    run.refresh_from_db()
    assert run.review_status == "to_review" and run.reviewed_by is None


def test_invalid_plain_post_renders_the_page_with_422(member_client, world, run):
    response = member_client.post(review_url(run), {"review_status": "nope", "version": 0})
    assert response.status_code == 422
    assert "<html" in response.content.decode()


def test_wrong_method_is_405(member_client, world, run):
    assert member_client.put(review_url(run)).status_code == 405
    assert member_client.delete(review_url(run)).status_code == 405


def test_outsider_gets_404_and_changes_nothing(outsider_client, world, run):
    assert outsider_client.get(review_url(run), **HTMX).status_code == 404
    response = outsider_client.post(review_url(run), {"review_status": "approved"}, **HTMX)
    assert response.status_code == 404
    run.refresh_from_db()
    assert run.review_status == "to_review"


def test_anonymous_is_sent_to_login(client, run):
    response = client.post(review_url(run), {"review_status": "approved"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    run.refresh_from_db()
    assert run.review_status == "to_review"


def test_filter_by_review(world, run):
    other = make_completed_run(
        world.project, world.model, world.owner, review_status=InferenceRun.Review.APPROVED
    )
    runs = InferenceRun.objects.all()
    assert list(filter_by_review(runs, "approved")) == [other]
    assert list(filter_by_review(runs, "to_review")) == [run]
    assert set(filter_by_review(runs, "")) == {run, other}
    assert set(filter_by_review(runs, "bogus")) == {run, other}
    assert set(filter_by_review(runs, None)) == {run, other}


# ---- sign-off only for completed runs -------------------------------------------------------


@pytest.mark.parametrize("status", ["queued", "running", "failed", "cancelled"])
def test_a_run_without_results_offers_no_review_form(client, world, status):
    run = make_completed_run(world.project, world.model, world.owner, status=status)
    client.force_login(world.member)

    html = client.get(review_url(run), **HTMX).content.decode()

    assert 'data-role="review-unavailable"' in html
    assert "<form" not in html


@pytest.mark.parametrize("status", ["queued", "running", "failed", "cancelled"])
def test_signing_off_a_run_without_results_is_refused(client, world, status):
    run = make_completed_run(world.project, world.model, world.owner, status=status)
    client.force_login(world.member)

    response = client.post(
        review_url(run), {"review_status": "approved", "review_notes": "", "version": 0}, **HTMX
    )

    assert response.status_code == 409
    assert "Only a completed run can be reviewed" in response.content.decode()
    run.refresh_from_db()
    assert (run.review_status, run.reviewed_by, run.review_version) == ("to_review", None, 0)


# ---- two reviewers at once ------------------------------------------------------------------


def test_the_form_carries_the_review_version(client, world, run):
    InferenceRun.objects.filter(pk=run.pk).update(review_version=7)
    client.force_login(world.member)

    html = client.get(review_url(run), **HTMX).content.decode()

    assert '<input type="hidden" name="version" value="7"' in html


def test_a_saved_review_bumps_the_version(member_client, world, run):
    member_client.post(review_url(run), {"review_status": "rejected", "version": 0}, **HTMX)

    run.refresh_from_db()
    assert run.review_version == 1


def test_a_review_read_before_another_was_saved_is_refused_with_409(client, world, run):
    client.force_login(world.owner)
    first = {"review_status": "rejected", "review_notes": "划痕漏检", "version": 0}
    assert client.post(review_url(run), first, **HTMX).status_code == 200
    client.force_login(world.member)

    response = client.post(
        review_url(run), {"review_status": "approved", "review_notes": "ok", "version": 0}, **HTMX
    )

    assert response.status_code == 409
    html = response.content.decode()
    assert 'data-role="review-stale"' in html and "by owner" in html
    assert '<input type="hidden" name="version" value="1"' in html
    assert '<option value="approved" selected>' in html  # what the member chose, kept
    run.refresh_from_db()
    assert (run.review_status, run.review_notes, run.reviewed_by) == (
        "rejected",
        "划痕漏检",
        world.owner,
    )


def test_the_same_review_submitted_twice_is_saved_once(member_client, world, run):
    data = {"review_status": "approved", "review_notes": "ok", "version": 0}
    member_client.post(review_url(run), data, **HTMX)

    again = member_client.post(review_url(run), data, **HTMX)

    assert again.status_code == 200
    run.refresh_from_db()
    assert (run.review_status, run.review_version) == ("approved", 1)


@pytest.mark.parametrize("version", ["", "x", "-1", "9" * 400, "1e400"])
def test_a_review_without_a_valid_version_is_422(member_client, world, run, version):
    response = member_client.post(
        review_url(run), {"review_status": "approved", "version": version}, **HTMX
    )

    assert response.status_code == 422
    assert "reload the page" in response.content.decode()
    run.refresh_from_db()
    assert run.review_status == "to_review"
