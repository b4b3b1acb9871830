"""What-if: a run recomputed at other thresholds from its stored predictions, without writes."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from tests.clients import HTMX
from tests.validation.export_world import make_known_run
from tests.validation.run_world import make_five_per_image_run
from tests.validation.whatif_world import project_with_validation_task, random_run
from validation.analysis import evaluation, whatif
from validation.analysis import predictions as stored
from validation.analysis.evaluation import Thresholds
from validation.forms.whatif import WhatIfForm
from validation.models import InferenceRun, Instance

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_whatif_cache")]


@pytest.fixture
def run(world) -> InferenceRun:
    project = project_with_validation_task([world.owner, world.member])
    return random_run(project, world.model, world.owner, images=16, seed=3)


def fresh(run: InferenceRun, thresholds: Thresholds) -> evaluation.Evaluation:
    preds = stored.load(run.predictions_file.name)
    labels = evaluation.run_axis_labels(run)
    gt = evaluation.load_ground_truth(preds, labels)
    return evaluation.evaluate_predictions(preds, gt, labels, thresholds)


OTHER = [
    Thresholds(0.5, {}, 0.5, 0.5),
    Thresholds(0.1, {"dent": 0.7, "划痕": 0.3}, 0.3, 0.8),
    Thresholds(0.0, {}, 0.05, 1.0),
    Thresholds(0.9, {"scratch": 0.95}, 0.6, 0.6),
]


@pytest.mark.parametrize("thresholds", OTHER)
def test_whatif_equals_a_fresh_evaluate_on_the_same_arrays(run, thresholds):
    result = whatif.evaluate(run, thresholds)
    expected = fresh(run, thresholds)
    assert result.matrix == expected.matrix.tolist()
    assert (result.precision, result.recall, result.f1) == (
        expected.overall["precision"],
        expected.overall["recall"],
        expected.overall["f1"],
    )
    assert result.per_label == expected.per_label
    assert (result.map50, result.map50_95) == (expected.map50, expected.map50_95)
    assert result.line_decision == expected.line_decision


def test_whatif_at_the_runs_own_thresholds_changes_nothing(run):
    result = whatif.evaluate(run, Thresholds.of_run(run))
    assert result.matrix == run.matrix
    assert whatif.matrix_difference(run, result) == np.zeros_like(run.matrix).tolist()


def test_difference_is_whatif_minus_saved(run):
    result = whatif.evaluate(run, Thresholds(0.6, {}, 0.3, 0.5))
    diff = np.asarray(whatif.matrix_difference(run, result))
    assert (np.asarray(run.matrix) + diff).tolist() == result.matrix
    assert diff[: len(run.labels)].sum() < 0  # fewer predictions kept at 0.6 than at 0.25


def test_whatif_writes_nothing(run, django_assert_num_queries):
    before = (Instance.objects.filter(run=run).count(), InferenceRun.objects.count())
    whatif.run_data(run)  # loading reads annotations once
    with django_assert_num_queries(0):
        whatif.evaluate(run, Thresholds(0.7, {"dent": 0.8}, 0.4, 0.6))
    run.refresh_from_db()
    assert (Instance.objects.filter(run=run).count(), InferenceRun.objects.count()) == before
    assert run.base_confidence == 0.25


def test_arrays_are_loaded_once_per_evaluation_of_the_run(run):
    first = whatif.run_data(run)
    assert whatif.run_data(run) is first
    InferenceRun.objects.filter(pk=run.pk).update(evaluated_at=timezone.now())
    run.refresh_from_db()
    assert whatif.run_data(run) is not first  # re-evaluated: annotations may have changed


def test_cache_keeps_only_the_latest_runs(world, run):
    project = project_with_validation_task([world.owner], name="other")
    others = [
        random_run(project, world.model, world.owner, images=2, seed=10 + i)
        for i in range(whatif.CACHE_SIZE)
    ]
    first = whatif.run_data(run)
    for other in others:
        whatif.run_data(other)
    assert whatif.run_data(run) is not first


@pytest.mark.parametrize("thresholds", OTHER[:2])
def test_every_cell_lists_exactly_the_instances_a_fresh_evaluate_stores(run, thresholds):
    result = whatif.evaluate(run, thresholds)
    rows = fresh(run, thresholds).instances
    n = len(result.labels)
    for r in range(n + 1):
        for c in range(n + 2):
            entries = whatif.cell(result, r, c)
            assert len(entries) == result.matrix[r][c]
            expected = rows[(rows["row"] == r) & (rows["col"] == c)]
            got = whatif.members(result, entries, entries.indices)
            assert sorted(
                (
                    m.image_id,
                    m.prediction_index if m.prediction_index is not None else -1,
                    m.annotation_id if m.annotation_id is not None else -1,
                    m.kind,
                )
                for m in got
            ) == sorted(
                (
                    int(e["image_id"]),
                    int(e["prediction_index"]),
                    int(e["annotation_id"]),
                    int(e["kind"]),
                )
                for e in expected
            )


def test_loc_cell_splits_by_actual_label(run):
    result = whatif.evaluate(run, Thresholds(0.05, {}, 0.1, 0.9))
    n = len(result.labels)
    for r in range(n):
        entries = whatif.cell(result, r, n + 1)
        splits = entries.splits()
        assert sum(count for _label, count in splits) == len(entries)
        for label, count in splits:
            assert len(entries.only_actual(label)) == count


def test_members_by_key_finds_predictions_and_missed_annotations(run):
    result = whatif.evaluate(run, Thresholds(0.5, {}, 0.3, 0.5))
    n = len(result.labels)
    kept = np.flatnonzero(result.pred_kind != evaluation.DROPPED)
    dropped = np.flatnonzero(result.pred_kind == evaluation.DROPPED)
    missed = whatif.cell(result, n, 0)
    keys = [f"p{kept[0]}", f"p{dropped[0]}", "x1", "p999999"]
    if len(missed):
        keys.append(f"a{result.data.gt.annotation_ids[missed.indices[0]]}")
    found = whatif.members_by_key(result, keys)
    assert [m.key for m in found] == [keys[0]] + ([keys[-1]] if len(missed) else [])
    assert found[0].col == whatif.cell_of_prediction(result, int(kept[0]))


def test_image_predictions_are_the_kept_ones_of_that_image(run):
    result = whatif.evaluate(run, Thresholds(0.5, {}, 0.3, 0.5))
    preds = result.data.preds
    image_id = int(preds.image_ids[np.argmax(np.diff(preds.offsets))])
    shown = whatif.image_predictions(result, image_id)
    assert all(m.image_id == image_id and m.score >= 0.5 for m in shown)
    assert [m.score for m in shown] == sorted(m.score for m in shown)
    start, stop = (
        int(v)
        for v in preds.offsets[
            [list(preds.image_ids).index(image_id), list(preds.image_ids).index(image_id) + 1]
        ]
    )
    assert len(shown) == int((preds.scores[start:stop] >= 0.5).sum())


def test_evaluated_run_from_the_page_world(world):
    run = make_five_per_image_run(world.project, world.model, world.owner)
    result = whatif.evaluate(run, Thresholds(0.7, {}, 0.3, 0.5))
    n = len(result.labels)
    # Per image, only the scratch predictions at 0.95 and 0.80 stay (SPEC §4.1).
    assert sum(sum(row) for row in result.matrix[:n]) == 2 * 3


# ---------------------------------------------------------------- the form (URL query)

LABELS = ["scratch", "dent", "划痕", "crack"]


def form(query: str) -> WhatIfForm:
    return WhatIfForm(QueryDict(query), labels=LABELS)


def test_form_reads_label_confidences_from_both_spellings():
    f = form(
        "wi_base=0.3&wi_iou=0.5&wi_low=0.6&wi_lc=dent:0.5&wi_lc.%E5%88%92%E7%97%95=0.4"
        "&wi_lc.scratch="
    )
    assert f.is_valid(), f.errors
    assert f.thresholds() == Thresholds(0.3, {"dent": 0.5, "划痕": 0.4}, 0.5, 0.6)


def test_canonical_query_reads_back_the_same_thresholds():
    thresholds = Thresholds(0.1, {"划痕": 0.35, "dent": 0.7}, 0.45, 0.5)
    query = QueryDict(mutable=True)
    for key, value in whatif.query_items(thresholds, LABELS):
        query.appendlist(key, value)
    assert query.urlencode().startswith("wi_base=0.1&wi_iou=0.45&wi_low=0.5&wi_lc=dent%3A0.7")
    f = WhatIfForm(query, labels=LABELS)
    assert f.is_valid() and f.thresholds() == thresholds


def test_label_confidence_below_the_base_is_refused_next_to_its_label():
    f = form("wi_base=0.5&wi_iou=0.5&wi_low=0.5&wi_lc.dent=0.3")
    assert not f.is_valid()
    assert "dent" in f.label_errors["dent"][0]
    assert "below the base confidence" in f.label_errors["dent"][0]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("wi_base=1.5&wi_iou=0.5&wi_low=0.5", "wi_base", "between 0 and 1"),
        ("wi_base=abc&wi_iou=0.5&wi_low=0.5", "wi_base", "must be a number"),
        ("wi_base=&wi_iou=0.5&wi_low=0.5", "wi_base", "Enter the base confidence"),
        ("wi_base=0.2&wi_iou=0&wi_low=0.5", "wi_iou", "must be above 0"),
        ("wi_base=0.2&wi_iou=x&wi_low=0.5", "wi_iou", "Enter a number between 0 and 1"),
        ("wi_base=0.2&wi_iou=0.6&wi_low=0.5", "wi_low", "at least the IoU threshold"),
        ("wi_base=0.2&wi_iou=0.5&wi_low=1.2", "wi_low", "at most 1"),
    ],
)
def test_thresholds_are_checked_like_the_wizard(query, field, message):
    f = form(query)
    assert not f.is_valid()
    assert message in " ".join(f.errors[field])


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("wi_lc=rust:0.5", "Unknown label"),
        ("wi_lc.dent=high", "must be a number"),
        ("wi_lc.dent=2", "must be between 0 and 1"),
    ],
)
def test_bad_label_confidences_are_refused_with_the_label_named(entry, message):
    f = form(f"wi_base=0.2&wi_iou=0.5&wi_low=0.5&{entry}")
    assert not f.is_valid()
    every = [m for messages in f.label_errors.values() for m in messages]
    assert any(message in m for m in every)


def test_number_is_the_shortest_text_of_a_float():
    assert [whatif.number(v) for v in (0.4, 1.0, 0.1 + 0.2, 0.25)] == [
        "0.4",
        "1",
        "0.30000000000000004",
        "0.25",
    ]


def test_whatif_needs_a_completed_run_with_predictions(world, run):
    assert whatif.can_whatif(run)
    run.status = InferenceRun.Status.RUNNING
    assert not whatif.can_whatif(run)


# ---------------------------------------------------------------- F1 at the edges (SPEC §5)


@pytest.fixture
def known(world) -> InferenceRun:
    """export_world's run: crack annotated but never predicted, 划痕 predicted, never annotated."""
    return make_known_run(world.project, world.model, world.owner)


def test_whatif_f1_is_zero_for_labels_never_predicted_or_never_annotated(known):
    result = whatif.evaluate(known, Thresholds.of_run(known))
    assert result.per_label["crack"]["f1"] == 0.0
    assert result.per_label["划痕"]["f1"] == 0.0
    assert evaluation.macro_averages(result.per_label)["f1"] == pytest.approx(0.2)


def test_whatif_keeping_nothing_over_annotated_images_has_f1_zero(known):
    result = whatif.evaluate(known, Thresholds(0.95, {}, 0.3, 0.5))
    assert (result.precision, result.recall, result.f1) == (None, 0.0, 0.0)
    assert result.per_label["划痕"]["f1"] is None  # neither annotated nor kept: undefined
    assert [result.per_label[n]["f1"] for n in ("scratch", "dent", "crack")] == [0.0] * 3


def test_whatif_response_shows_f1_zero_as_a_number(member_client, known, no_redis):
    current = "http://testserver" + known.get_absolute_url() + "?open=metrics,categories"
    response = member_client.get(
        reverse("validation:run-whatif", args=[known.pk]),
        {"wi_base": "0.95", "wi_iou": "0.3", "wi_low": "0.5"},
        **HTMX,
        HTTP_HX_CURRENT_URL=current,
    )
    assert response.status_code == 200
    html = response.content.decode()
    tiles = html.split('id="run-tiles"')[1].split('id="run-categories"')[0]
    f1_tile = tiles.split("F1 score")[1].split("</div>")[0]
    assert '<span class="tile-value">0.000</span>' in f1_tile
    crack = html.split('<th scope="row">crack</th>')[1].split("</tr>")[0]
    assert re.findall(r'<td class="num">([^<]*)</td>', crack)[:3] == ["—", "0.000", "0.000"]
