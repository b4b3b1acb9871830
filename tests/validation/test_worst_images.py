"""Ranking a run's images by their errors: counts per kind, filters by kind and label."""

from __future__ import annotations

import pytest

from tests.validation.compare_world import B_PREDICTIONS, SCRATCH, evaluated_run, model_b
from validation.analysis.worst_images import ERROR_KIND_KEYS, selected_kinds, worst_images
from validation.models import InferenceRun, Instance

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(world) -> InferenceRun:
    """Run b of the comparison world; per image (in id order):

    0: scratch missed, a scratch false alarm → 2 errors;
    1: dent confused as scratch, a dent false alarm, crack missed → 3 errors;
    2: crack missed → 1 error.
    """
    return evaluated_run(world, model_b(world), B_PREDICTIONS)


def names(rows) -> list[str]:
    return [row["image__name"] for row in rows]


def test_images_are_ranked_by_their_errors(run):
    rows = list(worst_images(run))
    assert names(rows) == ["图像_01.png", "图像_00.png", "图像_02.png"]
    worst = rows[0]
    assert (worst["errors"], worst["n_missed"], worst["n_false_alarm"]) == (3, 1, 1)
    assert (worst["n_confusion"], worst["n_loc"]) == (1, 0)
    assert [r["errors"] for r in rows] == [3, 2, 1]


def test_counts_agree_with_the_instances(run):
    error_kinds = [
        Instance.Kind.MISSED,
        Instance.Kind.DUPLICATE,
        Instance.Kind.BACKGROUND,
        Instance.Kind.CONFUSION,
        Instance.Kind.LOC,
    ]
    for row in worst_images(run):
        expected = Instance.objects.filter(
            run=run, image_id=row["image_id"], kind__in=error_kinds
        ).count()
        assert row["errors"] == expected


def test_filter_by_kind_counts_only_that_kind(run):
    rows = list(worst_images(run, ["missed"]))
    assert [r["errors"] for r in rows] == [1, 1, 1]
    assert names(rows) == ["图像_00.png", "图像_01.png", "图像_02.png"]  # ties by name
    assert "n_confusion" not in rows[0]
    confusions = list(worst_images(run, ["confusion"]))
    assert names(confusions) == ["图像_01.png"]


def test_filter_by_label_matches_predicted_or_actual(run):
    dent = run.labels.index("dent")
    rows = list(worst_images(run, label=dent))
    # image 1: the dent predicted as scratch (actual dent) and a dent false alarm (predicted dent)
    assert names(rows) == ["图像_01.png"]
    assert (rows[0]["n_confusion"], rows[0]["n_false_alarm"]) == (1, 1)
    crack = run.labels.index("crack")
    assert names(worst_images(run, ["missed"], label=crack)) == ["图像_01.png", "图像_02.png"]


def test_duplicates_count_as_false_alarms(world):
    twice = {0: [(SCRATCH, 1, 0.95), (SCRATCH, 1, 0.90)]}
    run = evaluated_run(world, model_b(world), twice)
    assert run.instances.filter(kind=Instance.Kind.DUPLICATE).count() == 1
    first = worst_images(run, ["false_alarm"]).first()
    assert first["n_false_alarm"] == 1 and first["image__name"] == "图像_00.png"


def test_no_kind_chosen_means_every_kind():
    assert [k.key for k in selected_kinds([])] == list(ERROR_KIND_KEYS)
    assert [k.key for k in selected_kinds(["loc", "missed", "bogus"])] == ["missed", "loc"]


def test_worst_images_is_one_query(run, django_assert_num_queries):
    with django_assert_num_queries(1):
        list(worst_images(run, ["missed", "confusion"], label=0))
