"""The token API (/api/runs/) and the page where users create and revoke their tokens."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.clients import HTMX
from tests.validation.export_world import (
    LABELS,
    MATRIX,
    make_known_run,
    make_run_without_predictions,
)
from validation.api.tokens import create_token
from validation.models import ApiToken, InferenceRun

pytestmark = pytest.mark.django_db

RUN_KEYS = {
    "run",
    "status",
    "error",
    "labels",
    "rows",
    "columns",
    "matrix",
    "overall",
    "macro",
    "per_label",
    "map50",
    "map50_95",
    "images",
    "timing",
    "skipped_images",
    "process",
    "model",
    "project",
    "created_by",
    "created_at",
    "started_at",
    "finished_at",
    "evaluated_at",
    "derived_from",
    "images_total",
    "settings",
    "review",
    "categories",
}
SETTINGS_KEYS = {
    "base_confidence",
    "label_confidences",
    "confidences",
    "iou_threshold",
    "low_overlap_threshold",
    "reject_labels",
    "score_floor",
    "device",
    "worker_device",
    "batch_size",
    "image_size",
}
SUMMARY_KEYS = {
    "run",
    "url",
    "status",
    "review_status",
    "process",
    "model",
    "project",
    "created_at",
    "finished_at",
    "overall",
    "map50",
    "map50_95",
    "images",
}


@pytest.fixture
def run(world) -> InferenceRun:
    return make_known_run(world.project, world.model, world.owner)


@pytest.fixture
def api():
    return Client(enforce_csrf_checks=True)


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def detail_url(run) -> str:
    return reverse("api:run-detail", args=[run.pk])


# --- authentication -----------------------------------------------------------------------


def test_token_is_stored_as_its_sha256_only(member):
    token, raw = create_token(member, "ci")
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.prefix == raw[:8]
    assert len(raw) >= 40
    assert raw not in {token.name, token.prefix, token.token_hash}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("not-a-token"),
        {"HTTP_AUTHORIZATION": "Bearer"},
        {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"},
    ],
)
def test_missing_or_wrong_token_is_401_json(api, run, headers):
    response = api.get(detail_url(run), **headers)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "Bearer" in response.json()["error"]


def test_token_with_the_right_prefix_but_wrong_rest_is_401(api, run, world):
    _token, raw = create_token(world.member, "ci")
    forged = raw[:8] + ("A" if raw[8] != "A" else "B") + raw[9:]
    assert api.get(detail_url(run), **bearer(forged)).status_code == 401


def test_revoked_token_is_401(api, run, world):
    token, raw = create_token(world.member, "ci")
    token.revoked = True
    token.save()
    assert api.get(detail_url(run), **bearer(raw)).status_code == 401


def test_token_of_an_inactive_user_is_401(api, run, world):
    _token, raw = create_token(world.member, "ci")
    world.member.is_active = False
    world.member.save()
    assert api.get(detail_url(run), **bearer(raw)).status_code == 401


def test_session_login_is_not_enough(api, run, world):
    api.force_login(world.owner)
    assert api.get(detail_url(run)).status_code == 401


# --- run detail ---------------------------------------------------------------------------


def test_run_detail_has_exactly_the_documented_keys(api, run, world):
    token, raw = create_token(world.member, "ci")
    response = api.get(detail_url(run), **bearer(raw))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    doc = response.json()
    assert set(doc) == RUN_KEYS
    assert set(doc["settings"]) == SETTINGS_KEYS
    assert set(doc["review"]) == {"status", "notes", "reviewed_by", "reviewed_at"}
    assert set(doc["overall"]) == {"precision", "recall", "f1"}
    assert set(doc["per_label"]["scratch"]) == {
        "precision",
        "recall",
        "f1",
        "ap50",
        "ap50_95",
        "annotations",
        "predictions",
        "images",
    }
    assert doc["labels"] == LABELS and doc["matrix"] == MATRIX
    assert "焊接项目".encode() in response.content
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_run_detail_f1_is_zero_for_a_label_never_predicted_and_counts_in_macro(api, run, world):
    _token, raw = create_token(world.member, "ci")
    doc = api.get(detail_url(run), **bearer(raw)).json()
    assert doc["per_label"]["crack"]["f1"] == 0.0  # annotations, no prediction
    assert doc["per_label"]["划痕"]["f1"] == 0.0  # predictions, no annotation
    assert doc["macro"]["f1"] == pytest.approx(0.2) and doc["macro"]["f1"] <= doc["overall"]["f1"]


def test_a_run_that_predicts_nothing_has_f1_zero_in_detail_and_list(api, world):
    empty = make_run_without_predictions(world.project, world.model, world.owner)
    _token, raw = create_token(world.member, "ci")
    assert api.get(detail_url(empty), **bearer(raw)).json()["overall"]["f1"] == 0.0
    listed = api.get(reverse("api:run-list"), **bearer(raw)).json()["results"]
    assert [r["overall"] for r in listed if r["run"] == empty.pk] == [
        {"precision": None, "recall": 0.0, "f1": 0.0}
    ]


def test_run_of_another_users_project_is_404(api, run, world):
    _token, raw = create_token(world.outsider, "ci")
    response = api.get(detail_url(run), **bearer(raw))
    assert response.status_code == 404
    assert response.json() == {"error": "No such run."}


def test_staff_token_sees_every_run(api, run, staff):
    _token, raw = create_token(staff, "ci")
    assert api.get(detail_url(run), **bearer(raw)).status_code == 200


def test_api_run_json_equals_export_run_command(api, run, world):
    run.review_status = InferenceRun.Review.REJECTED
    run.reviewed_by = world.member
    run.save()
    _token, raw = create_token(world.member, "ci")
    out = io.StringIO()
    call_command("export_run", str(run.pk), "--format", "json", stdout=out)
    assert api.get(detail_url(run), **bearer(raw)).json() == json.loads(out.getvalue())


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_other_methods_are_405_even_without_csrf(api, run, world, method):
    _token, raw = create_token(world.member, "ci")
    response = getattr(api, method)(detail_url(run), **bearer(raw))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert "error" in response.json()
    run.refresh_from_db()
    assert run.status == "completed"


# --- run list -----------------------------------------------------------------------------


@pytest.fixture
def runs(world, run) -> dict[str, InferenceRun]:
    second = make_known_run(
        world.project,
        world.other_model,
        world.owner,
        status=InferenceRun.Status.FAILED,
        review_status=InferenceRun.Review.REJECTED,
    )
    foreign = make_known_run(world.foreign_project, world.model, world.outsider)
    return {"first": run, "second": second, "foreign": foreign}


def list_ids(api, raw: str, query: str = "") -> list[int]:
    response = api.get(reverse("api:run-list") + query, **bearer(raw))
    assert response.status_code == 200, response.content
    return [item["run"] for item in response.json()["results"]]


def test_list_shows_only_visible_runs_newest_first(api, runs, world):
    _token, raw = create_token(world.member, "ci")
    response = api.get(reverse("api:run-list"), **bearer(raw))
    body = response.json()
    assert body["count"] == 2 and body["next"] is None
    assert [r["run"] for r in body["results"]] == [runs["second"].pk, runs["first"].pk]
    assert set(body["results"][0]) == SUMMARY_KEYS
    assert body["results"][1]["url"].endswith(detail_url(runs["first"]))


LIST_FILTERS = [
    ("?status=failed", ["second"]),
    ("?status=completed", ["first"]),
    ("?review=rejected", ["second"]),
    ("?review=to_review", ["first"]),
    ("?model=paint-model", ["second"]),
    ("?project=焊接项目&status=completed", ["first"]),
    ("?project=foreign", []),
    ("?project=999999", []),
]


def test_list_filters(api, runs, world):
    _token, raw = create_token(world.member, "ci")
    for query, expected in LIST_FILTERS:
        assert list_ids(api, raw, query) == [runs[name].pk for name in expected], query


def test_list_filters_by_ids(api, runs, world):
    _token, raw = create_token(world.member, "ci")
    query = f"?project={world.project.pk}&model={world.model.pk}"
    assert list_ids(api, raw, query) == [runs["first"].pk]


def test_list_pages_with_limit_and_offset(api, runs, world):
    _token, raw = create_token(world.member, "ci")
    first = api.get(reverse("api:run-list") + "?limit=1", **bearer(raw)).json()
    assert [r["run"] for r in first["results"]] == [runs["second"].pk]
    following = api.get(first["next"], **bearer(raw)).json()
    assert [r["run"] for r in following["results"]] == [runs["first"].pk]
    assert following["next"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?status=done", "status"),
        ("?review=ok", "review"),
        ("?limit=0", "limit"),
        ("?limit=x", "limit"),
        ("?offset=-1", "offset"),
    ],
)
def test_list_rejects_bad_parameters_with_located_errors(api, runs, world, query, field):
    _token, raw = create_token(world.member, "ci")
    response = api.get(reverse("api:run-list") + query, **bearer(raw))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_list_needs_a_token(api, runs):
    assert api.get(reverse("api:run-list")).status_code == 401


# --- the tokens page ----------------------------------------------------------------------


def test_tokens_page_lists_only_own_tokens(client, world):
    create_token(world.member, "pipeline")
    create_token(world.owner, "owner-secret-name")
    client.force_login(world.member)
    response = client.get(reverse("validation:api-tokens"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "pipeline" in html and "owner-secret-name" not in html
    assert "<html" in html


def test_creating_a_token_shows_it_once_and_it_works(member_client, api, run, world):
    response = member_client.post(reverse("validation:api-tokens"), {"name": "训练流水线"}, **HTMX)
    assert response.status_code == 201
    token = ApiToken.objects.get(user=world.member)
    html = response.content.decode()
    raw = html.split("data-token>")[1].split("<")[0]
    assert hashlib.sha256(raw.encode()).hexdigest() == token.token_hash
    assert 'id="api-tokens"' in html and "<html" not in html
    assert raw not in member_client.get(reverse("validation:api-tokens")).content.decode()
    assert api.get(detail_url(run), **bearer(raw)).status_code == 200


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_token_name_is_required_and_bounded(member_client, world, name):
    response = member_client.post(reverse("validation:api-tokens"), {"name": name}, **HTMX)
    assert response.status_code == 422
    assert 'class="errorlist' in response.content.decode()
    assert not ApiToken.objects.exists()


def test_token_name_must_be_new_among_active_tokens(client, world):
    create_token(world.member, "ci")
    client.force_login(world.member)
    response = client.post(reverse("validation:api-tokens"), {"name": "ci"})
    assert response.status_code == 422
    assert ApiToken.objects.count() == 1


def test_revoking_a_token_stops_it(client, api, run, world):
    token, raw = create_token(world.member, "ci")
    client.force_login(world.member)
    url = reverse("validation:api-token-revoke", args=[token.pk])
    response = client.post(url, **HTMX)
    assert response.status_code == 200
    assert "revoked" in response.content.decode()
    assert api.get(detail_url(run), **bearer(raw)).status_code == 401
    assert client.post(url).status_code == 302


def test_revoking_another_users_token_is_404(client, world):
    token, _raw = create_token(world.owner, "ci")
    client.force_login(world.outsider)
    response = client.post(reverse("validation:api-token-revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert not token.revoked


def test_tokens_page_methods(client, world):
    token, _raw = create_token(world.member, "ci")
    client.force_login(world.member)
    assert client.put(reverse("validation:api-tokens")).status_code == 405
    revoke = reverse("validation:api-token-revoke", args=[token.pk])
    assert client.get(revoke).status_code == 405


def test_tokens_page_needs_login(client):
    response = client.get(reverse("validation:api-tokens"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_create_api_token_command_prints_a_working_token(api, run, world):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "member", "nightly", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert ApiToken.objects.get(user=world.member, name="nightly").prefix == raw[:8]
    assert raw not in err.getvalue()
    assert api.get(detail_url(run), **bearer(raw)).status_code == 200


@pytest.mark.parametrize(
    ("args", "message"), [(["nobody", "x"], "no user"), (["member", " "], "NAME")]
)
def test_create_api_token_command_refuses_bad_input(world, args, message):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", *args, stdout=io.StringIO(), stderr=io.StringIO())
