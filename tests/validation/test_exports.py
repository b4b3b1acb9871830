"""Exports of a run: matrix, per-label and instances CSV, COCO results, run JSON; the downloads."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import unquote

import pytest
from django.db.models.query import QuerySet
from django.http import StreamingHttpResponse
from django.urls import reverse

from tests.run_builders import new_run
from tests.validation.export_world import (
    AP,
    DOWNLOADS,
    LABELS,
    MAP,
    MATRIX,
    PREDICTIONS,
    f32,
    make_known_run,
    make_run_without_predictions,
    validation_images,
)
from validation.analysis import exports
from validation.analysis.exports import run_results
from validation.models import InferenceRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(world) -> InferenceRun:
    return make_known_run(world.project, world.model, world.owner)


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def assert_cells(actual: list[str], expected: list) -> None:
    """Text and whole numbers exactly, fractions to 1e-12, None as an empty cell."""
    assert len(actual) == len(expected), (actual, expected)
    for cell, want in zip(actual, expected, strict=True):
        if want is None:
            assert cell == ""
        elif isinstance(want, float):
            assert float(cell) == pytest.approx(want, abs=1e-12), (actual, expected)
        else:
            assert cell == str(want), (actual, expected)


# --- pure exports -------------------------------------------------------------------------


def test_matrix_csv_is_the_matrix_with_both_axes(run):
    text = exports.matrix_csv(run)
    assert text.splitlines()[0] == "predicted \\ actual,scratch,dent,划痕,crack,BG,LOC"
    assert parse_csv(text) == [
        ["predicted \\ actual", *LABELS, "BG", "LOC"],
        *[[name, *map(str, counts)] for name, counts in zip(LABELS + ["{}"], MATRIX, strict=True)],
    ]
    assert text.endswith("\r\n")


def test_per_label_csv_has_every_label_then_overall_and_macro_rows(run):
    rows = parse_csv(exports.per_label_csv(run))
    assert rows[0] == exports.PER_LABEL_HEADER
    expected = [
        ["scratch", 0.25, 3, 2, 1, 0.5, 1 / 3, 0.4, AP["scratch"], AP["scratch"]],
        ["dent", 0.5, 3, 2, 1, 0.5, 1 / 3, 0.4, AP["dent"], AP["dent"]],
        ["划痕", 0.25, 0, 2, 0, 0.0, None, 0.0, None, None],  # predictions, no annotation
        ["crack", 0.25, 3, 0, 0, None, 0.0, 0.0, 0.0, 0.0],  # annotations, never predicted
        ["(overall, micro-averaged)", 0.25, 9, 6, 2, 1 / 3, 2 / 9, 4 / 15, MAP, MAP],
        ["(macro average)", None, None, None, None, 1 / 3, 2 / 9, 0.2, MAP, MAP],
    ]
    assert len(rows) == 1 + len(expected)
    for row, want in zip(rows[1:], expected, strict=True):
        assert_cells(row, want)


def test_run_document_counts_f1_zero_of_labels_never_predicted_or_never_annotated(run):
    doc = exports.run_document(exports.run_queryset().get(pk=run.pk))
    f1 = {name: m["f1"] for name, m in doc["per_label"].items()}
    assert f1 == {"scratch": 0.4, "dent": 0.4, "划痕": 0.0, "crack": 0.0}
    assert doc["macro"]["f1"] == pytest.approx(0.2)
    assert doc["macro"]["f1"] <= doc["overall"]["f1"] == pytest.approx(4 / 15)
    # Precision and recall stay undefined on 0/0 and out of their macro averages.
    assert doc["per_label"]["crack"]["precision"] is None
    assert doc["macro"]["precision"] == pytest.approx(1 / 3)


def test_validate_json_has_the_same_f1_as_the_export(run):
    results = run_results(run)  # what `manage.py validate --wait --json` prints
    assert results["per_label"]["crack"]["f1"] == 0.0
    assert results["per_label"]["划痕"]["f1"] == 0.0
    assert results["macro"]["f1"] == pytest.approx(0.2)
    assert run_results(run_without_predictions_of(run))["overall"]["f1"] == 0.0


def run_without_predictions_of(run) -> InferenceRun:
    return make_run_without_predictions(run.project, run.model, run.created_by)


def test_a_run_that_predicts_nothing_exports_f1_zero(run):
    empty = run_without_predictions_of(run)
    doc = exports.run_document(exports.run_queryset().get(pk=empty.pk))
    assert doc["overall"] == {"precision": None, "recall": 0.0, "f1": 0.0}
    assert {name: m["f1"] for name, m in doc["per_label"].items()} == {
        "scratch": 0.0,
        "dent": 0.0,
        "划痕": None,  # neither annotated nor predicted: undefined
        "crack": 0.0,
    }
    assert doc["macro"]["f1"] == 0.0 and doc["macro"]["precision"] is None
    overall = parse_csv(exports.per_label_csv(empty))[-2]
    assert overall[0] == "(overall, micro-averaged)"
    assert overall[5:8] == ["", "0.0", "0.0"]


def _expected_instances(run) -> list[list]:
    img = [image.pk for image in validation_images(run.project)]
    names = {image.pk: image.name for image in validation_images(run.project)}
    g_s, g_d = (20.0, 20.0, 80.0, 70.0), (150.0, 100.0, 200.0, 160.0)
    g_c = (250.0, 30.0, 300.0, 60.0)
    none4 = (None, None, None, None)
    # image, kind, row, column, predicted, actual, score, iou, prediction box, annotation box
    rows = [
        (
            img[0],
            "true_positive",
            "scratch",
            "scratch",
            "scratch",
            "scratch",
            0.9,
            1.0,
            (20.0, 20.0, 80.0, 70.0),
            g_s,
        ),
        (
            img[1],
            "confusion",
            "scratch",
            "crack",
            "scratch",
            "crack",
            0.8,
            1.0,
            (250.0, 30.0, 300.0, 60.0),
            g_c,
        ),
        (
            img[1],
            "true_positive",
            "dent",
            "dent",
            "dent",
            "dent",
            0.7,
            1.0,
            (150.0, 100.0, 200.0, 160.0),
            g_d,
        ),
        (
            img[1],
            "duplicate",
            "dent",
            "BG",
            "dent",
            None,
            0.65,
            None,
            (151.0, 101.0, 200.0, 160.0),
            none4,
        ),
        (
            img[0],
            "background",
            "划痕",
            "BG",
            "划痕",
            None,
            0.6,
            None,
            (100.0, 180.0, 140.0, 220.0),
            none4,
        ),
        (
            img[2],
            "poorly_localised",
            "划痕",
            "LOC",
            "划痕",
            "scratch",
            0.55,
            0.4,
            (20.0, 20.0, 80.0, 40.0),
            g_s,
        ),
        (img[1], "missed", "{}", "scratch", None, "scratch", None, None, none4, g_s),
        (img[0], "missed", "{}", "dent", None, "dent", None, None, none4, g_d),
        (img[2], "missed", "{}", "dent", None, "dent", None, None, none4, g_d),
        (img[0], "missed", "{}", "crack", None, "crack", None, None, none4, g_c),
        (img[2], "missed", "{}", "crack", None, "crack", None, None, none4, g_c),
    ]
    return [
        [
            image,
            names[image],
            kind,
            row,
            col,
            pred,
            actual,
            None if score is None else f32(score),
            iou,
            *pbox,
            *gbox,
        ]
        for image, kind, row, col, pred, actual, score, iou, pbox, gbox in rows
    ]


def test_instances_csv_lists_every_cell_entry_in_cell_order(run):
    rows = parse_csv("".join(exports.instance_csv_chunks(run)))
    assert rows[0] == exports.INSTANCE_HEADER
    body = rows[1:]
    assert len(body) == sum(map(sum, MATRIX)) == 11
    by_id = {i.pk: i for i in run.instances.all()}
    for row, want in zip(body, _expected_instances(run), strict=True):
        instance = by_id[int(row[0])]
        assert_cells(row[1:18], want)
        assert row[18] == ("" if instance.annotation_id is None else str(instance.annotation_id))
        assert row[19] == (
            "" if instance.prediction_index is None else str(instance.prediction_index)
        )


def test_instances_csv_comes_in_batches(run):
    chunks = list(exports.instance_csv_chunks(run, batch=4))
    assert [len(parse_csv(chunk)) for chunk in chunks] == [1, 4, 4, 3]


def test_coco_results_list_every_stored_prediction_with_run_label_ids(run):
    results = json.loads("".join(exports.coco_results(run)))
    images = [image.pk for image in validation_images(run.project)]
    expected = [
        {
            "image_id": images[i],
            "category_id": label + 1,
            "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
            "score": f32(score),
        }
        for i, per_image in enumerate(PREDICTIONS)
        for label, score, (x1, y1, x2, y2) in per_image
    ]
    assert results == expected
    assert [LABELS[r["category_id"] - 1] for r in results][:3] == ["scratch", "dent", "划痕"]


def test_coco_results_reproduce_the_run_map_with_pycocotools(run):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    document = exports.run_document(run)
    category = {c["name"]: c["id"] for c in document["categories"]}
    images = validation_images(run.project)
    gt = COCO()
    gt.dataset = {
        "images": [{"id": im.pk, "width": im.width, "height": im.height} for im in images],
        "categories": document["categories"],
        "annotations": [
            {
                "id": a.pk,
                "image_id": a.image_id,
                "category_id": category[a.label.name],
                "bbox": [a.x1, a.y1, a.x2 - a.x1, a.y2 - a.y1],
                "area": (a.x2 - a.x1) * (a.y2 - a.y1),
                "iscrowd": 0,
            }
            for im in images
            for a in im.annotations.select_related("label")
        ],
    }
    gt.createIndex()
    detections = gt.loadRes(json.loads("".join(exports.coco_results(run))))
    evaluation = COCOeval(gt, detections, "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(run.map50_95, abs=1e-6)
    assert evaluation.stats[1] == pytest.approx(run.map50, abs=1e-6)
    assert run.map50 == pytest.approx(MAP, abs=1e-9)


def test_run_document_adds_settings_review_and_categories(run, world):
    run.review_status = InferenceRun.Review.APPROVED
    run.review_notes = "上线"
    run.reviewed_by = world.member
    run.save()
    doc = exports.run_document(exports.run_queryset().get(pk=run.pk))
    assert doc["run"] == run.pk and doc["status"] == "completed"
    assert doc["matrix"] == MATRIX
    assert doc["rows"] == LABELS + ["{}"] and doc["columns"] == LABELS + ["BG", "LOC"]
    assert doc["settings"]["label_confidences"] == {"dent": 0.5}
    assert doc["settings"]["confidences"] == {
        "scratch": 0.25,
        "dent": 0.5,
        "划痕": 0.25,
        "crack": 0.25,
    }
    assert doc["settings"]["iou_threshold"] == 0.3
    assert doc["review"] == {
        "status": "approved",
        "notes": "上线",
        "reviewed_by": "member",
        "reviewed_at": None,
    }
    assert doc["categories"] == [{"id": i + 1, "name": n} for i, n in enumerate(LABELS)]
    assert doc["project"] == {"id": world.project.pk, "name": "焊接项目"}
    assert json.loads(json.dumps(doc)) == doc


def test_exports_refuse_a_run_without_results(world):
    queued = new_run(world.project, world.model)
    for build in (
        exports.matrix_csv,
        exports.per_label_csv,
        exports.coco_results,
        lambda r: list(exports.instance_csv_chunks(r)),
    ):
        with pytest.raises(exports.NoResults):
            build(queued)
    assert exports.run_document(queued)["matrix"] == []


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("划痕", "划痕"),
        ("a=b", "a=b"),
        (-1.5, "-1.5"),
        (None, ""),
    ],
)
def test_csv_cell_quotes_what_a_spreadsheet_would_run(value, cell):
    assert exports.csv_cell(value) == cell


def test_formula_label_names_are_quoted_in_every_csv(run):
    evil = ["=1+2", "+A1", "-2", "@cmd"]
    run.labels = evil
    run.per_label = {name: run.per_label[old] for name, old in zip(evil, LABELS, strict=True)}
    run.save()
    for text in (
        exports.matrix_csv(run),
        exports.per_label_csv(run),
        "".join(exports.instance_csv_chunks(run)),
    ):
        cells = [cell for row in parse_csv(text) for cell in row]
        assert not [c for c in cells if c[:1] in ("=", "+", "@", "-")]
        assert "'=1+2" in cells and "'@cmd" in cells and "'-2" in cells


# --- download views -----------------------------------------------------------------------


def body_of(response) -> bytes:
    if isinstance(response, StreamingHttpResponse):
        return b"".join(response.streaming_content)
    return response.content


@pytest.mark.parametrize(("name", "content_type", "suffix"), DOWNLOADS)
def test_download_is_an_attachment_with_its_chinese_name(
    member_client, world, run, name, content_type, suffix
):
    response = member_client.get(reverse(name, args=[run.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["X-Content-Type-Options"] == "nosniff"
    disposition = response["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="run-{run.pk}-yolo-s-____-{suffix}"')
    encoded = disposition.split("filename*=UTF-8''")[1]
    assert unquote(encoded) == f"run-{run.pk}-yolo-s-焊接项目-{suffix}"
    assert disposition.isascii()


@pytest.mark.parametrize("name", [d[0] for d in DOWNLOADS[:3]])
def test_csv_downloads_are_utf8_with_bom_and_equal_the_export(owner_client, world, run, name):
    body = body_of(owner_client.get(reverse(name, args=[run.pk])))
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert "划痕" in text
    builders = {
        "validation:export-matrix-csv": exports.matrix_csv,
        "validation:export-per-label-csv": exports.per_label_csv,
        "validation:export-instances-csv": lambda r: "".join(exports.instance_csv_chunks(r)),
    }
    assert text == builders[name](run)


def test_instances_download_streams_with_a_database_iterator(client, world, run, monkeypatch):
    calls = []
    original = QuerySet.iterator

    def spy(self, *args, **kwargs):
        calls.append(kwargs.get("chunk_size", args[0] if args else None))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    client.force_login(world.owner)
    response = client.get(reverse("validation:export-instances-csv", args=[run.pk]))
    assert isinstance(response, StreamingHttpResponse)
    assert calls == []  # nothing read until the body is consumed
    content = iter(response.streaming_content)
    assert next(content) == b"\xef\xbb\xbf"
    assert next(content).decode().startswith("id,image_id,image,kind")
    rest = b"".join(content).decode()
    assert calls == [exports.INSTANCE_BATCH]
    assert len(parse_csv(rest)) == 11


def test_predictions_download_is_the_coco_results(owner_client, world, run):
    body = body_of(owner_client.get(reverse("validation:export-predictions-json", args=[run.pk])))
    assert json.loads(body) == json.loads("".join(exports.coco_results(run)))
    assert len(json.loads(body)) == sum(map(len, PREDICTIONS))


def test_run_json_download_is_the_run_document(owner_client, world, run):
    body = owner_client.get(reverse("validation:export-run-json", args=[run.pk])).content
    assert json.loads(body) == exports.run_document(run)
    assert "焊接项目".encode() in body  # not \u-escaped


def test_outsider_gets_404_for_every_download(outsider_client, world, run):
    for name, _type, _suffix in DOWNLOADS:
        assert outsider_client.get(reverse(name, args=[run.pk])).status_code == 404, name


def test_anonymous_is_sent_to_login_for_every_download(client, run):
    for name, _type, _suffix in DOWNLOADS:
        response = client.get(reverse(name, args=[run.pk]))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login"))


def test_downloads_refuse_post(owner_client, world, run):
    for name, _type, _suffix in DOWNLOADS:
        assert owner_client.post(reverse(name, args=[run.pk])).status_code == 405, name


def test_run_without_results_answers_409_with_a_reason(client, world):
    failed = new_run(world.project, world.model, status=InferenceRun.Status.FAILED)
    client.force_login(world.owner)
    for name, _type, _suffix in DOWNLOADS[:4]:
        response = client.get(reverse(name, args=[failed.pk]))
        assert response.status_code == 409, name
        assert f"#{failed.pk}" in response.content.decode()


def test_missing_predictions_file_answers_409(client, world, run):
    Path(run.predictions_file.path).unlink()
    client.force_login(world.owner)
    response = client.get(reverse("validation:export-predictions-json", args=[run.pk]))
    assert response.status_code == 409
