"""Importing YOLO datasets: layouts, class-name files, and every located error."""

from __future__ import annotations

import pytest

from projects.datasets import import_dataset
from projects.datasets.names import NamesError, parse_yaml_names
from projects.models import Annotation, Image
from tests.projects.datasets import make_image, messages_at, zip_folder

pytestmark = pytest.mark.django_db

LABELS = "labels/划痕.txt"


def boxes() -> list[tuple]:
    rows = Annotation.objects.order_by("image__name", "id").select_related("image", "label")
    return [(a.image.name, a.label.name, a.x1, a.y1, a.x2, a.y2) for a in rows]


def test_yolo_folder_imports_in_class_order(project, make_yolo):
    report = import_dataset(project, make_yolo(), "yolo", task_name="训练")

    assert report.imported, str(report)
    assert report.warnings == []
    assert report.labels_created == ["scratch", "凹坑"]
    assert list(project.labels.values_list("name", flat=True)) == ["scratch", "凹坑"]
    assert sorted(Image.objects.values_list("name", "width", "height")) == [
        ("no_defect.jpg", 16, 16),
        ("train/b.png", 20, 20),
        ("划痕.jpg", 80, 40),
    ]
    assert boxes() == [
        ("train/b.png", "scratch", 0, 0, 20, 20),
        ("划痕.jpg", "凹坑", 30, 10, 50, 30),
        ("划痕.jpg", "scratch", 0, 0, 16, 8),
    ]


def test_yolo_zip_imports(project, make_yolo, tmp_path):
    archive = zip_folder(make_yolo(), tmp_path / "产线A.zip")

    report = import_dataset(project, archive, "yolo", validation=True)

    assert report.imported, str(report)
    assert report.task_name == "产线A"
    assert (report.images, report.annotations) == (3, 3)


def test_darknet_layout_with_obj_names_imports(project, tmp_path):
    root = tmp_path / "cvat"
    make_image(root / "obj_train_data" / "a.jpg", (10, 10))
    make_image(root / "obj_train_data" / "b.jpg", (10, 10))
    (root / "obj_train_data" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "obj.names").write_text("划痕\n凹坑\n", encoding="utf-8")
    (root / "train.txt").write_text("obj_train_data/a.jpg\n")

    report = import_dataset(project, root, "yolo")

    assert report.imported, str(report)
    assert boxes() == [("obj_train_data/a.jpg", "划痕", 4, 4, 6, 6)]


@pytest.mark.parametrize(
    ("file", "text"),
    [
        ("data.yaml", "path: .\ntrain: images\nnames:\n  - scratch\n  - 凹坑  # pits\nnc: 2\n"),
        ("data.yaml", "names:\n- 'scratch'\n- \"凹坑\"\n"),
        ("data.yaml", "nc: 2\nnames: {0: scratch, 1: 凹坑}\n"),
        ("data.yaml", "names:\n  1: 凹坑\n  0: scratch\nval: images\n"),
        ("data.yaml", "names: [\n  scratch,\n  '凹坑',\n]\n"),
        ("dataset.yaml", "names: ['scratch', \"\\u51f9\\u5751\"]  # escaped\n"),
        ("classes.txt", "scratch\n凹坑\n\n"),
        ("obj.names", "\ufeffscratch\r\n凹坑\r\n"),
    ],
)
def test_class_names_are_read_from_each_supported_form(project, make_yolo, file, text):
    report = import_dataset(project, make_yolo(names=text, names_file=file), "yolo")

    assert report.imported, str(report)
    assert list(project.labels.values_list("name", flat=True)) == ["scratch", "凹坑"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("names: [a, b]\nnc: 3\n", 2, "nc is 3 but names has 2 entries"),
        ("names: {0: a, 2: b}\n", 1, "class ids in names must be 0 to 1, each once"),
        ("names:\n  - a\n  1: b\n", 1, "names mixes list items and key: value pairs"),
        ("names: [a, 'b\n", 1, "unclosed ["),
        ("names: a, b\n", 1, "names must be a list or a mapping"),
        ("names:\n  x: a\n", 2, "class id “x” is not a whole number"),
        ("names: []\n", 1, "names is empty"),
    ],
)
def test_bad_names_block_is_located(text, line, message):
    with pytest.raises(NamesError) as caught:
        parse_yaml_names(text)

    assert (caught.value.line, caught.value.message) == (line, message)


def test_duplicate_class_name_is_refused(project, make_yolo, unchanged):
    report = import_dataset(project, make_yolo(names="names:\n  - a\n  - b\n  - a\n"), "yolo")

    assert messages_at(report.errors, "data.yaml line 4") == [
        "duplicate class name “a” (also line 2)"
    ]
    unchanged()


def test_missing_class_names_are_refused(project, make_yolo, unchanged):
    root = make_yolo()
    (root / "data.yaml").unlink()

    report = import_dataset(project, root, "yolo")

    assert messages_at(report.errors, "dataset") == [
        "no class names: add data.yaml with a names: list, or classes.txt"
    ]
    unchanged()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0 0.5 0.5 0.2", "expected 5 columns (class cx cy w h), got 4"),
        ("0 0.5 0.5 0.2 0.2 0.9", "expected 5 columns (class cx cy w h), got 6"),
        ("2 0.5 0.5 0.2 0.2", "class 2 is out of range (0 to 1)"),
        ("-1 0.5 0.5 0.2 0.2", "class -1 is out of range (0 to 1)"),
        ("1.5 0.5 0.5 0.2 0.2", "class must be a whole number, got “1.5”"),
        ("0 nan 0.5 0.2 0.2", "cx must be finite, got nan"),
        ("0 0.5 inf 0.2 0.2", "cy must be finite, got inf"),
        ("0 0.5 0.5 abc 0.2", "w is not a number: “abc”"),
        ("0 0.5 0.5 0 0.2", "zero-size box: w must be > 0, got 0"),
        ("0 0.5 0.5 0.2 -0.1", "zero-size box: h must be > 0, got -0.1"),
        ("0 1.7 0.5 0.2 0.2", "cx=1.7 is outside [0, 1] (coordinates must be normalised)"),
        ("0 320 240 50 50", "cx=320 is outside [0, 1] (coordinates must be normalised)"),
        ("0 0.95 0.5 0.2 0.2", "box [68, 16, 84, 24] lies outside the image (80×40) by 4 px"),
    ],
)
def test_bad_label_line_is_refused_with_file_and_line(project, make_yolo, unchanged, line, message):
    labels = {"划痕.txt": f"0 0.5 0.5 0.1 0.1\n\n1 0.5 0.5 0.1 0.1\n{line}\n"}

    report = import_dataset(project, make_yolo(labels), "yolo")

    assert messages_at(report.errors, f"{LABELS} line 4") == [message], str(report)
    unchanged()


def test_box_just_over_the_edge_is_clipped_with_a_warning(project, make_yolo):
    report = import_dataset(project, make_yolo({"划痕.txt": "0 0.99 0.5 0.03 0.5\n"}), "yolo")

    assert report.imported, str(report)
    assert messages_at(report.warnings, f"{LABELS} line 1") == [
        "box [78, 10, 80.4, 30] exceeds the image (80×40) by 0.4 px; clipped to it"
    ]
    assert boxes() == [("划痕.jpg", "scratch", 78, 10, 80, 30)]


def test_every_bad_line_of_every_file_is_listed(project, make_yolo, unchanged):
    labels = {"划痕.txt": "0 0.5\n7 0.5 0.5 0.1 0.1\n", "train/b.txt": "0 0.5 0.5 0.1 nan\n"}

    report = import_dataset(project, make_yolo(labels), "yolo")

    assert [p.location for p in report.errors] == [
        "labels/train/b.txt line 1",
        f"{LABELS} line 1",
        f"{LABELS} line 2",
    ]
    unchanged()


def test_label_file_without_image_is_skipped_with_a_warning(project, make_yolo):
    report = import_dataset(project, make_yolo({**{"gone.txt": "0 0.5 0.5 0.1 0.1\n"}}), "yolo")

    assert report.imported
    assert messages_at(report.warnings, "labels/gone.txt") == [
        "1 label file has no image and is skipped"
    ]
    assert Annotation.objects.count() == 0


def test_label_file_that_is_not_utf8_is_refused(project, make_yolo, unchanged):
    root = make_yolo()
    (root / LABELS).write_bytes("0 0.5 0.5 0.1 0.1 # 划痕\n".encode("gbk"))

    report = import_dataset(project, root, "yolo")

    assert messages_at(report.errors, LABELS) == ["not UTF-8 text (byte 20)"]
    unchanged()


def test_image_that_is_not_an_image_is_refused_by_name(project, make_yolo, unchanged):
    root = make_yolo()
    (root / "images" / "no_defect.jpg").write_text("hello")

    report = import_dataset(project, root, "yolo")

    assert messages_at(report.errors, "images/no_defect.jpg") == [
        "not an image (cannot identify image file)"
    ]
    unchanged()


def test_two_images_sharing_one_label_file_are_refused(project, make_yolo, unchanged):
    root = make_yolo()
    make_image(root / "images" / "划痕.png")

    report = import_dataset(project, root, "yolo")

    assert messages_at(report.errors, "images/划痕.png") == [
        "shares its label file labels/划痕.txt with images/划痕.jpg"
    ]
    unchanged()


def test_folder_without_images_is_refused(project, tmp_path, unchanged):
    root = tmp_path / "empty"
    (root / "images").mkdir(parents=True)
    (root / "classes.txt").write_text("a\n")

    report = import_dataset(project, root, "yolo")

    assert messages_at(report.errors, "images") == ["no images found"]
    unchanged()
