"""Each image's line decision stored with the run (ImageDecision), worst first within an outcome.

The run of test_line_decision_outputs (its docstring works the six images out by hand):
I0 caught, I1 escape, I2 caught by chance, I3 pass, I4 overkill, I5 pass.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from projects.models import Annotation, Label
from tests import run_builders
from tests.validation.test_line_decision_outputs import PER_IMAGE, add_line_images
from validation.models import ImageDecision, InferenceRun
from validation.runs.start import reevaluate_run

pytestmark = pytest.mark.django_db

Outcome = ImageDecision.Outcome


def decisions(run: InferenceRun) -> list[tuple[int, int, bool, float]]:
    """(image position, outcome, by chance, severity) in run order."""
    order = {pk: i for i, pk in enumerate(run_builders.validation_image_ids(run.project))}
    rows = ImageDecision.objects.filter(run=run).values_list(
        "image_id", "outcome", "by_chance", "severity"
    )
    return sorted((order[image], o, c, s) for image, o, c, s in rows)


@pytest.fixture
def line_run(world) -> InferenceRun:
    add_line_images(world.project)
    return run_builders.evaluated_run(
        world.project, world.model, world.owner, PER_IMAGE, reject_labels=["scratch", "crack"]
    )


def test_every_evaluated_image_has_its_outcome_and_they_add_up_to_the_totals(line_run):
    rows = decisions(line_run)
    assert [(i, o, c) for i, o, c, _s in rows] == [
        (0, Outcome.CAUGHT, False),
        (1, Outcome.ESCAPE, False),
        (2, Outcome.CAUGHT, True),
        (3, Outcome.PASS, False),
        (4, Outcome.OVERKILL, False),
        (5, Outcome.PASS, False),
    ]
    totals = line_run.line_decision
    counts = {o: sum(1 for r in rows if r[1] == o) for o in Outcome}
    assert (
        counts[Outcome.CAUGHT],
        counts[Outcome.ESCAPE],
        counts[Outcome.OVERKILL],
        counts[Outcome.PASS],
    ) == (
        totals["caught"],
        totals["escapes"],
        totals["overkills"],
        totals["passes"],
    )
    assert sum(counts.values()) == totals["total"]


def test_severity_ranks_each_outcome_worst_first(line_run, world):
    rows = {i: s for i, _o, _c, s in decisions(line_run)}
    areas = [
        (a.x2 - a.x1) * (a.y2 - a.y1)
        for a in Annotation.objects.filter(
            image_id=run_builders.validation_image_ids(world.project)[1],
            label__name__in=["scratch", "crack"],
        )
    ]
    assert rows[1] == pytest.approx(max(areas))  # escape: its largest reject-label annotation
    assert rows[4] == pytest.approx(0.9)  # overkill: its highest kept reject-label score
    assert (rows[0], rows[2]) == (0.0, 1.0)  # caught: by chance first
    assert rows[5] == pytest.approx(0.1)  # pass: its nearest reject-label score (dropped)
    assert rows[3] == 0.0  # a pass with only a tolerated label's prediction


def test_a_skipped_image_has_no_row(world):
    add_line_images(world.project)
    image_ids = run_builders.validation_image_ids(world.project)
    preds = run_builders.stored_predictions(image_ids, PER_IMAGE)
    skipped = dataclasses.replace(preds, skipped_ids=np.array([image_ids[4]], dtype=np.int64))
    run = run_builders.new_completed_run(world.project, world.model, world.owner)
    run = run_builders.evaluate(run, skipped)
    assert [i for i, *_ in decisions(run)] == [0, 1, 2, 3, 5]


def test_reevaluation_replaces_the_rows(line_run, world):
    scratch = Label.objects.get(project=world.project, name="scratch")
    image_ids = run_builders.validation_image_ids(world.project)
    Annotation.objects.create(image_id=image_ids[4], label=scratch, x1=100, y1=180, x2=140, y2=220)
    reevaluate_run(line_run)
    rows = decisions(line_run)
    assert len(rows) == 6
    assert rows[4][1] == Outcome.CAUGHT
