"""The command line's former COCO converter (json.load + NumPy): the Rust reader's reference.

metrics_rs.read_coco must accept exactly what this accepts and give the same arrays.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from validation.analysis.coco import BadInput, CocoRun


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; a missing or broken file is a BadInput naming it."""
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except OSError as e:
        raise BadInput(f"{path}: cannot read the file ({e.strerror or e})") from e
    except UnicodeDecodeError as e:
        raise BadInput(f"{path}: not UTF-8 text ({e.reason})") from e
    except json.JSONDecodeError as e:
        raise BadInput(f"{path}: not valid JSON ({e.msg}, line {e.lineno} column {e.colno})") from e


def _records(data: Any, key: str | None, where: str) -> list[dict]:
    """`data[key]` (or `data`) as a list of objects."""
    if key is not None:
        if not isinstance(data, dict):
            raise BadInput(f"{where}: expected a COCO data set (a JSON object)")
        if key not in data:
            raise BadInput(f'{where}: "{key}" is missing')
        data = data[key]
        where = f"{where}: {key}"
    if not isinstance(data, list):
        raise BadInput(f"{where}: expected a list")
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise BadInput(f"{where}[{i}]: expected an object")
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _first_bad(records: list[dict], where: str, fields: dict[str, str]) -> BadInput:
    """The located message for the first record whose fields have the wrong form."""
    for i, item in enumerate(records):
        for name, kind in fields.items():
            if name not in item:
                return BadInput(f'{where}[{i}]: "{name}" is missing')
            value = item[name]
            if kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
                return BadInput(f'{where}[{i}]: "{name}" must be an integer, got {value!r}')
            if kind == "number" and not _is_number(value):
                return BadInput(f'{where}[{i}]: "{name}" must be a number, got {value!r}')
            if kind == "bbox" and not (
                isinstance(value, list) and len(value) == 4 and all(map(_is_number, value))
            ):
                return BadInput(f'{where}[{i}]: "bbox" must be 4 numbers [x, y, w, h]')
    return BadInput(f"{where}: a value is out of range")


def _columns(records: list[dict], where: str, fields: dict[str, str]) -> dict[str, np.ndarray]:
    """Fields of every record as arrays; the first malformed record is reported."""
    n = len(records)
    try:
        out: dict[str, np.ndarray] = {}
        for name, kind in fields.items():
            if kind == "bbox":
                out[name] = np.array([r[name] for r in records], dtype=np.float64).reshape(n, 4)
            elif kind == "int":
                out[name] = np.fromiter((r[name] for r in records), dtype=np.int64, count=n)
            else:
                out[name] = np.fromiter((r[name] for r in records), dtype=np.float64, count=n)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise _first_bad(records, where, fields) from None
    for name, values in out.items():
        bad = ~np.isfinite(values).all(axis=1) if values.ndim == 2 else ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise BadInput(f'{where}[{i}]: "{name}" is not finite')
    for name in (n for n, k in fields.items() if k == "bbox"):
        bad = (out[name][:, 2] < 0) | (out[name][:, 3] < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise BadInput(f'{where}[{i}]: "bbox" has a negative width or height')
    return out


def _index_of(ids: np.ndarray, sorted_ids: np.ndarray, where: str, what: str, of: str):
    """Position of each id in `sorted_ids`; an unknown id is a BadInput."""
    pos = np.searchsorted(sorted_ids, ids)
    if len(sorted_ids):
        known = sorted_ids[np.minimum(pos, len(sorted_ids) - 1)] == ids
    else:
        known = np.zeros(len(ids), dtype=bool)
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        raise BadInput(f"{where}[{i}]: {what} {ids[i]} is not {of}")
    return pos


def _unique_sorted(ids: np.ndarray, where: str, what: str) -> np.ndarray:
    order = np.argsort(ids, kind="stable")
    dup = np.flatnonzero(np.diff(ids[order]) == 0)
    if dup.size:
        i = int(order[dup[0] + 1])
        raise BadInput(f"{where}[{i}]: {what} {ids[i]} appears twice")
    return ids[order]


def _xyxy(xywh: np.ndarray) -> np.ndarray:
    boxes = xywh.copy()
    boxes[:, 2] += boxes[:, 0]
    boxes[:, 3] += boxes[:, 1]
    return boxes


def _group(image_index: np.ndarray, num_images: int) -> tuple[np.ndarray, np.ndarray]:
    """Stable order by image, and the per-image offsets."""
    order = np.argsort(image_index, kind="stable")
    counts = np.bincount(image_index, minlength=num_images)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return order, offsets


def coco_to_arrays(
    dataset: Any, results: Any, gt_name: str = "dataset", pred_name: str = "results"
) -> CocoRun:
    """COCO data set and results dicts -> flat arrays; labels = category ids ascending."""
    categories = _records(dataset, "categories", gt_name)
    cat = _columns(categories, f"{gt_name}: categories", {"id": "int"})
    cat_ids = _unique_sorted(cat["id"], f"{gt_name}: categories", "id")
    by_id = {int(c["id"]): c for c in categories}
    labels = []
    for cid in cat_ids:
        name = by_id[int(cid)].get("name")
        if not isinstance(name, str):
            raise BadInput(f'{gt_name}: category {cid} has no "name"')
        if name in labels:
            raise BadInput(f'{gt_name}: the category name "{name}" is used twice')
        labels.append(name)
    images = _records(dataset, "images", gt_name)
    image_ids = _unique_sorted(
        _columns(images, f"{gt_name}: images", {"id": "int"})["id"], f"{gt_name}: images", "id"
    )
    anns = _records(dataset, "annotations", gt_name)
    fields = {"image_id": "int", "category_id": "int", "bbox": "bbox"}
    gt = _columns(anns, f"{gt_name}: annotations", fields)
    where = f"{gt_name}: annotations"
    gt_image = _index_of(gt["image_id"], image_ids, where, "image_id", "an image of the data set")
    gt_label = _index_of(gt["category_id"], cat_ids, where, "category_id", "a category")
    preds = _records(results, None, pred_name)
    fields = {"image_id": "int", "category_id": "int", "bbox": "bbox", "score": "number"}
    pr = _columns(preds, pred_name, fields)
    of_gt = f"in {gt_name}"
    pred_image = _index_of(pr["image_id"], image_ids, pred_name, "image_id", f"an image {of_gt}")
    pred_label = _index_of(
        pr["category_id"], cat_ids, pred_name, "category_id", f"a category {of_gt}"
    )
    gt_order, gt_offsets = _group(gt_image, len(image_ids))
    pred_order, pred_offsets = _group(pred_image, len(image_ids))
    return CocoRun(
        labels=labels,
        category_ids=cat_ids,
        image_ids=image_ids,
        gt_boxes=_xyxy(gt["bbox"][gt_order]),
        gt_labels=gt_label[gt_order].astype(np.int64),
        gt_offsets=gt_offsets,
        pred_boxes=_xyxy(pr["bbox"][pred_order]),
        pred_labels=pred_label[pred_order].astype(np.int64),
        pred_scores=pr["score"][pred_order],
        pred_offsets=pred_offsets,
    )
