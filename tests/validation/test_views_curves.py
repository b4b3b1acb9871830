"""Curves section, recommended confidences, wizard pre-fill and the deployment config."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.urls import reverse

from tests.clients import HTMX
from tests.validation.run_world import make_completed_run
from tests.validation.whatif_world import project_with_validation_task, random_run
from validation.analysis import curves, whatif
from validation.analysis.evaluation import Thresholds
from validation.models import InferenceRun
from validation.views import wizard_state

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_redis", "fresh_whatif_cache")]


@pytest.fixture
def run(world) -> InferenceRun:
    project = project_with_validation_task([world.owner, world.member])
    return random_run(project, world.model, world.owner, images=20, seed=11)


def url(name: str, run: InferenceRun) -> str:
    return reverse(f"validation:{name}", args=[run.pk])


def recommendations(run: InferenceRun, precision: float):
    data, sweep, _op = curves.run_sweep(run)
    return curves.recommend(data, Thresholds.of_run(run), precision, sweep)


# ---------------------------------------------------------------- the curves section


def test_run_page_loads_the_curves_lazily(member_client, run):
    html = member_client.get(run.get_absolute_url()).content.decode()
    assert f'hx-get="{url("run-curves", run)}"' in html
    assert """hx-trigger='toggle from:"closest details" once'""" in html
    assert "curve-card" not in html
    opened = member_client.get(run.get_absolute_url(), {"open": "curves"}).content.decode()
    assert "hx-trigger='load'" in opened.split('id="run-curves"')[1].split(">")[0]


def test_curves_fragment_has_charts_with_hover_values_and_ap(member_client, run):
    response = member_client.get(url("run-curves", run), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="run-curves"')
    assert html.count('class="curve-card"') == len(run.labels)
    assert html.count("<svg") >= 4
    titles = re.findall(r"<title>([^<]+)</title>", html)
    assert any(t.startswith("confidence 0.50 · precision ") for t in titles)
    assert sum(t.startswith("operating point · confidence 0.25") for t in titles) >= 2
    scratch = run.per_label["scratch"]
    assert f"AP50 <b>{scratch['ap50']:.3f}</b>" in html


def test_curves_without_htmx_are_a_page(member_client, run):
    html = member_client.get(url("run-curves", run)).content.decode()
    assert "<html" in html and "curve-card" in html and "Back to the run" in html


def test_curves_outsider_wrong_method_and_unfinished_run(client, world, run):
    client.force_login(world.outsider)
    assert client.get(url("run-curves", run), **HTMX).status_code == 404
    client.force_login(world.member)
    assert client.post(url("run-curves", run), **HTMX).status_code == 405
    by_hand = make_completed_run(world.project, world.model, world.owner)  # no predictions
    assert client.get(url("run-curves", by_hand), **HTMX).status_code == 404


# ---------------------------------------------------------------- recommendations


def test_recommendations_sit_next_to_the_current_confidences(member_client, run):
    html = member_client.get(
        url("run-recommended", run), {"precision": "0.5"}, **HTMX
    ).content.decode()
    assert html.lstrip().startswith('<section id="run-recommended"')
    for rec in recommendations(run, 0.5):
        row = html.split(f'<tr data-label="{rec.label}">')[1].split("</tr>")[0]
        assert "0.25" in row  # the current confidence
        if rec.f1_confidence is not None:
            assert f'data-basis="f1">{rec.f1_confidence}<' in row
        if rec.precision_confidence is not None:
            assert f'data-basis="precision">{rec.precision_confidence}<' in row
        else:
            assert "not reachable" in row


def test_unreachable_precision_says_so(member_client, run):
    html = member_client.get(
        url("run-recommended", run), {"precision": "1"}, **HTMX
    ).content.decode()
    unreachable = [r for r in recommendations(run, 1.0) if r.precision_confidence is None]
    assert html.count("not reachable") == len(unreachable) > 0


@pytest.mark.parametrize("value", ["1.5", "-0.1", "high", "nan"])
def test_invalid_precision_is_refused_with_a_message(member_client, run, value):
    response = member_client.get(url("run-recommended", run), {"precision": value}, **HTMX)
    assert response.status_code == 422
    assert "The minimum precision must be a number between 0 and 1." in response.content.decode()


def test_try_in_whatif_links_carry_the_recommended_thresholds(member_client, run):
    html = member_client.get(
        url("run-recommended", run), {"precision": "0.5"}, **HTMX
    ).content.decode()
    base, own = curves.proposal(recommendations(run, 0.5), "f1", run.base_confidence)
    links = re.findall(r'href="([^"]*wi_base=[^"]*)"', html)
    assert len(links) == 2
    page = member_client.get(links[0].replace("&amp;", "&")).content.decode()
    assert "whatif-banner" in page
    for name, value in own.items():
        assert re.search(rf'name="wi_lc.{re.escape(name)}"[^>]*\s+value="{value}"', page)


# ---------------------------------------------------------------- use in a new run


def test_use_in_a_new_run_fills_the_wizard_and_opens_step_2(member_client, run):
    response = member_client.post(
        url("run-recommended-use", run), {"basis": "precision", "precision": "0.5"}, **HTMX
    )
    assert response.status_code == 200
    session = member_client.session
    wizard = wizard_state.current(session)
    assert response.headers["HX-Redirect"] == reverse("validation:wizard-step2", args=[wizard])
    step1 = wizard_state.load(session, 1)
    assert step1 == {
        "process": str(run.process_id),
        "model": str(run.model_id),
        "project": str(run.project_id),
    }
    base, own = curves.proposal(recommendations(run, 0.5), "precision", run.base_confidence)
    assert own  # the random run has labels with a recommendation
    step2 = wizard_state.load(session, 2)
    assert step2["tab"] == "source" and float(step2["base_confidence"]) == base
    assert json.loads(step2["label_confidences"] or "{}") == own
    assert wizard_state.load(session, 3)["iou_threshold"] == whatif.number(run.iou_threshold)
    step2_url = reverse("validation:wizard-step2", args=[wizard])
    page = html.unescape(member_client.get(step2_url).content.decode())
    assert re.search(rf'name="base_confidence"[^>]*value="{base}"', page)
    for name, value in own.items():
        assert f'"{name}": {value}' in page


def test_use_in_a_new_run_without_htmx_redirects(member_client, run):
    response = member_client.post(url("run-recommended-use", run), {"basis": "f1"})
    wizard = wizard_state.current(member_client.session)
    assert response.status_code == 302
    assert response.url == reverse("validation:wizard-step2", args=[wizard])


def test_use_refuses_a_bad_basis_or_precision(member_client, run):
    assert member_client.post(url("run-recommended-use", run), {"basis": "x"}).status_code == 404
    response = member_client.post(
        url("run-recommended-use", run), {"basis": "precision", "precision": "2"}, **HTMX
    )
    assert response.status_code == 422
    assert wizard_state.load(member_client.session, 1) == {}


def test_use_wrong_method_and_outsider(client, world, run):
    client.force_login(world.member)
    assert client.get(url("run-recommended-use", run)).status_code == 405
    client.force_login(world.outsider)
    assert client.post(url("run-recommended-use", run), {"basis": "f1"}).status_code == 404


# ---------------------------------------------------------------- deployment config


def test_deployment_config_is_a_json_attachment(member_client, run):
    response = member_client.get(url("run-deployment-config", run), {"basis": "f1"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith("attachment; filename=")
    config = json.loads(response.content)
    base, own = curves.proposal(recommendations(run, 0.9), "f1", run.base_confidence)
    assert config["labels"] == run.model.label_names
    assert config["confidences"] == {n: own.get(n, base) for n in run.model.label_names}
    assert (config["base_confidence"], config["iou_threshold"], config["image_size"]) == (
        base,
        run.iou_threshold,
        run.image_size,
    )
    assert config["created_from_run"] == run.pk and config["model"] == run.model.name
    assert all(v >= base for v in config["confidences"].values())


def test_deployment_config_refuses_bad_input_and_outsiders(client, world, run):
    client.force_login(world.member)
    assert client.get(url("run-deployment-config", run), {"basis": "nope"}).status_code == 404
    bad = client.get(url("run-deployment-config", run), {"basis": "precision", "precision": "x"})
    assert bad.status_code == 400 and "between 0 and 1" in bad.json()["error"]
    assert client.post(url("run-deployment-config", run)).status_code == 405
    client.force_login(world.outsider)
    assert client.get(url("run-deployment-config", run)).status_code == 404
