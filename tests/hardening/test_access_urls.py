"""Every URL of the portal, from the resolver: an outsider gets 404/405 and changes nothing.

New patterns are covered without editing this file, unless they take an argument no object is
known for (see access_world.KWARG_BUILDERS) or are object-free pages not classified below.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.hardening.access_world import (
    APP_NAMESPACES,
    METHODS,
    AccessWorld,
    all_patterns,
    app_patterns,
    changes,
    db_state,
    file_state,
    victim_values,
)
from validation.models import InferenceRun

pytestmark = pytest.mark.django_db

FIGURES: list[str] = []

# Pages without an object in their path: the outsider may open them; the ones that take an
# object id in their query get it here (a run of another project must not show through).
OBJECT_FREE = {
    "projects:project-list": lambda w: {"q": w.project.name},
    "validation:run-list": lambda w: {"project": w.project.pk, "model": w.run.model_id},
    "validation:model-library": lambda w: {},
    "validation:wizard-start": lambda w: {},
    "validation:wizard-step1": lambda w: {},
    "validation:wizard-step2": lambda w: {},
    "validation:wizard-step3": lambda w: {},
    "validation:wizard-models": lambda w: {"process": w.run.process_id},
    "validation:wizard-project-summary": lambda w: {"project": w.project.pk},
    "validation:run-compare": lambda w: {"a": w.run.pk, "b": w.other_run.pk},
    "validation:api-tokens": lambda w: {},
    "api:run-list": lambda w: {"project": w.project.pk},
}
# Object-free pages that must refuse the victim's ids in their query with 404.
QUERY_404 = {"validation:wizard-project-summary", "validation:run-compare"}


def _request(client: Client, method: str, url: str, data=None, **headers):
    call = getattr(client, method.lower())
    if method in ("GET", "HEAD", "OPTIONS"):
        return call(url, data or {}, headers=headers)
    return call(url, data or {}, content_type="application/x-www-form-urlencoded", headers=headers)


def _state() -> tuple[dict, dict]:
    return db_state(), file_state(Path(settings.MEDIA_ROOT))


def _api_headers(access: AccessWorld, pattern) -> dict[str, str]:
    if pattern.namespace == "api":
        return {"Authorization": f"Bearer {access.outsider_token_raw}"}
    return {}


def test_the_resolver_lists_every_app_page():
    names = {p.name for p in app_patterns()}
    assert {"validation:run-detail", "validation:run-cell", "projects:image-editor"} <= names
    assert {"api:run-detail", "validation:instance-crop", "validation:api-token-revoke"} <= names


def test_every_app_pattern_has_its_objects_or_is_classified(access):
    """A forgotten pattern fails here rather than being skipped by the tests below."""
    problems = []
    for pattern in app_patterns():
        if pattern.kwargs:
            try:
                victim_values(access, pattern)
            except KeyError as exc:
                problems.append(str(exc))
        elif pattern.name not in OBJECT_FREE:
            problems.append(f"{pattern.name}: object-free page not classified in OBJECT_FREE")
    assert problems == []


def test_an_outsider_gets_404_or_405_on_every_object_url_with_every_method(client, access):
    client.force_login(access.world.outsider)
    before = _state()
    failures, requests, urls = [], 0, 0
    for pattern in app_patterns():
        if not pattern.kwargs:
            continue
        url = pattern.url(victim_values(access, pattern))
        urls += 1
        statuses = {}
        for method in METHODS:
            response = _request(client, method, url, **_api_headers(access, pattern))
            requests += 1
            statuses[method] = response.status_code
            if response.status_code not in (404, 405):
                failures.append(f"{method} {url} ({pattern.name}): {response.status_code}")
        if 404 not in statuses.values():
            failures.append(f"{url} ({pattern.name}): no method reached the access check")
    after = _state()
    assert failures == []
    assert changes(before[0], after[0]) == []
    assert changes(before[1], after[1]) == []
    FIGURES.append(
        f"{urls} object URL patterns × {len(METHODS)} methods × outsider = {requests} requests: "
        "all 404/405, nothing changed (rows and files)"
    )
    print(FIGURES[-1])


def test_the_outsider_cannot_reach_victim_objects_through_their_own_run(client, access):
    """Their own run's id in the path, the victim's image / instance / cell / token after it."""
    client.force_login(access.world.outsider)
    before = _state()
    failures = []
    for pattern in app_patterns():
        extra = [k for k in pattern.kwargs if k not in ("pk", "row", "col")]
        if "pk" not in pattern.kwargs or not extra or not pattern.route.startswith("runs/"):
            continue
        values = victim_values(access, pattern)
        values["pk"] = access.outsider_run.pk
        response = _request(client, "GET", pattern.url(values))
        if response.status_code not in (404, 405):
            failures.append(f"GET {pattern.url(values)}: {response.status_code}")
    assert failures == []
    assert changes(before[0], _state()[0]) == []


def test_object_ids_in_queries_do_not_show_another_project(client, access):
    client.force_login(access.world.outsider)
    before = _state()
    failures = []
    victim_links = [f"/projects/{access.project.pk}/", f"/runs/{access.run.pk}/"]
    for pattern in app_patterns():
        if pattern.kwargs:
            continue
        query = OBJECT_FREE[pattern.name](access)
        response = client.get(pattern.url({}), query, headers=_api_headers(access, pattern))
        status = response.status_code
        if pattern.name in QUERY_404:
            if status != 404:
                failures.append(f"GET {pattern.name} {query}: {status}, expected 404")
            continue
        shown = [link for link in victim_links if link in response.content.decode()]
        if status >= 500 or shown:
            failures.append(f"GET {pattern.name} {query}: {status} links to {shown}")
    assert failures == []
    assert changes(before[0], _state()[0]) == []


def test_the_api_answers_the_outsider_with_nothing_of_the_victim(client, access):
    headers = {"Authorization": f"Bearer {access.outsider_token_raw}"}
    listing = client.get("/api/runs/", {"project": access.project.pk}, headers=headers)
    detail = client.get(f"/api/runs/{access.run.pk}/", headers=headers)
    assert listing.status_code == 200 and listing.json()["count"] == 0
    assert detail.status_code == 404 and detail["Content-Type"].startswith("application/json")


def test_anonymous_is_sent_to_login_and_the_api_answers_401(client, access):
    before = _state()
    failures, requests = [], 0
    for pattern in app_patterns():
        url = pattern.url(victim_values(access, pattern) if pattern.kwargs else {})
        for method in METHODS:
            response = _request(client, method, url)
            requests += 1
            status = response.status_code
            if pattern.namespace == "api":
                expected = 401 if method in ("GET", "HEAD") else 405
                ok = status == expected
            else:
                location = response.get("Location", "")
                ok = status == 302 and location.startswith("/login/?next=")
            if not ok:
                failures.append(f"{method} {url}: {status} {response.get('Location', '')}")
    assert failures == []
    assert changes(before[0], _state()[0]) == []
    FIGURES.append(
        f"{len(app_patterns())} app URL patterns × {len(METHODS)} methods × anonymous = "
        f"{requests} requests: all sent to login (API: 401, or 405 for methods it never allows)"
    )
    print(FIGURES[-1])


def _admin_values(access: AccessWorld) -> dict[str, object]:
    """Arguments of admin and RQ dashboard URLs: real ids where there are any."""
    return {
        "object_id": access.project.pk,
        "id": access.world.owner.pk,
        "content_type_id": 1,
        "app_label": "projects",
        "queue_index": 0,
        "scheduler_index": 0,
        "connection_index": 0,
        "job_id": "job",
        "result_id": "result",
        "key": "worker",
        "scheduler_name": "scheduler",
        "cron_job_name": "job",
        "token": "token",
        "url": "no/such/page/",
    }


def test_admin_and_the_rq_dashboard_refuse_non_staff_and_anonymous(client, access):
    """Every admin and django-rq pattern: no page, only a way to the login."""
    values = _admin_values(access)
    before = _state()
    outsider = Client()
    outsider.force_login(access.world.owner)  # a project member, not staff
    failures, requests = [], 0
    patterns = [p for p in all_patterns() if p.route.startswith(("admin/", "django-rq/"))]
    for pattern in patterns:
        url = pattern.url(values)
        if pattern.name in ("admin:login", "admin:logout", "admin:jsi18n"):
            continue  # the way in (and out), and the admin's JavaScript catalogue
        for who, user_client in (("anonymous", client), ("member", outsider)):
            for method in METHODS:
                response = _request(user_client, method, url)
                requests += 1
                location = response.get("Location", "")
                refused = response.status_code in (401, 403, 404, 405) or (
                    response.status_code == 302 and "login" in location
                )
                if not refused:
                    failures.append(f"{who} {method} {url}: {response.status_code} {location}")
    assert failures == []
    assert changes(before[0], _state()[0]) == []
    FIGURES.append(
        f"{len(patterns) - 3} admin and RQ dashboard URL patterns × {len(METHODS)} methods × "
        f"(anonymous, non-staff member) = {requests} requests: all refused or sent to login"
    )
    print(FIGURES[-1])


def test_every_pattern_is_of_a_known_kind():
    """App pages, admin, the RQ dashboard, login/logout and the language switch: nothing else."""
    known = ("admin/", "django-rq/", "login/", "logout/", "i18n/")
    stray = [
        p.route
        for p in all_patterns()
        if p.namespace not in APP_NAMESPACES and not p.route.startswith(known)
    ]
    if settings.DEBUG:
        stray = [r for r in stray if not r.startswith(settings.MEDIA_URL.lstrip("/"))]
    assert stray == []


def test_zz_print_access_figures(capsys):
    with capsys.disabled():
        for line in FIGURES:
            print(f"\n[access] {line}")
    assert all(("nothing changed" in f or "refused" in f or "login" in f) for f in FIGURES)


def test_a_run_of_the_outsider_stays_reachable_by_them(client, access):
    """The 404s above are about ownership: the same URLs work on the outsider's own run."""
    client.force_login(access.world.outsider)
    run = InferenceRun.objects.get(pk=access.outsider_run.pk)
    assert client.get(f"/runs/{run.pk}/").status_code == 200
    assert client.get(f"/runs/{run.pk}/export/run.json").status_code == 200
