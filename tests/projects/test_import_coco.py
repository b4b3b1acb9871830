"""Importing COCO datasets: the happy path, warnings, and every located error."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from django.db import DatabaseError

from projects.datasets import import_dataset
from projects.models import Annotation, Image, Label, Task
from tests.projects.datasets import coco_data, make_image, media_files, messages_at, zip_folder

pytestmark = pytest.mark.django_db


def boxes(task: Task) -> list[tuple]:
    rows = Annotation.objects.filter(image__task=task).order_by("image__name", "id")
    return [(a.image.name, a.label.name, a.x1, a.y1, a.x2, a.y2) for a in rows]


def test_coco_folder_imports_labels_images_and_boxes(project, make_coco, settings, owner):
    root = make_coco()

    report = import_dataset(project, root, "coco", task_name="批次 1", validation=True, user=owner)

    assert report.ok and report.imported, str(report)
    assert report.warnings == []
    assert (report.images, report.annotations) == (3, 3)
    assert report.labels_created == ["凹坑", "scratch"]  # category-id order, not file order
    assert report.label_counts == {"凹坑": 1, "scratch": 2}
    assert list(project.labels.values_list("name", "order")) == [("凹坑", 0), ("scratch", 1)]
    task = Task.objects.get(project=project, name="批次 1")
    assert task.is_validation
    assert boxes(task) == [
        ("sub/b.png", "scratch", 2.5, 3.5, 12.5, 8.5),
        ("划痕.jpg", "凹坑", 10, 5, 30, 15),
        ("划痕.jpg", "scratch", 0, 0, 64, 48),
    ]
    assert set(Annotation.objects.values_list("updated_by", flat=True)) == {owner.pk}
    image = Image.objects.get(name="划痕.jpg")
    source = (root / "images" / "划痕.jpg").read_bytes()
    assert (image.width, image.height) == (64, 48)
    assert image.checksum == hashlib.sha256(source).hexdigest()
    assert image.file.name == f"projects/{project.pk}/tasks/{task.pk}/划痕.jpg"
    assert Path(image.file.path).read_bytes() == source
    assert len(media_files(settings)) == 3


def test_coco_zip_with_a_wrapping_folder_imports(project, make_coco, tmp_path):
    archive = zip_folder(make_coco(), tmp_path / "数据集.zip", prefix="数据集/")

    report = import_dataset(project, archive, "coco")

    assert report.imported, str(report)
    assert report.task_name == "数据集"
    assert Image.objects.filter(task__name="数据集").count() == 3


def test_coco_json_file_as_source_finds_images_beside_it(project, make_coco):
    root = make_coco()

    report = import_dataset(project, root / "annotations.json", "coco")

    assert report.imported, str(report)
    assert report.task_name == "coco"  # the folder's name, not "annotations"


def test_a_folder_holding_only_images_is_not_mistaken_for_a_wrapper(project, tmp_path):
    root = tmp_path / "only"
    make_image(root / "images" / "a.jpg")

    report = import_dataset(project, root, "coco")

    assert messages_at(report.errors, "dataset") == [
        "no COCO annotation file (.json) at the top of the dataset or in annotations/"
    ]


def test_existing_labels_are_reused_and_new_ones_follow(project, make_coco):
    Label.objects.create(project=project, name="scratch", order=4)

    report = import_dataset(project, make_coco(), "coco")

    assert report.labels_created == ["凹坑"]
    assert list(project.labels.values_list("name", "order")) == [("scratch", 4), ("凹坑", 5)]


def test_existing_task_is_refused_unless_appending(project, make_coco, tmp_path):
    assert import_dataset(project, make_coco(), "coco", task_name="t").imported
    images_before = Image.objects.count()

    refused = import_dataset(project, make_coco(name="other"), "coco", task_name="t")
    again = import_dataset(project, make_coco(name="other"), "coco", task_name="t", append=True)

    assert messages_at(refused.errors, "task “t”") == [
        "already exists in project “表面检测”; choose another task name, or choose to add the "
        "images to it"
    ]
    assert "images/划痕.jpg" in [p.location for p in again.errors]
    assert messages_at(again.errors, "images/划痕.jpg") == [
        "the task already has an image with this name"
    ]
    assert Image.objects.count() == images_before


def test_append_adds_new_images_to_the_task(project, make_coco):
    assert import_dataset(project, make_coco(), "coco", task_name="t").imported
    data = coco_data(images=[{"id": 1, "file_name": "new.jpg"}], annotations=[])
    root = make_coco(data, name="more")
    make_image(root / "images" / "new.jpg")

    report = import_dataset(project, root, "coco", task_name="t", append=True, validation=True)

    assert report.imported, str(report)
    assert not report.task_created
    assert Image.objects.filter(task__name="t").count() == 4
    assert Task.objects.get(name="t").is_validation


def test_dry_run_checks_but_writes_nothing(make_coco, project, unchanged):
    report = import_dataset(project, make_coco(), "coco", dry_run=True)

    assert report.ok and not report.imported
    assert report.summary().startswith("Check passed: 3 images and 3 annotations")
    unchanged()


def test_failed_write_rolls_back_rows_and_removes_files(project, make_coco, unchanged, monkeypatch):
    def fail(*args, **kwargs):
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(Annotation.objects, "bulk_create", fail)

    report = import_dataset(project, make_coco(), "coco")

    assert not report.imported
    assert messages_at(report.errors, "dataset") == [
        "the import failed and was rolled back (disk I/O error)"
    ]
    unchanged()


def test_scratch_folder_is_removed_after_a_zip_import(project, make_coco, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))

    import_dataset(project, zip_folder(make_coco(), tmp_path / "d.zip"), "coco")

    assert list(scratch.iterdir()) == []


# ---- warnings: imported, but said ----


def test_box_within_one_pixel_outside_is_clipped_with_a_warning(project, make_coco):
    data = coco_data()
    data["annotations"][0]["bbox"] = [-0.5, 40, 10, 8.8]  # y2 = 48.8 on a 48 px image

    report = import_dataset(project, make_coco(data), "coco")

    assert report.imported, str(report)
    assert messages_at(report.warnings, "annotations.json: annotations[0].bbox") == [
        "box [-0.5, 40, 9.5, 48.8] exceeds the image (64×48) by 0.8 px; clipped to it"
    ]
    box = Annotation.objects.get(label__name="凹坑")
    assert (box.x1, box.y1, box.x2, box.y2) == (0, 40, 9.5, 48)


def test_declared_size_that_differs_is_a_warning_and_the_file_wins(project, make_coco):
    report = import_dataset(project, make_coco(sizes={"empty.jpg": (50, 20)}), "coco")

    assert report.imported, str(report)
    assert messages_at(report.warnings, "annotations.json: images[2]") == [
        "declared size 32×32 differs from the file's 50×20; the file's size is used"
    ]
    assert Image.objects.values_list("width", "height").get(name="empty.jpg") == (50, 20)


def test_exif_rotated_image_uses_the_size_as_shown(project, make_coco):
    data = coco_data(annotations=[])
    root = make_coco(data)
    make_image(root / "images" / "empty.jpg", (32, 32))
    make_image(root / "images" / "划痕.jpg", (64, 48), orientation=6)  # shown as 48×64

    report = import_dataset(project, root, "coco")

    assert report.imported, str(report)
    assert messages_at(report.warnings, "annotations.json: images[0]") == [
        "declared size 64×48 is the size before the EXIF orientation; the image is shown as "
        "48×64 and its boxes are read on the image as shown"
    ]
    assert Image.objects.values_list("width", "height").get(name="划痕.jpg") == (48, 64)


def test_iscrowd_is_ignored_with_one_warning(project, make_coco):
    data = coco_data()
    for annotation in data["annotations"][1:]:
        annotation["iscrowd"] = 1

    report = import_dataset(project, make_coco(data), "coco")

    assert report.imported
    assert messages_at(report.warnings, "annotations.json: annotations[1]") == [
        "2 annotations have iscrowd set; it is ignored and they are imported as ordinary boxes"
    ]


def test_unlisted_image_files_are_skipped_with_a_warning(project, make_coco):
    root = make_coco()
    make_image(root / "images" / "extra.jpg")

    report = import_dataset(project, root, "coco")

    assert report.imported
    assert messages_at(report.warnings, "images/extra.jpg") == [
        "1 image file is not listed in annotations.json and is not imported"
    ]
    assert not Image.objects.filter(name="extra.jpg").exists()


# ---- errors: located, and nothing written ----


def _set(path: str, value):
    """A change to the standard document: set data[a][i][b] = value (or delete it)."""

    def change(data: dict) -> dict:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        key = int(last) if last.isdigit() else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = value
        return data

    return change


DELETE = object()

BAD_DOCUMENTS = [
    (_set("categories", DELETE), "annotations.json: categories", "missing key"),
    (_set("images", {}), "annotations.json: images", "must be a list, got object"),
    (_set("images.0.file_name", DELETE), "annotations.json: images[0].file_name", "missing key"),
    (
        _set("images.0.file_name", 5),
        "annotations.json: images[0].file_name",
        "must be a string, got number",
    ),
    (_set("images.0.id", "7"), "annotations.json: images[0].id", 'must be an integer, got "7"'),
    (
        _set("images.1.id", 7),
        "annotations.json: images[1].id",
        "duplicate image id 7 (also images[0])",
    ),
    (
        _set("images.2.file_name", "划痕.jpg"),
        "annotations.json: images[2].file_name",
        "duplicate file name “划痕.jpg” (also images[0])",
    ),
    (_set("images.0.width", 0), "annotations.json: images[0].width", "must be > 0, got 0"),
    (_set("images.0.height", -48), "annotations.json: images[0].height", "must be > 0, got -48"),
    (
        _set("images.0.file_name", "/etc/passwd"),
        "annotations.json: images[0].file_name",
        "absolute path “/etc/passwd” is not allowed",
    ),
    (
        _set("images.0.file_name", "../../outside.jpg"),
        "annotations.json: images[0].file_name",
        "path “../../outside.jpg” climbs out of the dataset with “..”",
    ),
    (
        _set("images.0.file_name", "images/../../x.jpg"),
        "annotations.json: images[0].file_name",
        "path “images/../../x.jpg” climbs out of the dataset with “..”",
    ),
    (
        _set("images.0.file_name", "C:\\data\\a.jpg"),
        "annotations.json: images[0].file_name",
        "path “C:\\data\\a.jpg” starts with a drive letter",
    ),
    (
        _set("images.0.file_name", "missing.jpg"),
        "annotations.json: images[0].file_name",
        "image file not found (looked for missing.jpg, images/missing.jpg)",
    ),
    (
        _set("categories.1.id", 3),
        "annotations.json: categories[1].id",
        "duplicate category id 3 (also categories[0])",
    ),
    (
        _set("categories.1.name", "scratch"),
        "annotations.json: categories[1].name",
        "duplicate category name “scratch” (also categories[0])",
    ),
    (
        _set("categories.0.name", " "),
        "annotations.json: categories[0].name",
        'must be a non-empty string, got " "',
    ),
    (
        _set("annotations.0", [1, 2]),
        "annotations.json: annotations[0]",
        "must be an object, got list",
    ),
    (
        _set("annotations.1.id", 1),
        "annotations.json: annotations[1].id",
        "duplicate annotation id 1 (also annotations[0])",
    ),
    (
        _set("annotations.0.category_id", 99),
        "annotations.json: annotations[0].category_id",
        "unknown category id 99",
    ),
    (
        _set("annotations.2.image_id", 42),
        "annotations.json: annotations[2].image_id",
        "unknown image id 42",
    ),
    (
        _set("annotations.0.image_id", DELETE),
        "annotations.json: annotations[0].image_id",
        "missing key",
    ),
    (
        _set("annotations.0.bbox", [1, 2, 3]),
        "annotations.json: annotations[0].bbox",
        "must be a list of 4 numbers [x, y, width, height], got [1, 2, 3]",
    ),
    (
        _set("annotations.0.bbox", [1, "2", 3, 4]),
        "annotations.json: annotations[0].bbox",
        'y must be a number, got "2"',
    ),
    (
        _set("annotations.0.bbox", [1, 2, float("nan"), 4]),
        "annotations.json: annotations[0].bbox",
        "width must be finite, got nan",
    ),
    (
        _set("annotations.0.bbox", [float("inf"), 2, 3, 4]),
        "annotations.json: annotations[0].bbox",
        "x must be finite, got inf",
    ),
    (
        _set("annotations.0.bbox", [1, 2, -20, 4]),
        "annotations.json: annotations[0].bbox",
        "width must be > 0, got -20",
    ),
    (
        _set("annotations.0.bbox", [1, 2, 3, 0]),
        "annotations.json: annotations[0].bbox",
        "height must be > 0, got 0",
    ),
    (
        _set("annotations.0.bbox", [60, 5, 20, 10]),
        "annotations.json: annotations[0].bbox",
        "box [60, 5, 80, 15] lies outside the image (64×48) by 16 px",
    ),
    (
        _set("annotations.0.bbox", [-5, 0, 10, 10]),
        "annotations.json: annotations[0].bbox",
        "box [-5, 0, 5, 10] lies outside the image (64×48) by 5 px",
    ),
    (
        _set("annotations.2.bbox", [40.5, 0, 0.2, 5]),
        "annotations.json: annotations[2].bbox",
        "box [40.5, 0, 40.7, 5] has no area inside the image",
    ),
]


@pytest.mark.parametrize(("change", "location", "message"), BAD_DOCUMENTS)
def test_bad_coco_document_is_refused_with_a_located_message(
    project, make_coco, unchanged, change, location, message
):
    report = import_dataset(project, make_coco(change(coco_data())), "coco")

    assert not report.imported
    assert message in messages_at(report.errors, location), str(report)
    unchanged()


@pytest.mark.parametrize(
    ("raw", "location", "message"),
    [
        (
            '{"images": [\n  {"id": 1,, "x": 2}\n]}',
            "annotations.json line 2 column 12",
            "invalid JSON: Expecting property name enclosed in double quotes",
        ),
        (
            '{"images": []',
            "annotations.json line 1 column 14",
            "invalid JSON: Expecting ',' delimiter",
        ),
        ("", "annotations.json line 1 column 1", "invalid JSON: Expecting value"),
        (
            "[1, 2]",
            "annotations.json",
            "the top level must be an object with images, annotations and categories",
        ),
        ("[" * 100_000, "annotations.json", "invalid JSON: nested too deeply"),
    ],
)
def test_broken_coco_file_is_refused_with_line_and_column(
    project, make_coco, unchanged, raw, location, message
):
    report = import_dataset(project, make_coco(raw=raw), "coco")

    assert messages_at(report.errors, location) == [message], str(report)
    unchanged()


def test_coco_file_that_is_not_utf8_is_refused(project, make_coco, unchanged):
    root = make_coco()
    (root / "annotations.json").write_bytes('{"images": "划痕"}'.encode("gbk"))

    report = import_dataset(project, root, "coco")

    assert messages_at(report.errors, "annotations.json") == ["not UTF-8 text (byte 12)"]
    unchanged()


def test_every_problem_is_reported_at_once(project, make_coco, unchanged):
    data = coco_data()
    data["annotations"][0]["category_id"] = 99
    data["annotations"][1]["bbox"] = [0, 0, 0, 1]
    data["images"][1]["file_name"] = "../x.png"

    report = import_dataset(project, make_coco(data), "coco")

    assert [p.location for p in report.errors] == [
        "annotations.json: images[1].file_name",
        "annotations.json: annotations[0].category_id",
        "annotations.json: annotations[1].bbox",
        "annotations.json: annotations[2].image_id",
    ]
    assert str(report).splitlines()[0] == "Import refused: 4 errors; nothing was written."
    unchanged()


def test_two_annotation_files_are_ambiguous(project, make_coco, unchanged):
    root = make_coco()
    (root / "other.json").write_text("{}")
    (root / "annotations.json").rename(root / "first.json")

    report = import_dataset(project, root, "coco")

    assert messages_at(report.errors, "dataset") == [
        "several annotation files (first.json, other.json); keep only one"
    ]
    unchanged()


def test_missing_source_is_reported(project, tmp_path, unchanged):
    report = import_dataset(project, tmp_path / "nothing.zip", "coco")

    assert messages_at(report.errors, "nothing.zip") == ["does not exist"]
    unchanged()


def test_symlinked_image_pointing_outside_is_refused(project, make_coco, tmp_path, unchanged):
    root = make_coco()
    secret = make_image(tmp_path / "secret.jpg")
    (root / "images" / "划痕.jpg").unlink()
    (root / "images" / "划痕.jpg").symlink_to(secret)

    report = import_dataset(project, root, "coco")

    assert messages_at(report.errors, "annotations.json: images[0].file_name") == [
        "symbolic link pointing outside the dataset"
    ]
    unchanged()


def test_unknown_format_is_a_programming_error(project, make_coco):
    with pytest.raises(ValueError, match="unknown dataset format"):
        import_dataset(project, make_coco(), "voc")  # type: ignore[arg-type]


def test_report_text_lists_located_problems(project, make_coco):
    data = coco_data()
    data["annotations"][0]["bbox"] = [1, 2, -3, 4]

    report = import_dataset(project, make_coco(data), "coco")

    assert str(report).splitlines() == [
        "Import refused: 1 error; nothing was written.",
        "Errors:",
        "  annotations.json: annotations[0].bbox: width must be > 0, got -3",
    ]
    assert json.loads(json.dumps([p.location for p in report.errors]))
