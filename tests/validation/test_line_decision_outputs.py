"""The line decision (SPEC §9) stored with a run and carried out: run JSON, export_run, the API.

A small run computed by hand. The world's three images are annotated scratch, dent and crack;
three more are added: two without annotations, one with a dent only. Reject labels: scratch and
crack (dent and 划痕 are tolerated). IoU 0.5, base confidence 0.25. Per image:

- I0 (scratch, dent, crack): a scratch on the scratch -> NG called NG: caught;
- I1 (scratch, dent, crack): a dent on the dent only (dent rejects nothing) -> escape;
- I2 (scratch, dent, crack): a scratch on the background -> caught, by chance (no reject-label
  annotation taken);
- I3 (none): a 划痕 -> OK called OK: pass;
- I4 (none): a scratch -> overkill;
- I5 (dent): a scratch at 0.1, below the base (dropped) -> pass.

Totals: 6 images, 3 actually NG (I0-I2), 3 OK; caught 2, escapes 1, overkills 1, passes 2,
caught by chance 1; escape rate 1/3, overkill rate 1/3.
"""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from projects.models import Annotation, Label
from tests import run_builders
from tests.validation.run_world import add_image
from validation.analysis import exports
from validation.analysis.evaluation import Thresholds
from validation.api.tokens import create_token
from validation.models import InferenceRun
from validation.runs.derive import save_as_new_run
from validation.runs.start import reevaluate_run

pytestmark = pytest.mark.django_db

SCRATCH, DENT, HUAHEN = 0, 1, 2
ON_SCRATCH, ON_DENT, ELSEWHERE = (20, 20, 80, 70), (150, 100, 200, 160), (100, 180, 140, 220)
PER_IMAGE = [
    [(ON_SCRATCH, SCRATCH, 0.9)],
    [(ON_DENT, DENT, 0.7)],
    [(ELSEWHERE, SCRATCH, 0.6)],
    [(ELSEWHERE, HUAHEN, 0.8)],
    [(ELSEWHERE, SCRATCH, 0.9)],
    [(ON_SCRATCH, SCRATCH, 0.1)],
]
IMAGES = {
    "total": 6,
    "actual_ng": 3,
    "actual_ok": 3,
    "caught": 2,
    "escapes": 1,
    "overkills": 1,
    "passes": 2,
    "caught_by_chance": 1,
    "escape_rate": 1 / 3,
    "overkill_rate": 1 / 3,
    "reject_labels": ["scratch", "crack"],
}


def outcomes(caught, escapes, overkills, passes, by_chance) -> dict:
    """The ten per-label totals from the four outcomes, rates worked out by hand below."""
    ng, ok = caught + escapes, overkills + passes
    return {
        "total": ng + ok,
        "actual_ng": ng,
        "actual_ok": ok,
        "caught": caught,
        "escapes": escapes,
        "overkills": overkills,
        "passes": passes,
        "caught_by_chance": by_chance,
    }


# Per label, the reject set ignored: truth "has an annotation c", decision "a kept prediction c".
PER_LABEL = {
    # annotated I0-I2, predicted I0, I2 (background: by chance), I4.
    "scratch": {**outcomes(2, 1, 1, 2, 1), "escape_rate": 1 / 3, "overkill_rate": 1 / 3},
    # annotated I0-I2 and I5, predicted I1 only.
    "dent": {**outcomes(1, 3, 0, 2, 0), "escape_rate": 3 / 4, "overkill_rate": 0.0},
    # never annotated, predicted I3.
    "划痕": {**outcomes(0, 0, 1, 5, 0), "escape_rate": None, "overkill_rate": 1 / 6},
    # annotated I0-I2, never predicted.
    "crack": {**outcomes(0, 3, 0, 3, 0), "escape_rate": 1.0, "overkill_rate": 0.0},
}


def add_line_images(project) -> None:
    """I3 and I4 without annotations, I5 with a dent only."""
    task = project.tasks.get(is_validation=True)
    for i in (3, 4, 5):
        image = add_image(task, f"图像_{i:02d}.png", seed=i)
    dent = Label.objects.get(project=project, name="dent")
    Annotation.objects.create(image=image, label=dent, x1=150, y1=100, x2=200, y2=160)


@pytest.fixture
def line_run(world) -> InferenceRun:
    add_line_images(world.project)
    return run_builders.evaluated_run(
        world.project,
        world.model,
        world.owner,
        PER_IMAGE,
        reject_labels=["scratch", "crack"],
    )


def assert_images(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for key, want in expected.items():
        if isinstance(want, float):
            assert actual[key] == pytest.approx(want, abs=1e-12), key
        else:
            assert actual[key] == want, key


def test_the_run_stores_its_line_decision_and_per_label_outcomes(line_run):
    assert set(line_run.line_decision) == run_builders.LINE_DECISION_KEYS
    assert_images({**line_run.line_decision, "reject_labels": ["scratch", "crack"]}, IMAGES)
    for name, expected in PER_LABEL.items():
        assert_images(line_run.per_label[name]["images"], expected)


def test_run_results_carry_the_images_object_and_per_label_images(line_run):
    results = exports.run_results(line_run)
    assert_images(results["images"], IMAGES)
    for name, expected in PER_LABEL.items():
        assert_images(results["per_label"][name]["images"], expected)
    assert json.loads(json.dumps(results))["per_label"]["划痕"]["images"]["escape_rate"] is None


def test_export_run_json_carries_the_images_object_and_the_reject_labels(line_run):
    out = io.StringIO()
    call_command("export_run", str(line_run.pk), "--format", "json", stdout=out)
    doc = json.loads(out.getvalue())
    assert_images(doc["images"], IMAGES)
    assert doc["settings"]["reject_labels"] == ["scratch", "crack"]


def test_the_api_carries_the_images_object_in_detail_and_list(line_run, world):
    _token, raw = create_token(world.member, "ci")
    api, headers = Client(), {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    detail = api.get(reverse("api:run-detail", args=[line_run.pk]), **headers).json()
    assert_images(detail["images"], IMAGES)
    assert_images(detail["per_label"]["dent"]["images"], PER_LABEL["dent"])
    listed = api.get(reverse("api:run-list"), **headers).json()["results"]
    assert_images(next(r for r in listed if r["run"] == line_run.pk)["images"], IMAGES)


def test_every_label_rejects_by_default(world):
    add_line_images(world.project)
    run = run_builders.evaluated_run(world.project, world.model, world.owner, PER_IMAGE)
    images = exports.run_results(run)["images"]
    # I3 (a 划痕 on an unannotated image) is now an overkill; I5 (a dent) an escape.
    assert (images["caught"], images["escapes"], images["overkills"], images["passes"]) == (
        3,
        1,
        2,
        0,
    )
    assert images["reject_labels"] == ["scratch", "dent", "划痕", "crack"]


def test_a_skipped_image_counts_nowhere(world):
    add_line_images(world.project)
    image_ids = run_builders.validation_image_ids(world.project)
    preds = run_builders.stored_predictions(image_ids, PER_IMAGE)
    skipped = dataclasses.replace(preds, skipped_ids=np.array([image_ids[4]], dtype=np.int64))
    run = run_builders.new_completed_run(
        world.project, world.model, world.owner, reject_labels=["scratch", "crack"]
    )
    run = run_builders.evaluate(run, skipped)
    expected = {**IMAGES, "total": 5, "actual_ok": 2, "overkills": 0, "overkill_rate": 0.0}
    assert_images(exports.run_results(run)["images"], expected)


def test_a_run_without_results_has_no_images_object(world):
    run = run_builders.new_run(world.project, world.model, world.owner)
    assert exports.run_results(run)["images"] is None


def test_a_whatif_saved_as_a_run_keeps_the_reject_labels(line_run, world):
    derived = save_as_new_run(line_run, Thresholds.of_run(line_run), world.owner)
    assert derived.reject_labels == ["scratch", "crack"]
    assert derived.line_decision == line_run.line_decision


def test_reevaluation_keeps_the_reject_labels_and_updates_the_line_decision(line_run, world):
    scratch = Label.objects.get(project=world.project, name="scratch")
    image_ids = run_builders.validation_image_ids(world.project)
    Annotation.objects.create(image_id=image_ids[4], label=scratch, x1=100, y1=180, x2=140, y2=220)
    reevaluate_run(line_run)
    line_run.refresh_from_db()
    # I4's scratch is now on a scratch: caught, no longer an overkill.
    assert line_run.reject_labels == ["scratch", "crack"]
    assert (line_run.line_decision["caught"], line_run.line_decision["overkills"]) == (3, 0)
    assert line_run.line_decision["actual_ng"] == 4


def test_start_run_stores_the_reject_labels_every_label_by_default(
    world, settings, redis_server, flush_redis
):
    settings.REDIS_URL = redis_server
    chosen = run_builders.start_as_the_wizard(
        world.model, world.project, world.owner, reject_labels=["dent"]
    )
    default = run_builders.start_as_the_wizard(world.model, world.project, world.owner)
    assert chosen.reject_labels == ["dent"]
    assert default.reject_labels == []
