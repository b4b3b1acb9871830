"""Which annotation format a dataset looks like, so a refusal can name it."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _

from projects.datasets.walk import dataset_files

HEAD_BYTES = 64 * 1024
MAX_LOOKED_AT = 20
NAMES = {"coco": "COCO", "yolo": "YOLO", "labelme": "LabelMe", "voc": "Pascal VOC"}
IMPORTABLE = ("coco", "yolo")


def _head(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            return fh.read(HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _json_kind(head: str) -> str | None:
    if '"shapes"' in head and ('"imagePath"' in head or '"imageHeight"' in head):
        return "labelme"
    if '"images"' in head or '"annotations"' in head or '"categories"' in head:
        return "coco"
    return None


def looks_like(root: Path) -> str | None:
    """coco, yolo, labelme or voc, judged by the first annotation files found; None if unclear."""
    files = dataset_files(root)
    looked_at = 0
    for path in files:
        suffix = path.suffix.lower()
        if suffix not in (".json", ".xml") or looked_at >= MAX_LOOKED_AT:
            continue
        looked_at += 1
        head = _head(path)
        if suffix == ".xml" and "<annotation" in head and "<bndbox" in head:
            return "voc"
        if suffix == ".json" and (kind := _json_kind(head)):
            return kind
    names = {path.name for path in files}
    if {"data.yaml", "dataset.yaml", "classes.txt", "obj.names"} & names or (
        root / "labels"
    ).is_dir():
        return "yolo"
    return None


def format_hint(root: Path, chosen: str) -> str | None:
    """A sentence naming the format the dataset looks like, when it is not the chosen one."""
    kind = looks_like(root)
    if kind is None or kind == chosen:
        return None
    params = {"format": NAMES[kind], "chosen": NAMES.get(chosen, chosen)}
    if kind in IMPORTABLE:
        return (
            _("this looks like a %(format)s dataset, not %(chosen)s: choose the %(format)s format")
            % params
        )
    return (
        _(
            "this looks like a %(format)s dataset; %(format)s is not supported yet: convert it "
            "to COCO or YOLO first"
        )
        % params
    )
