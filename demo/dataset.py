"""The demo training data in memory: letterboxed splits and their augmentation."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from multiprocessing.pool import Pool
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from demo import LABELS
from demo.evaluate import Truth, as_box
from demo.preprocess import letterbox_pixels


@dataclass
class Split:
    """Letterboxed images of one split with boxes on the canvas and original-image truths."""

    pixels: torch.Tensor  # N×3×S×S uint8
    boxes: list[torch.Tensor]  # canvas x1 y1 x2 y2, float32 n×4
    labels: list[torch.Tensor]  # 0-based label index, int64 n
    frames: list[tuple[float, int, int, int, int]]  # scale, pad_x, pad_y, width, height
    truths: list[list[Truth]]  # original-image boxes


def _letterbox_file(job: tuple[Path, int]) -> tuple[np.ndarray, float, int, int]:
    """Letterboxed pixels of one image file."""
    path, size = job
    with Image.open(path) as image:
        return letterbox_pixels(image, size)


def load_split(split_dir: Path, size: int, workers: int = 1) -> Split:
    """Read a COCO split written by demo.synth and letterbox every image."""
    coco = json.loads((split_dir / "annotations.json").read_text(encoding="utf-8"))
    by_image: dict[int, list[dict]] = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    cat_index = {c["id"]: LABELS.index(c["name"]) for c in coco["categories"]}
    jobs = [(split_dir / "images" / info["file_name"], size) for info in coco["images"]]
    if workers > 1:
        with Pool(workers) as pool:
            canvases = pool.map(_letterbox_file, jobs, chunksize=8)
    else:
        canvases = [_letterbox_file(job) for job in jobs]
    pixels = torch.empty((len(jobs), 3, size, size), dtype=torch.uint8)
    split = Split(pixels, [], [], [], [])
    for i, (info, (canvas, scale, pad_x, pad_y)) in enumerate(
        zip(coco["images"], canvases, strict=True)
    ):
        pixels[i] = torch.from_numpy(canvas.copy()).permute(2, 0, 1)
        anns = by_image.get(info["id"], [])
        xyxy = [(x, y, x + w, y + h) for x, y, w, h in (a["bbox"] for a in anns)]
        labels = [cat_index[a["category_id"]] for a in anns]
        boxes = torch.tensor(xyxy, dtype=torch.float32).reshape(-1, 4) * scale
        boxes[:, [0, 2]] += pad_x
        boxes[:, [1, 3]] += pad_y
        split.boxes.append(boxes)
        split.labels.append(torch.tensor(labels, dtype=torch.int64))
        split.frames.append((scale, pad_x, pad_y, info["width"], info["height"]))
        split.truths.append([Truth(lab, as_box(b)) for lab, b in zip(labels, xyxy, strict=True)])
    return split


def _crop_origin(
    b: torch.Tensor, size: int, crop: int, rng: np.random.Generator
) -> tuple[int, int]:
    """Top-left of a crop; usually one that holds a randomly chosen box whole."""
    free = size - crop
    origin = [int(rng.integers(0, free + 1)), int(rng.integers(0, free + 1))]
    if len(b) and rng.random() < 0.8:
        box = b[int(rng.integers(len(b)))].tolist()
        for axis in (0, 1):
            lo = max(0, math.ceil(box[axis + 2]) - crop)
            hi = min(free, math.floor(box[axis]))
            if lo <= hi:
                origin[axis] = int(rng.integers(lo, hi + 1))
    return origin[0], origin[1]


def _crop(
    img: torch.Tensor, b: torch.Tensor, lab: torch.Tensor, crop: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cut a crop×crop window; keep boxes at least 60% inside it, clipped to it."""
    ox, oy = _crop_origin(b, img.shape[-1], crop, rng)
    img = img[:, oy : oy + crop, ox : ox + crop]
    moved = b - torch.tensor([ox, oy, ox, oy], dtype=b.dtype)
    clipped = moved.clamp(0, crop)
    area = (moved[:, 2] - moved[:, 0]) * (moved[:, 3] - moved[:, 1])
    cw, ch = clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]
    keep = (cw * ch >= 0.6 * area) & (cw >= 3) & (ch >= 3)
    return img, clipped[keep], lab[keep]


def augment(
    pixels: torch.Tensor,
    boxes: list[torch.Tensor],
    labels: list[torch.Tensor],
    rng: np.random.Generator,
    crop: int,
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """The 8 symmetries of the square, a random crop, brightness/contrast/colour jitter."""
    size = pixels.shape[-1]
    images, out_boxes, out_labels = [], [], []
    for img, b, lab in zip(pixels, boxes, labels, strict=True):
        b = b.clone()
        flip_x, flip_y, swap = rng.random(3) < 0.5
        if flip_x:
            img = img.flip(2)
            b[:, [0, 2]] = size - b[:, [2, 0]]
        if flip_y:
            img = img.flip(1)
            b[:, [1, 3]] = size - b[:, [3, 1]]
        if swap:
            img = img.transpose(1, 2)
            b = b[:, [1, 0, 3, 2]]
        if crop < size:
            img, b, lab = _crop(img, b, lab, crop, rng)
        images.append(img)
        out_boxes.append(b)
        out_labels.append(lab)
    x = torch.stack(images).float()
    n = x.shape[0]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = torch.from_numpy(rng.uniform(0.75, 1.3, (n, 1, 1, 1)).astype(np.float32))
    gain = torch.from_numpy(rng.uniform(0.94, 1.06, (n, 3, 1, 1)).astype(np.float32))
    shift = torch.from_numpy(rng.uniform(-25, 25, (n, 1, 1, 1)).astype(np.float32))
    x = ((x - mean) * contrast * gain + mean + shift).clamp(0, 255)
    return x, out_boxes, out_labels
