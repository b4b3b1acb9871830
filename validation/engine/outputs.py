"""Recognise and decode the three supported output formats into per-image detections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .types import OutputContractError

MAX_NMS_CANDIDATES = 30_000

EXPECTED = {
    "torchvision": "a list of one dict per image with 'boxes' (N×4), 'scores' (N) and 'labels' (N),"
    " or a (losses, detections) tuple holding such a list",
    "nx6": "a B×N×6 tensor or a list of one N×6 tensor per image (x1 y1 x2 y2 score class)",
    "yolo": "a B×(4+C)×A tensor (centre-x, centre-y, w, h, then C class scores per anchor),"
    " or a tuple/list whose first element is one",
}


@dataclass(frozen=True)
class DecodeOptions:
    """How to turn raw output into detections."""

    score_floor: float = 0.001
    max_per_image: int = 300
    nms_iou: float = 0.7
    num_classes: int | None = None  # model labels (background excluded); None: unknown
    label_offset: int = 0  # subtract from torchvision labels; label < offset is background


Detections = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # boxes (n,4), scores, labels


def describe(obj: Any, depth: int = 0) -> str:
    """Short type/shape description of a model output, for error messages."""
    if isinstance(obj, torch.Tensor):
        dims = "×".join(str(d) for d in obj.shape) or "scalar"
        return f"Tensor[{dims}] {str(obj.dtype).replace('torch.', '')}"
    if depth >= 3:
        return type(obj).__name__
    if isinstance(obj, dict):
        inner = ", ".join(f"{k!r}: {describe(v, depth + 1)}" for k, v in list(obj.items())[:6])
        return "{" + inner + ("…" if len(obj) > 6 else "") + "}"
    if isinstance(obj, (list, tuple)):
        inner = ", ".join(describe(v, depth + 1) for v in list(obj)[:4])
        more = f", … ({len(obj)} items)" if len(obj) > 4 else ""
        return f"{type(obj).__name__}({inner}{more})"
    return type(obj).__name__


def contract_error(fmt: str, out: Any, batch: int, detail: str = "") -> OutputContractError:
    """An error saying what was expected and what came."""
    extra = f" ({detail})" if detail else ""
    return OutputContractError(
        f"the model's output does not match the {fmt!r} format{extra}: expected {EXPECTED[fmt]}"
        f" for a batch of {batch}, got {describe(out)}"
    )


def _torchvision_list(out: Any) -> list[Any] | None:
    """The per-image dict list of a torchvision-style output, or None."""
    if (
        isinstance(out, (tuple, list))
        and len(out) == 2
        and isinstance(out[0], dict)
        and isinstance(out[1], (list, tuple))
    ):
        out = out[1]
    if isinstance(out, (list, tuple)) and out and all(isinstance(d, dict) for d in out):
        return list(out)
    return None


def _main_tensor(out: Any) -> torch.Tensor | None:
    """The tensor a tensor-style output is about (first element of a tuple/list), or None."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return None


def _is_nx6_list(out: Any, batch: int) -> bool:
    """A list of `batch` 2-D tensors with 6 columns."""
    return (
        isinstance(out, (list, tuple))
        and len(out) == batch
        and all(isinstance(t, torch.Tensor) and t.dim() == 2 and t.shape[1] == 6 for t in out)
    )


def detect_format(out: Any, batch: int) -> str:
    """Recognise the output format of a probe forward; OutputContractError when none fits."""
    if _torchvision_list(out) is not None:
        return "torchvision"
    if _is_nx6_list(out, batch):
        return "nx6"
    tensor = _main_tensor(out)
    if tensor is not None and tensor.dim() == 3:
        rows, cols = tensor.shape[1], tensor.shape[2]
        if cols == 6 and rows != 6:
            return "nx6"
        if rows == 6 and cols == 6:
            raise OutputContractError(
                f"the model's output {describe(out)} could be N×6 detections or a YOLO head with"
                " 2 classes and 6 anchors: set the output format explicitly"
            )
        if rows >= 5:
            return "yolo"
    if tensor is not None and tensor.dim() == 2 and tensor.shape[1] == 6 and batch == 1:
        return "nx6"
    raise OutputContractError(
        f"unrecognised model output {describe(out)} for a batch of {batch}: expected one of"
        f" {EXPECTED['torchvision']}; {EXPECTED['nx6']}; {EXPECTED['yolo']}"
    )


def decode(out: Any, fmt: str, batch: int, opts: DecodeOptions) -> list[Detections]:
    """Per-image (boxes, scores, labels) in model-input pixels, filtered, sorted, capped."""
    if fmt == "torchvision":
        return _decode_torchvision(out, batch, opts)
    if fmt == "nx6":
        return _decode_nx6(out, batch, opts)
    if fmt == "yolo":
        return _decode_yolo(out, batch, opts)
    raise ValueError(f"unknown output format {fmt!r}")


def _check_finite(fmt: str, what: str, tensor: torch.Tensor) -> None:
    """NaN or infinite boxes/scores are a broken model, not something to store."""
    if tensor.numel() and not bool(torch.isfinite(tensor).all()):
        kind = "NaN" if bool(torch.isnan(tensor).any()) else "infinite"
        raise OutputContractError(f"the model ({fmt} format) returned {kind} {what}")


def _check_labels(fmt: str, labels: torch.Tensor, opts: DecodeOptions) -> None:
    """Class indices must be within the model's labels."""
    if not labels.numel():
        return
    low, high = int(labels.min()), int(labels.max())
    count = opts.num_classes
    if low >= 0 and (count is None or high < count):
        return
    bad = low if low < 0 else high
    raw = bad + opts.label_offset
    if count is None:
        raise OutputContractError(f"the model ({fmt} format) returned the class index {raw}")
    hint = ""
    if fmt == "torchvision" and bad == count:
        hint = "; if label 0 is background, the model's head should have one class more"
    first = opts.label_offset
    raise OutputContractError(
        f"the model ({fmt} format) returned the class index {raw}, outside its {count} labels"
        f" ({first}..{first + count - 1}){hint}"
    )


def _finish(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, opts: DecodeOptions
) -> Detections:
    """Keep score >= floor, order by score descending (stable), cap at max_per_image."""
    keep = scores >= opts.score_floor
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    order = torch.sort(scores, descending=True, stable=True).indices[: opts.max_per_image]
    return boxes[order], scores[order], labels[order]


def _decode_torchvision(out: Any, batch: int, opts: DecodeOptions) -> list[Detections]:
    """torchvision detection dicts; labels shifted by the background offset."""
    items = _torchvision_list(out)
    if items is None or len(items) != batch:
        raise contract_error("torchvision", out, batch)
    result = []
    for i, item in enumerate(items):
        parts = [item.get(k) for k in ("boxes", "scores", "labels")]
        if not all(isinstance(p, torch.Tensor) for p in parts):
            raise contract_error("torchvision", out, batch, f"image {i} lacks a tensor key")
        boxes, scores, labels = parts
        n = scores.shape[0] if scores.dim() == 1 else -1
        if boxes.dim() != 2 or boxes.shape != (n, 4) or labels.shape != (n,):
            raise contract_error("torchvision", out, batch, f"image {i}: {describe(item)}")
        _check_finite("torchvision", "boxes", boxes)
        _check_finite("torchvision", "scores", scores)
        labels = labels.to(torch.int64) - opts.label_offset
        foreground = labels >= 0
        boxes, scores, labels = _finish(
            boxes[foreground].float(), scores[foreground].float(), labels[foreground], opts
        )
        _check_labels("torchvision", labels, opts)
        result.append((boxes, scores, labels))
    return result


def _nx6_rows(out: Any, batch: int) -> Sequence[torch.Tensor]:
    """One N×6 tensor per image from a list, a padded B×N×6, or a lone N×6 for batch 1."""
    if _is_nx6_list(out, batch):
        return list(out)
    tensor = out
    if isinstance(out, (tuple, list)) and len(out) == 1:
        tensor = out[0]
    if isinstance(tensor, torch.Tensor):
        if tensor.dim() == 3 and tensor.shape[0] == batch and tensor.shape[2] == 6:
            return list(tensor.unbind(0))
        if tensor.dim() == 2 and tensor.shape[1] == 6 and batch == 1:
            return [tensor]
    raise contract_error("nx6", out, batch)


def _decode_nx6(out: Any, batch: int, opts: DecodeOptions) -> list[Detections]:
    """x1 y1 x2 y2 score class rows; rows scoring 0 (padding) fall under any positive floor."""
    result = []
    for rows in _nx6_rows(out, batch):
        rows = rows.float()
        _check_finite("nx6", "boxes", rows[:, :4])
        _check_finite("nx6", "scores", rows[:, 4])
        kept = rows[rows[:, 4] >= opts.score_floor]
        classes = kept[:, 5]
        if classes.numel() and bool((classes - classes.round()).abs().max() > 1e-3):
            raise OutputContractError(
                "the model (nx6 format) returned non-integer class values in column 6;"
                " expected x1 y1 x2 y2 score class"
            )
        labels = classes.round().to(torch.int64)
        _check_labels("nx6", labels, opts)
        result.append(_finish(kept[:, :4], kept[:, 4], labels, opts))
    return result


def yolo_classes(out: Any) -> int | None:
    """C of a B×(4+C)×A head, or None when the output is not one."""
    tensor = _main_tensor(out)
    if tensor is None or tensor.dim() != 3 or tensor.shape[1] < 5:
        return None
    return int(tensor.shape[1]) - 4


def _decode_yolo(out: Any, batch: int, opts: DecodeOptions) -> list[Detections]:
    """Best class per anchor, score floor, class-aware NMS, top max_per_image."""
    from torchvision.ops import batched_nms

    tensor = _main_tensor(out)
    if tensor is None or tensor.dim() != 3 or tensor.shape[0] != batch or tensor.shape[1] < 5:
        raise contract_error("yolo", out, batch)
    classes = tensor.shape[1] - 4
    if opts.num_classes is not None and classes != opts.num_classes:
        raise OutputContractError(
            f"the model's YOLO head has {classes} classes but the model has"
            f" {opts.num_classes} labels (output {describe(out)})"
        )
    pred = tensor.float().transpose(1, 2)  # B × A × (4+C)
    _check_finite("yolo", "boxes", pred[..., :4])
    _check_finite("yolo", "scores", pred[..., 4:])
    best, label = pred[..., 4:].max(dim=2)
    result = []
    for b in range(batch):
        idx = torch.nonzero(best[b] >= opts.score_floor).squeeze(1)
        if idx.numel() > MAX_NMS_CANDIDATES:
            top = torch.sort(best[b, idx], descending=True, stable=True).indices
            idx = idx[top[:MAX_NMS_CANDIDATES]].sort().values
        cx, cy, w, h = pred[b, idx, :4].unbind(1)
        boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)
        scores, labels = best[b, idx], label[b, idx]
        keep = batched_nms(boxes, scores, labels, opts.nms_iou).sort().values  # emitted order
        result.append(_finish(boxes[keep], scores[keep], labels[keep], opts))
    return result
