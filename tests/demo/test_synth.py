"""The synthetic demo dataset: deterministic, valid COCO, tight boxes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from demo import LABELS
from demo.defects import visible_box
from demo.synth import MAX_SIDE, MIN_SIDE, render_image, write_dataset


def _files(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def test_same_seed_writes_identical_bytes(tmp_path):
    write_dataset(tmp_path / "a", seed=3, train_images=3, val_images=2)
    write_dataset(tmp_path / "b", seed=3, train_images=3, val_images=2, workers=2)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(a) == [
        "train/annotations.json",
        "train/images/train_00000.jpg",
        "train/images/train_00001.jpg",
        "train/images/train_00002.jpg",
        "val/annotations.json",
        "val/images/val_00000.jpg",
        "val/images/val_00001.jpg",
    ]
    assert a == b


def test_another_seed_gives_other_images():
    first, _ = render_image(1, "val", 0)
    second, _ = render_image(2, "val", 0)
    assert first.size != second.size or first.tobytes() != second.tobytes()


def test_train_and_val_do_not_share_images():
    train, _ = render_image(7, "train", 5)
    val, _ = render_image(7, "val", 5)
    assert train.size != val.size or train.tobytes() != val.tobytes()


def test_coco_file_is_consistent_with_the_images(tmp_path):
    write_dataset(tmp_path, seed=11, train_images=2, val_images=6)
    coco = json.loads((tmp_path / "val" / "annotations.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in coco["categories"]] == list(LABELS)
    assert [c["id"] for c in coco["categories"]] == [1, 2, 3, 4]
    sizes = {}
    for info in coco["images"]:
        with Image.open(tmp_path / "val" / "images" / info["file_name"]) as image:
            assert image.size == (info["width"], info["height"])
            assert image.mode == "RGB"
        sizes[info["id"]] = image.size
    ids = [a["id"] for a in coco["annotations"]]
    assert len(set(ids)) == len(ids)
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        width, height = sizes[ann["image_id"]]
        assert w > 0 and h > 0 and x >= 0 and y >= 0
        assert x + w <= width and y + h <= height
        assert ann["area"] == w * h
        assert ann["category_id"] in (1, 2, 3, 4)


def test_images_vary_and_boxes_lie_inside():
    counts = np.zeros(5, int)
    empty, widths, heights = 0, set(), set()
    for index in range(30):
        image, defects = render_image(7, "train", index)
        width, height = image.size
        widths.add(width)
        heights.add(height)
        assert MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE
        empty += not defects
        for d in defects:
            x1, y1, x2, y2 = d.box
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
            counts[d.category_id] += 1
    assert empty >= 1
    assert len(widths) > 10 and len(heights) > 10
    assert all(counts[1:] > 0)
    assert counts[4] < counts[1]  # cracks are the rarer defect


def test_box_hugs_what_was_drawn():
    effect = np.zeros((40, 50), np.float32)
    effect[10:20, 5:31] = 30.0  # visible
    effect[25, 40] = 2.0  # below the visibility threshold
    assert visible_box(effect, 100, 200) == (105, 210, 131, 220)
