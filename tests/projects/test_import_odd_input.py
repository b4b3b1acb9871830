"""Odd numbers, names and sizes at import: refused with a located reason or cleaned, never a 500."""

from __future__ import annotations

import json

import pytest
from django.db.models.signals import pre_save

from projects.datasets import import_dataset
from projects.models import Annotation, Label, Task
from tests.projects.datasets import coco_data, messages_at, zip_folder

pytestmark = pytest.mark.django_db


def _bbox_text(text: str) -> str:
    """The standard document with the first bbox spelled exactly as given."""
    data = coco_data()
    data["annotations"][0]["bbox"] = "BBOX"
    return json.dumps(data, ensure_ascii=False).replace('"BBOX"', text)


@pytest.mark.parametrize(
    "bbox",
    ["[1" + "0" * 308 + ", 0, 10, 10]", "[0, 0, " + "9" * 5000 + ", 10]", "[0, 0, 1e309, 1]"],
)
def test_coco_bbox_of_huge_literals_is_refused_at_its_field(project, make_coco, unchanged, bbox):
    report = import_dataset(project, make_coco(raw=_bbox_text(bbox)), "coco")

    assert not report.imported
    messages = messages_at(report.errors, "annotations.json: annotations[0].bbox")
    assert len(messages) == 1 and ("digits" in messages[0] or "finite" in messages[0])
    unchanged()


def test_coco_id_of_5000_digits_is_refused_at_its_field(project, make_coco, unchanged):
    text = json.dumps(coco_data()).replace('"id": 1,', '"id": ' + "1" * 5000 + ",", 1)

    report = import_dataset(project, make_coco(raw=text), "coco")

    assert not report.imported
    assert any("must be an integer" in str(problem) for problem in report.errors)
    unchanged()


@pytest.mark.parametrize("name", ["\ud800", "a\x00b", "two\nlines", "tab\tname"])
def test_coco_category_name_with_a_surrogate_or_control_is_refused(
    project, make_coco, unchanged, name
):
    data = coco_data()
    data["categories"][0]["name"] = name

    report = import_dataset(project, make_coco(raw=json.dumps(data)), "coco")

    assert not report.imported
    (message,) = messages_at(report.errors, "annotations.json: categories[0].name")
    assert "contains a" in message
    str(report).encode("utf-8")  # the report itself can be shown
    unchanged()


def test_coco_file_name_with_a_lone_surrogate_is_refused(project, make_coco, unchanged):
    data = coco_data()
    data["images"][0]["file_name"] = "a\ud800.jpg"

    report = import_dataset(project, make_coco(raw=json.dumps(data)), "coco")

    assert not report.imported
    (message,) = messages_at(report.errors, "annotations.json: images[0].file_name")
    assert "lone surrogate" in message
    str(report).encode("utf-8")
    unchanged()


@pytest.mark.parametrize("name", ['"\\ud800"', '"a\\u0000b"', '"two\\nlines"'])
def test_yolo_class_name_with_a_surrogate_or_control_is_refused_on_its_line(
    project, make_yolo, unchanged, name
):
    report = import_dataset(project, make_yolo(names=f"names:\n  - scratch\n  - {name}\n"), "yolo")

    assert not report.imported
    (message,) = messages_at(report.errors, "data.yaml line 3")
    assert message.startswith("class name contains a")
    str(report).encode("utf-8")
    unchanged()


def test_yolo_nc_of_5000_digits_is_refused_on_its_line(project, make_yolo, unchanged):
    report = import_dataset(project, make_yolo(names=f"nc: {'9' * 5000}\nnames: [a]\n"), "yolo")

    assert messages_at(report.errors, "data.yaml line 1") == ["nc must be a whole number"]
    unchanged()


def test_yolo_coordinate_of_too_many_digits_is_refused_on_its_line(project, make_yolo, unchanged):
    labels = {"划痕.txt": "0 0.5 0.5 0.2 0." + "1" * 400 + "\n"}

    report = import_dataset(project, make_yolo(labels), "yolo")

    (message,) = messages_at(report.errors, "labels/划痕.txt line 1")
    assert message.startswith("h: ") and "more than 30 digits" in message
    unchanged()


def test_identical_yolo_lines_are_imported_once_with_a_warning(project, make_yolo):
    line = "0 0.5 0.5 0.25 0.5\n"
    labels = {"划痕.txt": line + "1 0.1 0.1 0.2 0.2\n" + line + line}

    report = import_dataset(project, make_yolo(labels), "yolo")

    assert report.imported
    assert Annotation.objects.count() == 2
    (warning,) = messages_at(report.warnings, "labels/划痕.txt line 3")
    assert warning.startswith("2 lines repeat an earlier line exactly (line 3 repeats line 1)")


def test_a_data_yaml_with_more_names_than_the_label_cap_is_refused(project, make_yolo, settings):
    settings.MAX_LABELS_PER_PROJECT = 50
    Label.objects.create(project=project, name="already", order=0)
    names = "names: [" + ", ".join(f"c{i}" for i in range(50)) + "]\n"

    report = import_dataset(project, make_yolo({}, names=names), "yolo")

    assert not report.imported
    assert messages_at(report.errors, "data.yaml") == [
        "50 class names would give the project 51 labels, more than the limit of 50 labels "
        "per project"
    ]
    assert list(Label.objects.values_list("name", flat=True)) == ["already"]
    assert not Task.objects.exists()


def test_ten_thousand_names_are_refused_by_the_default_cap(project, make_yolo, unchanged):
    names = "names: [" + ", ".join(f"c{i}" for i in range(10_000)) + "]\n"

    report = import_dataset(project, make_yolo({}, names=names), "yolo")

    assert not report.imported
    assert "more than the limit of 1000 labels" in str(report)
    assert Label.objects.count() == 0
    unchanged()


def test_coco_categories_over_the_label_cap_are_refused_at_categories(
    project, make_coco, unchanged, settings
):
    settings.MAX_LABELS_PER_PROJECT = 1

    report = import_dataset(project, make_coco(), "coco")

    assert messages_at(report.errors, "annotations.json: categories") == [
        "2 class names would give the project 2 labels, more than the limit of 1 labels per project"
    ]
    unchanged()


def test_an_image_with_more_boxes_than_the_cap_is_refused_at_the_first_box_over(
    project, make_yolo, unchanged, settings
):
    settings.MAX_BOXES_PER_IMAGE = 3
    lines = "".join(f"0 0.5 0.5 0.{i + 1} 0.1\n" for i in range(5))

    report = import_dataset(project, make_yolo({"划痕.txt": lines}), "yolo")

    assert messages_at(report.errors, "labels/划痕.txt line 4") == [
        "5 boxes on image images/划痕.jpg, more than the limit of 3 per image"
    ]
    unchanged()


def test_ten_thousand_boxes_on_one_image_are_refused_by_the_default_cap(
    project, make_coco, unchanged
):
    data = coco_data()
    box = {"image_id": 7, "category_id": 1, "bbox": [1, 1, 2, 2]}
    data["annotations"] = [{"id": i, **box} for i in range(10_000)]

    report = import_dataset(project, make_coco(data), "coco")

    assert messages_at(report.errors, "annotations.json: annotations[5000].bbox") == [
        "10000 boxes on image images/划痕.jpg, more than the limit of 5000 per image"
    ]
    unchanged()


def test_a_labelme_file_given_as_coco_names_its_format(project, tmp_path, unchanged):
    folder = tmp_path / "labelme"
    folder.mkdir()
    labelme = {"version": "5.0.1", "flags": {}, "shapes": [], "imagePath": "a.jpg"}
    (folder / "a.json").write_text(json.dumps(labelme))

    report = import_dataset(project, zip_folder(folder, tmp_path / "lm.zip"), "coco")

    assert str(report.errors[0]) == (
        "lm.zip: this looks like a LabelMe dataset; LabelMe is not supported yet: convert it to "
        "COCO or YOLO first"
    )
    unchanged()


@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_a_pascal_voc_dataset_names_its_format(project, tmp_path, unchanged, fmt):
    folder = tmp_path / "voc"
    (folder / "Annotations").mkdir(parents=True)
    xml = "<annotation><object><bndbox><xmin>1</xmin></bndbox></object></annotation>"
    (folder / "Annotations" / "a.xml").write_text(xml)

    report = import_dataset(project, zip_folder(folder, tmp_path / "voc.zip"), fmt)

    assert "looks like a Pascal VOC dataset" in str(report.errors[0])
    unchanged()


def test_a_coco_dataset_given_as_yolo_says_to_choose_coco(project, make_coco, unchanged):
    report = import_dataset(project, make_coco(), "yolo")

    assert report.errors[0].message == (
        "this looks like a COCO dataset, not YOLO: choose the COCO format"
    )
    unchanged()


def test_a_task_created_meanwhile_by_another_import_is_a_clear_refusal(
    project, make_coco, unchanged
):
    def second_upload(sender, instance, **kwargs):
        pre_save.disconnect(second_upload, sender=Label)
        Task.objects.create(project=project, name="批次")  # the other upload, a moment earlier

    pre_save.connect(second_upload, sender=Label)
    try:
        report = import_dataset(project, make_coco(), "coco", task_name="批次")
    finally:
        pre_save.disconnect(second_upload, sender=Label)

    assert not report.imported
    (problem,) = report.errors
    assert str(problem).startswith("task “批次”: was created by another import at the same moment")
    assert "UNIQUE" not in str(report)
    assert Label.objects.count() == 0


def test_the_editor_and_the_import_share_one_box_cap(project, make_yolo, settings):
    from projects.editing import AnnotationsInvalid, clean_boxes

    settings.MAX_BOXES_PER_IMAGE = 2
    box = {"id": None, "label": 1, "x1": 1, "y1": 1, "x2": 5, "y2": 5}

    with pytest.raises(AnnotationsInvalid) as refused:
        clean_boxes({"boxes": [box] * 3}, width=10, height=10, label_ids={1}, existing={})

    assert str(refused.value) == "At most 2 boxes per image."
