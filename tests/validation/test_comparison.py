"""Comparing two runs evaluated by metrics_rs: metrics, matrix difference, annotations followed."""

from __future__ import annotations

import numpy as np
import pytest

from projects.models import Annotation, Label
from tests.run_builders import new_run
from tests.validation.compare_world import (
    A_PREDICTIONS,
    B_PREDICTIONS,
    DENT,
    SCRATCH,
    evaluated_run,
    model_b,
    run_pair,
)
from tests.validation.run_world import World
from validation.analysis import comparison as cmp
from validation.models import InferenceRun, Instance
from validation.presenters.changes import annotation_items, instance_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(world) -> tuple[InferenceRun, InferenceRun]:
    return run_pair(world)


def annotation_of(world: World, position: int, label: str) -> Annotation:
    image = world.project.validation_images().order_by("id")[position]
    return Annotation.objects.get(image=image, label__name=label)


# ---------------------------------------------------------------- which runs compare


def test_runs_of_one_project_both_completed_are_comparable(pair):
    assert cmp.comparability_problem(*pair) is None


def test_a_run_is_not_compared_with_itself(pair):
    a, _b = pair
    assert "two different runs" in cmp.comparability_problem(a, a)


def test_runs_of_different_projects_are_refused_naming_both(world, pair):
    a, _b = pair
    other = new_run(
        world.foreign_project, world.model, status=InferenceRun.Status.COMPLETED, matrix=[[0]]
    )
    problem = cmp.comparability_problem(a, other)
    assert "same project" in problem
    assert world.project.name in problem and "foreign" in problem
    with pytest.raises(cmp.NotComparable):
        cmp.check_comparable(a, other)


@pytest.mark.parametrize("status", ["queued", "running", "failed", "cancelled"])
def test_a_run_without_results_is_refused(world, pair, status):
    a, b = pair
    InferenceRun.objects.filter(pk=b.pk).update(status=status)
    b.refresh_from_db()
    problem = cmp.comparability_problem(a, b)
    assert f"#{b.pk}" in problem and "only completed runs" in problem


# ---------------------------------------------------------------- metrics


def test_metric_deltas_are_b_minus_a_with_their_direction(pair):
    a, b = pair
    deltas = cmp.run_metric_deltas(a, b)
    assert set(deltas) == {"f1", "precision", "recall", "map50", "map50_95"}
    assert deltas["f1"].change == pytest.approx(b.f1 - a.f1)
    assert b.f1 < a.f1 and deltas["f1"].direction == "worse"
    assert a.recall == b.recall == pytest.approx(5 / 9) and deltas["recall"].direction == "same"
    assert deltas["precision"].direction == "worse"


def test_undefined_and_equal_deltas():
    assert cmp.Delta(None, 0.5).change is None and cmp.Delta(None, 0.5).direction == ""
    assert cmp.Delta(0.5, 0.5).direction == "same"
    assert cmp.Delta(3, 1, higher_is_better=False).direction == "better"


def test_label_rows_cover_both_runs_labels_aligned_by_name(pair):
    a, b = pair
    rows = {row.name: row for row in cmp.label_deltas(a, b)}
    assert list(rows) == ["scratch", "dent", "划痕", "crack"]  # a's order
    crack = rows["crack"]
    # Run a's model cannot predict crack: recall 0; run b finds one of three.
    assert crack.metrics["recall"].a == 0 and crack.metrics["recall"].b == pytest.approx(1 / 3)
    assert crack.metrics["recall"].direction == "better"
    assert rows["scratch"].metrics["f1"].a == a.per_label["scratch"]["f1"]
    assert rows["scratch"].metrics["f1"].b == b.per_label["scratch"]["f1"]


def test_a_label_run_a_never_predicts_compares_from_f1_zero(pair):
    a, b = pair
    crack = {row.name: row for row in cmp.label_deltas(a, b)}["crack"].metrics["f1"]
    # Run a's model cannot predict crack: F1 0, not undefined, so the change has a direction.
    assert crack.a == 0.0 and crack.b == pytest.approx(b.per_label["crack"]["f1"]) and crack.b > 0
    assert crack.change == pytest.approx(crack.b) and crack.direction == "better"


def test_a_label_only_run_b_has_is_shown_as_undefined_in_a(world):
    a = evaluated_run(world, world.model, A_PREDICTIONS)
    b = evaluated_run(world, model_b(world, ["dent", "hole"]), {})
    rows = {row.name: row for row in cmp.label_deltas(a, b)}
    assert rows["hole"].in_a is False and rows["hole"].in_b is True
    assert rows["hole"].metrics["f1"].a is None and rows["hole"].metrics["f1"].direction == ""


# ---------------------------------------------------------------- matrix difference


def test_union_labels_keep_a_order_then_b_only_labels():
    assert cmp.union_labels(["x", "y"], ["z", "y", "w"]) == ["x", "y", "z", "w"]


def test_matrix_difference_aligns_cells_by_label_name(pair):
    a, b = pair
    assert a.labels != b.labels  # another order in run b
    diff = cmp.matrix_difference(a, b)
    i = {name: k for k, name in enumerate(diff.labels)}
    m = len(diff.labels)
    scratch_tp = diff.cells[i["scratch"]][i["scratch"]]
    assert (scratch_tp.a, scratch_tp.b, scratch_tp.diff) == (3, 2, -1)
    assert scratch_tp.diagonal and scratch_tp.direction == "worse"
    confused = diff.cells[i["scratch"]][i["dent"]]  # the dent predicted as scratch
    assert (confused.a, confused.b, confused.direction) == (0, 1, "worse")
    crack_found = diff.cells[i["crack"]][i["crack"]]
    assert (crack_found.a, crack_found.b, crack_found.direction) == (0, 1, "better")
    crack_missed = diff.cells[m][i["crack"]]
    assert (crack_missed.a, crack_missed.b, crack_missed.direction) == (3, 2, "better")
    dent_bg = diff.cells[i["dent"]][m]
    assert (dent_bg.a, dent_bg.b) == (0, 1)


def test_matrix_difference_loses_no_count(pair):
    a, b = pair
    diff = cmp.matrix_difference(a, b)
    assert sum(c.a for row in diff.cells for c in row) == int(np.sum(a.matrix))
    assert sum(c.b for row in diff.cells for c in row) == int(np.sum(b.matrix))
    assert diff.max_abs == 1


# ---------------------------------------------------------------- annotations followed by id


def test_transitions_count_each_annotation_once(pair):
    a, b = pair
    moves = cmp.transitions(cmp.annotation_outcomes(a), cmp.annotation_outcomes(b))
    assert moves.counts == {
        ("tp", "tp"): 3,
        ("tp", "missed"): 1,
        ("missed", "tp"): 2,
        ("tp", "confusion"): 1,
        ("missed", "missed"): 2,
    }
    assert (
        sum(moves.counts.values())
        == Annotation.objects.filter(image__task__project=a.project).count()
    )
    assert moves.changed == 4 and moves.deleted_a == moves.deleted_b == 0


def test_found_then_missed_names_the_annotation_and_both_instances(world, pair):
    a, b = pair
    oa, ob = cmp.annotation_outcomes(a), cmp.annotation_outcomes(b)
    scratch0 = annotation_of(world, 0, "scratch")
    assert cmp.group_annotation_ids(oa, ob, cmp.FOUND_TO_MISSED) == [scratch0.pk]
    [item] = annotation_items(a, b, [scratch0.pk])
    assert item.a.instance.kind == Instance.Kind.TRUE_POSITIVE and item.a.instance.run_id == a.pk
    assert item.b.instance.kind == Instance.Kind.MISSED and item.b.instance.run_id == b.pk
    assert item.direction == "worse" and item.image.pk == scratch0.image_id
    assert item.shown is item.b and not item.annotation_edited


def test_missed_then_found_includes_a_label_run_a_could_not_predict(world, pair):
    a, b = pair
    oa, ob = cmp.annotation_outcomes(a), cmp.annotation_outcomes(b)
    expected = sorted([annotation_of(world, 2, "dent").pk, annotation_of(world, 0, "crack").pk])
    assert cmp.group_annotation_ids(oa, ob, cmp.MISSED_TO_FOUND) == expected
    items = annotation_items(a, b, expected)
    assert [i.direction for i in items] == ["better", "better"]
    assert {i.b.predicted for i in items} == {"dent", "crack"}


def test_an_annotation_deleted_between_the_runs_is_counted_not_followed(world):
    a = evaluated_run(world, world.model, A_PREDICTIONS)
    annotation_of(world, 0, "scratch").delete()
    b = evaluated_run(world, model_b(world), B_PREDICTIONS)
    oa, ob = cmp.annotation_outcomes(a), cmp.annotation_outcomes(b)
    moves = cmp.transitions(oa, ob)
    assert moves.deleted_a == 1 and moves.deleted_b == 0
    assert ("tp", "missed") not in moves.counts  # the only found-then-missed one is gone
    [deleted] = cmp.deleted_instance_ids(a)
    [item] = instance_items(a, b, [deleted], "a")
    assert item.a.instance.annotation_id is None and item.b.state == "absent"
    diff = cmp.matrix_difference(a, b)
    scratch = diff.labels.index("scratch")
    assert deleted in cmp.cell_changes(a, b, diff.labels, scratch, scratch).left


def test_an_annotation_added_after_run_a_is_not_in_run_a(world):
    a = evaluated_run(world, world.model, A_PREDICTIONS)
    image = world.project.validation_images().order_by("id")[2]
    added = Annotation.objects.create(
        image=image,
        label=Label.objects.get(project=world.project, name="dent"),
        x1=10,
        y1=150,
        x2=50,
        y2=190,
    )
    b = evaluated_run(world, model_b(world), B_PREDICTIONS)
    moves = cmp.transitions(cmp.annotation_outcomes(a), cmp.annotation_outcomes(b))
    assert moves.count("absent", "missed") == 1
    group = cmp.parse_group("absent-missed")
    ids = cmp.group_annotation_ids(cmp.annotation_outcomes(a), cmp.annotation_outcomes(b), group)
    assert ids == [added.pk]
    [item] = annotation_items(a, b, ids)
    assert item.a.instance is None and item.a.state == "absent" and item.direction == ""


def test_an_annotation_relabelled_between_the_runs_is_marked_edited(world):
    a = evaluated_run(world, world.model, A_PREDICTIONS)
    dent1 = annotation_of(world, 1, "dent")
    dent1.label = Label.objects.get(project=world.project, name="划痕")
    dent1.save()
    b = evaluated_run(world, model_b(world), B_PREDICTIONS)
    [item] = annotation_items(a, b, [dent1.pk])
    assert item.a.actual == "dent" and item.b.actual == "划痕"
    assert item.annotation_edited


def test_group_keys_parse_and_refuse_nonsense():
    assert cmp.parse_group("tp-missed") == cmp.FOUND_TO_MISSED
    assert cmp.parse_group("deleted-b").deleted_in == "b"
    for bad in ("", "tp-tp", "absent-absent", "tp", "tp-nothing", "x-y", "tp-missed-x"):
        assert cmp.parse_group(bad) is None
    assert cmp.parse_group("confusion-loc").direction == "same"
    assert cmp.parse_group("loc-tp").direction == "better"


# ---------------------------------------------------------------- one difference cell


def test_a_true_positive_cell_follows_annotations(world, pair):
    a, b = pair
    diff = cmp.matrix_difference(a, b)
    scratch = diff.labels.index("scratch")
    changes = cmp.cell_changes(a, b, diff.labels, scratch, scratch)
    left = Instance.objects.get(pk__in=changes.left)
    assert left.annotation == annotation_of(world, 0, "scratch")
    assert changes.entered == [] and changes.stayed == 2
    [item] = instance_items(a, b, changes.left, "a")
    assert item.a.state == "tp" and item.b.state == "missed"


def test_false_alarms_are_followed_by_their_box(pair):
    a, b = pair
    diff = cmp.matrix_difference(a, b)
    m = len(diff.labels)
    scratch_bg = cmp.cell_changes(a, b, diff.labels, diff.labels.index("scratch"), m)
    assert (scratch_bg.entered, scratch_bg.left, scratch_bg.stayed) == ([], [], 1)  # moved 1 px
    dent_bg = cmp.cell_changes(a, b, diff.labels, diff.labels.index("dent"), m)
    assert len(dent_bg.entered) == 1 and dent_bg.left == [] and dent_bg.stayed == 0
    [item] = instance_items(b, a, dent_bg.entered, "b")
    assert item.b.state == "background" and item.a.state == "none" and item.a.instance is None


def test_a_cell_of_a_label_one_run_lacks_has_only_the_other_run(pair):
    a, b = pair
    diff = cmp.matrix_difference(a, b)
    crack = diff.labels.index("crack")
    assert cmp.run_row(a, diff.labels, crack) == a.labels.index("crack")  # a project-only label
    changes = cmp.cell_changes(a, b, diff.labels, crack, crack)
    assert len(changes.entered) == 1 and changes.left == []


def test_box_matching_iou_and_greedy_pairing():
    """The comparison pairs boxes through metrics_rs.pair_boxes (SPEC §4 IoU)."""

    def rows(*boxes):
        return [(k, 7, None, *box, *[None] * 4) for k, box in enumerate(boxes)]

    half, apart, empty = (0, 0, 10, 5), (20, 20, 30, 30), (0, 0, 0, 0)
    full = (0, 0, 10, 10)
    # IoU(full, half) = 0.5: paired at 0.5, not just above it.
    assert [(a[0], b[0]) for a, b in cmp.match_boxes(rows(full), rows(half), 0.5)] == [(0, 0)]
    assert cmp.match_boxes(rows(full), rows(half), 0.5 + 1e-9) == []
    # Disjoint boxes and a zero-area box have IoU 0: never paired.
    assert cmp.match_boxes(rows(apart), rows(half), 1e-9) == []
    assert cmp.match_boxes(rows(full), rows(empty), 1e-9) == []
    a_rows = [(1, 7, None, *SCRATCH, None, None, None, None), (2, 7, None, *DENT, *[None] * 4)]
    b_rows = [(9, 7, None, *DENT, *[None] * 4), (8, 6, None, *SCRATCH, *[None] * 4)]
    pairs = cmp.match_boxes(a_rows, b_rows, 0.5)
    assert [(pa[0], pb[0]) for pa, pb in pairs] == [(2, 9)]  # another image does not match


def test_a_run_of_another_label_order_maps_rows_and_columns(pair):
    a, b = pair
    labels = cmp.union_labels(a.labels, b.labels)
    m = len(labels)
    assert cmp.run_cell(b, labels, labels.index("scratch"), labels.index("dent")) == (1, 0)
    assert cmp.run_cell(b, labels, m, m + 1) == (len(b.labels), len(b.labels) + 1)
    assert cmp.run_cell(a, labels + ["hole"], m + 0, 0) is None


def test_a_comparison_refuses_runs_that_do_not_compare(pair):
    a, _b = pair
    with pytest.raises(cmp.NotComparable, match="two different runs"):
        cmp.Comparison(a, a)


def test_a_comparison_computes_each_part_once(pair, django_assert_num_queries):
    c = cmp.Comparison(*pair)
    with django_assert_num_queries(2):  # one per run
        assert c.transitions.changed == 4
        assert c.group_ids(cmp.FOUND_TO_MISSED) == c.group_ids(cmp.FOUND_TO_MISSED)
