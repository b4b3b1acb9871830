"""Names that carry HTML or script are shown as text on every page, fragment and admin page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.clients import HTMX
from tests.hardening.xss_world import ESCAPED, RAW, XssWorld, admin_pages, build_xss_world, pages
from validation.models import InferenceRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def xss(owner, member) -> XssWorld:
    return build_xss_world(owner, member)


def _raw_markup(body: str) -> list[str]:
    return [fragment for fragment in RAW if fragment in body]


def test_every_page_shows_the_names_as_text(owner_client, xss):
    problems = []
    for what, url in pages(xss).items():
        for headers in ({}, HTMX):
            response = owner_client.get(url, follow=not headers, **headers)
            body = response.content.decode()
            if response.status_code != 200:
                problems.append(f"{what} {url} {headers}: {response.status_code}")
            if raw := _raw_markup(body):
                problems.append(f"{what} {url} {headers}: raw {raw}")
    assert problems == []


@pytest.mark.parametrize(
    "what",
    ["project", "task", "run (matrix)", "run with a cell open", "compare", "worst images"],
)
def test_the_names_appear_escaped(owner_client, xss, what):
    body = owner_client.get(pages(xss)[what]).content.decode()
    assert any(text in body for text in ESCAPED), what


def test_the_editor_passes_names_as_json_that_cannot_close_its_script(owner_client, xss):
    body = owner_client.get(pages(xss)["editor"]).content.decode()
    assert "\\u003Cimg src=x onerror=alert(1)\\u003E" in body
    assert _raw_markup(body) == []


def test_the_wizard_lists_the_labels_as_text(owner_client, xss):
    step1 = {"process": xss.model.process_id, "model": xss.model.pk, "project": xss.project.pk}
    assert owner_client.post(reverse("validation:wizard-step1"), step1).status_code == 302
    step2 = owner_client.post(
        reverse("validation:wizard-step2"),
        {"base_confidence": "0.3", "tab": "builder", "add": "1", "lc_label": "", "lc_value": ""},
    )
    body = step2.content.decode()
    assert step2.status_code == 200
    assert ESCAPED[0] in body and _raw_markup(body) == []


def test_the_admin_shows_the_names_as_text(client, django_user_model, xss):
    root = django_user_model.objects.create_superuser("root", password="root-pass-123")
    client.force_login(root)
    problems = []
    for what, url in admin_pages(xss).items():
        response = client.get(url)
        if response.status_code != 200:
            problems.append(f"{what}: {response.status_code}")
        if raw := _raw_markup(response.content.decode()):
            problems.append(f"{what}: raw {raw}")
    assert problems == []


def test_a_failed_run_shows_its_reason_as_text(client, owner, xss):
    run = InferenceRun.objects.get(pk=xss.run.pk)
    run.status, run.error_message = InferenceRun.Status.FAILED, f"boom {RAW[1]}=alert(9)>"
    run.save(update_fields=["status", "error_message"])
    client.force_login(owner)
    for url in (reverse("validation:run-detail", args=[run.pk]), reverse("validation:run-list")):
        body = client.get(url).content.decode()
        assert _raw_markup(body) == [], url
