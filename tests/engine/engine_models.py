"""Tiny detectors with predictable outputs, and images to feed them, for the engine tests."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.export import Dim

from validation.engine import ModelSpec


def spec(path, labels=("a", "b"), **kwargs) -> ModelSpec:
    """The spec of a test model file: format detected, 128 px unless `kwargs` say otherwise."""
    kwargs.setdefault("input_size", 128)
    return ModelSpec(str(path), "auto", labels, **kwargs)


def bright_box(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per image: bounding box (input pixels) of channel 0 > 0.5, max of channel 1, class."""
    mask = x[:, 0] > 0.5
    cols = mask.any(dim=1)
    rows = mask.any(dim=2)
    ax = torch.arange(x.shape[3], device=x.device).to(x.dtype)
    ay = torch.arange(x.shape[2], device=x.device).to(x.dtype)
    big = 1.0e6
    x1 = torch.where(cols, ax, big).amin(dim=1)
    x2 = torch.where(cols, ax + 1, -big).amax(dim=1)
    y1 = torch.where(rows, ay, big).amin(dim=1)
    y2 = torch.where(rows, ay + 1, -big).amax(dim=1)
    found = cols.any(dim=1)
    zero = torch.zeros_like(x1)
    boxes = torch.stack([x1, y1, x2, y2], dim=1)
    boxes = torch.where(found.unsqueeze(1), boxes, zero.unsqueeze(1).expand(-1, 4))
    score = torch.where(found, x[:, 1].amax(dim=(1, 2)), zero)
    cls = (x[:, 2].amax(dim=(1, 2)) > 0.5).to(x.dtype)
    return boxes, score, cls


def bright_box_rows(x: torch.Tensor) -> torch.Tensor:
    """Padded B×2×6: the bright box, then a padding row of zeros."""
    boxes, score, cls = bright_box(x)
    row = torch.cat([boxes, score.unsqueeze(1), cls.unsqueeze(1)], dim=1)
    return torch.stack([row, torch.zeros_like(row)], dim=1)


class BrightBoxNx6(nn.Module):
    """Padded B×2×6 bright-box detections (with a conv layer, so it has weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bright_box_rows(x) + 0.0 * self.conv(x).mean()


class BrightBoxNx6List(nn.Module):
    """The same as a list of one N×6 tensor per image."""

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(bright_box_rows(x).unbind(0))


class BrightBoxYolo(nn.Module):
    """Raw head B×(4+3)×4: the box; a shifted duplicate; the box as the next class; nothing."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        boxes, score, cls = bright_box(x)
        cxcywh = torch.stack(
            [
                (boxes[:, 0] + boxes[:, 2]) / 2,
                (boxes[:, 1] + boxes[:, 3]) / 2,
                boxes[:, 2] - boxes[:, 0],
                boxes[:, 3] - boxes[:, 1],
            ],
            dim=1,
        )
        onehot = nn.functional.one_hot(cls.long(), 3).to(x.dtype)
        nxt = nn.functional.one_hot(((cls.long() + 1) % 3), 3).to(x.dtype)
        shift = torch.tensor([1.0, 1.0, 0.0, 0.0], device=x.device, dtype=x.dtype)
        a0 = torch.cat([cxcywh, onehot * score.unsqueeze(1)], dim=1)
        a1 = torch.cat([cxcywh + shift, onehot * score.unsqueeze(1) * 0.9], dim=1)
        a2 = torch.cat([cxcywh, nxt * score.unsqueeze(1) * 0.5], dim=1)
        a3 = torch.zeros_like(a0)
        head = torch.stack([a0, a1, a2, a3], dim=2)  # B × 7 × 4
        return head, x[:, :1, :2, :2]


# The rows FixedRows emits in the engine tests, each (x1, y1, x2, y2, score, class).
ROWS = [
    [10.0, 10.0, 20.0, 20.0, 0.9, 0.0],
    [11.0, 10.0, 20.0, 20.0, 0.0005, 1.0],
    [12.0, 10.0, 20.0, 20.0, 0.5, 1.0],
    [13.0, 10.0, 20.0, 20.0, 0.5, 0.0],
    [14.0, 10.0, 20.0, 20.0, 0.3, 1.0],
    [15.0, 10.0, 20.0, 20.0, 0.5, 1.0],
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
]


class FixedRows(nn.Module):
    """Always the same N×6 rows per image (for floor, cap and order tests)."""

    def __init__(self, rows: list[list[float]]) -> None:
        super().__init__()
        self.register_buffer("rows", torch.tensor(rows, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = self.rows.unsqueeze(0).expand(x.shape[0], -1, -1)
        return base + 0.0 * x.mean(dim=(1, 2, 3)).view(-1, 1, 1)


class NanOnDarkImages(nn.Module):
    """Fine on the probe's noise, NaN scores on mostly black images."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = bright_box_rows(x)
        dark = (x.mean(dim=(1, 2, 3)) < 0.2).view(-1, 1, 1)
        return torch.where(dark, torch.full_like(out, float("nan")), out)


class WrongShape(nn.Module):
    """Returns B×5, which is no supported format."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)).repeat(1, 2)[:, :5]


class OomAboveBatch(nn.Module):
    """Raises a CUDA-style out-of-memory error when the batch is larger than `limit`."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > self.limit:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return bright_box_rows(x)


class OomAbovePixels(nn.Module):
    """Raises out-of-memory for inputs larger than `pixels` per image, at any batch size."""

    def __init__(self, pixels: int) -> None:
        super().__init__()
        self.pixels = pixels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] * x.shape[3] > self.pixels:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return bright_box_rows(x)


class FailAbovePixels(nn.Module):
    """Fails (not out of memory) for inputs larger than `pixels` per image."""

    def __init__(self, pixels: int) -> None:
        super().__init__()
        self.pixels = pixels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] * x.shape[3] > self.pixels:
            raise RuntimeError("unsupported input resolution")
        return bright_box_rows(x)


class Predictor(nn.Module):
    """Holds cls_score like a torchvision box predictor (2 labels + background)."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.cls_score = nn.Linear(4, classes)


class Heads(nn.Module):
    def __init__(self, classes: int) -> None:
        super().__init__()
        self.box_predictor = Predictor(classes)


class TorchvisionStyle(nn.Module):
    """Takes a list of images, returns (losses, detections) like a scripted torchvision model."""

    def __init__(self, head_classes: int = 3) -> None:
        super().__init__()
        self.roi_heads = Heads(head_classes)

    def forward(
        self, images: list[torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
        detections: list[dict[str, torch.Tensor]] = []
        for image in images:
            boxes, score, cls = bright_box(image.unsqueeze(0))
            detections.append({"boxes": boxes, "scores": score, "labels": cls.to(torch.int64) + 1})
        losses: dict[str, torch.Tensor] = {}
        return losses, detections


def export_model(module: nn.Module, path: Path, size: int = 128, dynamic: bool = True) -> Path:
    """torch.export a module to .pt2, with dynamic batch and size when asked."""
    module = module.eval()
    if dynamic:
        example = torch.rand(2, 3, size, size)
        shapes = {
            "x": {
                0: Dim("batch", min=1, max=64),
                2: 32 * Dim("h", min=1, max=64),
                3: 32 * Dim("w", min=1, max=64),
            }
        }
        program = torch.export.export(module, (example,), dynamic_shapes=shapes)
    else:
        program = torch.export.export(module, (torch.rand(1, 3, size, size),))
    torch.export.save(program, str(path))
    return path


def script_model(module: nn.Module, path: Path, metadata: str | None = None) -> Path:
    """torch.jit.script a module to a TorchScript file, optionally with config.txt."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(module.eval())
        extra = {"config.txt": metadata} if metadata is not None else {}
        torch.jit.save(scripted, str(path), _extra_files=extra)
    return path


def ultralytics_metadata(names: list[str], imgsz: int = 128) -> str:
    """config.txt as Ultralytics writes it (JSON, names keyed by index)."""
    return json.dumps(
        {
            "description": "tiny",
            "stride": 32,
            "task": "detect",
            "batch": 1,
            "imgsz": [imgsz, imgsz],
            "names": {str(i): n for i, n in enumerate(names)},
        }
    )


def rect_image(
    path: Path,
    size: tuple[int, int],
    rect: tuple[int, int, int, int],
    colour: tuple[int, int, int] = (255, 200, 0),
    exif_orientation: int | None = None,
    fmt: str | None = None,
) -> Path:
    """A black image (w, h) with a filled rectangle x1 y1 x2 y2 (exclusive ends)."""
    data = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    x1, y1, x2, y2 = rect
    data[y1:y2, x1:x2] = colour
    img = Image.fromarray(data)
    kwargs = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    img.save(path, format=fmt or ("JPEG" if path.suffix == ".jpg" else "PNG"), **kwargs)
    return path
