"""Fixtures that make small datasets (COCO, YOLO, zips) with Pillow, fast; the view tests' world."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from projects.models import Project
from tests.projects.datasets import (
    COCO_IMAGES,
    YOLO_LABELS,
    coco_data,
    db_counts,
    make_image,
    media_files,
)
from tests.projects.view_world import World, build_world


@pytest.fixture
def make_coco(tmp_path: Path) -> Callable[..., Path]:
    """Build a COCO folder: images under images/, the document as annotations.json (or raw)."""

    def build(
        data: dict | None = None,
        *,
        raw: str | None = None,
        name: str = "coco",
        sizes: dict[str, tuple[int, int]] | None = None,
    ) -> Path:
        root = tmp_path / name
        data = coco_data() if data is None else data
        for image in COCO_IMAGES:
            size = (sizes or {}).get(image["file_name"], (image["width"], image["height"]))
            make_image(root / "images" / image["file_name"], size)
        text = raw if raw is not None else json.dumps(data, ensure_ascii=False, indent=1)
        (root / "annotations.json").write_text(text, encoding="utf-8")
        return root

    return build


@pytest.fixture
def make_yolo(tmp_path: Path) -> Callable[..., Path]:
    """Build a YOLO folder: images/, labels/ and data.yaml (or another names file)."""

    def build(
        labels: dict[str, str] | None = None,
        *,
        names: str = "names: [scratch, 凹坑]\n",
        names_file: str = "data.yaml",
        name: str = "yolo",
    ) -> Path:
        root = tmp_path / name
        make_image(root / "images" / "划痕.jpg", (80, 40))
        make_image(root / "images" / "train" / "b.png", (20, 20))
        make_image(root / "images" / "no_defect.jpg", (16, 16))
        for rel, text in (YOLO_LABELS if labels is None else labels).items():
            path = root / "labels" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        (root / names_file).write_text(names, encoding="utf-8")
        return root

    return build


@pytest.fixture
def project(db) -> Project:
    return Project.objects.create(name="表面检测")


@pytest.fixture
def unchanged(project, settings) -> Callable[[], None]:
    """Call at the end of a test: asserts no row and no media file appeared since the start."""
    before = db_counts()

    def check() -> None:
        assert db_counts() == before
        assert media_files(settings) == []

    return check


@pytest.fixture
def world(owner, member, outsider) -> World:
    """The view tests' project world (view_world.build_world)."""
    return build_world(owner, member, outsider)
