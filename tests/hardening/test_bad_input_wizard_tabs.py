"""Two wizard tabs of one login: each starts the run it shows, never the other tab's (issue 14)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.clients import HTMX
from tests.hardening.bad_input import Outcome, record
from tests.run_builders import STEP3_FIELDS
from tests.validation.run_world import make_project
from validation.models import InferenceRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def tabs(owner_client, world, settings, redis_server):
    """One logged-in session, a second project, and the two tabs' settings."""
    settings.REDIS_URL = redis_server
    second = make_project([world.owner], name="second-project", images=2)
    a = {"project": world.project, "base": "0.3", "own": {"scratch": 0.4}}
    b = {"project": second, "base": "0.6", "own": {"dent": 0.9}}
    return owner_client, world, a, b


def open_wizard(client) -> dict[int, str]:
    """The + button, as a new tab does: the new wizard's step URLs."""
    wizard = client.get(reverse("validation:wizard-start")).url.split("/")[-4]
    return {n: reverse(f"validation:wizard-step{n}", args=[wizard]) for n in (1, 2, 3)}


def fill(client, steps, world, tab) -> None:
    """Steps 1 and 2 of one tab."""
    step1 = {"process": world.process.pk, "model": world.model.pk, "project": tab["project"].pk}
    assert client.post(steps[1], step1).status_code == 302
    step2 = {
        "base_confidence": tab["base"],
        "tab": "source",
        "label_confidences": json.dumps(tab["own"]),
        "action": "next",
    }
    assert client.post(steps[2], step2).status_code == 302


def start(client, steps, token: str):
    data = {**STEP3_FIELDS, "submission_token": token, "action": "start"}
    return client.post(steps[3], data, **HTMX)


def ran(run: InferenceRun) -> tuple:
    return run.project_id, run.base_confidence, run.label_threshold_map()


def test_step3_of_the_first_tab_runs_its_own_values_after_the_second_tab_filled_its_own(tabs):
    client, world, a, b = tabs
    tab_a, tab_b = open_wizard(client), open_wizard(client)
    fill(client, tab_a, world, a)
    page_a = client.get(tab_a[3]).content.decode()  # tab A shows step 3 ...
    fill(client, tab_b, world, b)  # ... while tab B fills in other values

    response = start(client, tab_a, "token-of-tab-a")
    run = InferenceRun.objects.get()
    outcome = record(Outcome("form", "two-tabs", "wizard step 3"))
    if response.status_code >= 500:
        outcome.server_error = f"HTTP {response.status_code}"
    if ran(run) != (a["project"].pk, 0.3, a["own"]):
        outcome.half_written = f"tab A started {ran(run)}"
    assert outcome.clean, str(outcome)
    assert response["HX-Redirect"] == run.get_absolute_url()
    assert world.project.name in page_a and "second-project" not in page_a

    start(client, tab_b, "token-of-tab-b")
    other = InferenceRun.objects.exclude(pk=run.pk).get()
    assert ran(other) == (b["project"].pk, 0.6, b["own"])


def test_step3_summarises_what_will_run(tabs):
    client, world, a, _b = tabs
    steps = open_wizard(client)
    fill(client, steps, world, a)
    html = client.get(steps[3]).content.decode()
    summary = html.split('class="run-summary"')[1].split("</section>")[0]
    for text in (
        world.process.name,
        world.model.name,
        world.project.name,
        "1 validation tasks, 3 images",
        "0.3",
        '<span class="chip">scratch: 0.4</span>',
    ):
        assert text in summary


def test_a_double_submit_of_one_tab_starts_one_run_and_leaves_the_other_tab_open(tabs):
    client, world, a, b = tabs
    tab_a, tab_b = open_wizard(client), open_wizard(client)
    fill(client, tab_a, world, a)
    fill(client, tab_b, world, b)
    first, second = start(client, tab_a, "same-click"), start(client, tab_a, "same-click")
    run = InferenceRun.objects.get()
    assert first["HX-Redirect"] == second["HX-Redirect"] == run.get_absolute_url()
    assert client.get(tab_a[3]).status_code == 404  # tab A's wizard ended with its run
    assert client.get(tab_b[3]).status_code == 200  # tab B's is untouched
