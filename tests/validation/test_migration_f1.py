"""The data migration that rewrites stored F1 values by SPEC §5."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from tests.validation.run_world import make_completed_run, make_model, make_project
from validation.models import InferenceRun, Process

migration = importlib.import_module("validation.migrations.0006_f1_as_spec_5")


def _old_style(tp, predictions, annotations, f1):
    return {"tp": tp, "predictions": predictions, "annotations": annotations, "f1": f1}


@pytest.mark.django_db
def test_stored_f1_of_never_predicted_labels_becomes_zero(django_user_model):
    owner = django_user_model.objects.create_user("owner")
    run = make_completed_run(
        make_project([owner]), make_model(Process.objects.create(name="p")), owner
    )
    run.per_label = {
        "scratch": _old_style(4, 5, 5, 0.8),
        "dent": _old_style(0, 0, 3, None),  # annotated, never predicted: was "—"
        "stain": _old_style(0, 2, 0, None),  # predicted, never annotated: was "—"
        "crack": _old_style(0, 0, 0, None),  # neither: stays undefined
    }
    run.f1 = 0.8
    run.save()

    migration.recompute_f1(apps, None)

    run = InferenceRun.objects.get(pk=run.pk)
    f1 = {name: m["f1"] for name, m in run.per_label.items()}
    assert f1 == {"scratch": 0.8, "dent": 0.0, "stain": 0.0, "crack": None}
    assert run.f1 == pytest.approx(2 * 4 / (7 + 8))


@pytest.mark.django_db
def test_runs_without_counts_are_left_alone(django_user_model):
    owner = django_user_model.objects.create_user("owner")
    run = make_completed_run(
        make_project([owner]), make_model(Process.objects.create(name="p")), owner
    )
    run.per_label, run.f1 = {"scratch": {"f1": 0.5}}, 0.5
    run.save()

    migration.recompute_f1(apps, None)

    run = InferenceRun.objects.get(pk=run.pk)
    assert run.per_label == {"scratch": {"f1": 0.5}} and run.f1 == 0.5
