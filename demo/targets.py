"""TTFNet-style training targets and losses for the demo detector."""

from __future__ import annotations

import math

import torch

from demo.detector import STRIDE


def gaussian(h: int, w: int, cx: float, cy: float, sx: float, sy: float) -> torch.Tensor:
    """An h×w grid of exp(-(dx²/2sx² + dy²/2sy²)) around cell (cx, cy)."""
    ys = torch.arange(h, dtype=torch.float32).view(-1, 1)
    xs = torch.arange(w, dtype=torch.float32).view(1, -1)
    return torch.exp(-((xs - cx) ** 2) / (2 * sx * sx) - ((ys - cy) ** 2) / (2 * sy * sy))


def build_targets(
    boxes: list[torch.Tensor], labels: list[torch.Tensor], num_classes: int, h: int, w: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """TTFNet targets: class heatmaps, per-cell target box, per-cell regression weight."""
    batch = len(boxes)
    heat = torch.zeros(batch, num_classes, h, w)
    target = torch.zeros(batch, 4, h, w)
    weight = torch.zeros(batch, h, w)
    for i, (b, lab) in enumerate(zip(boxes, labels, strict=True)):
        areas = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        for k in torch.argsort(areas, descending=True).tolist():
            x1, y1, x2, y2 = b[k].tolist()
            bw, bh = (x2 - x1) / STRIDE, (y2 - y1) / STRIDE
            cx = min(max(int((x1 + x2) / 2 / STRIDE), 0), w - 1)
            cy = min(max(int((y1 + y2) / 2 / STRIDE), 0), h - 1)
            g = gaussian(h, w, cx, cy, max(0.54 * bw / 6, 0.25), max(0.54 * bh / 6, 0.25))
            heat[i, lab[k]] = torch.maximum(heat[i, lab[k]], g)
            region = g >= 0.05
            region[cy, cx] = True
            norm = g * region
            weight[i] = torch.where(
                region, norm / norm.sum() * math.log(max(float(areas[k]), 2.0)), weight[i]
            )
            target[i, :, region] = torch.tensor([x1, y1, x2, y2]).view(4, 1)
    return heat, target, weight


def focal_loss(logits: torch.Tensor, heat: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, normalised by the number of peaks."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = heat.eq(1).float()
    pos_loss = -(torch.log(p) * (1 - p) ** 2 * pos).sum()
    neg_loss = -(torch.log(1 - p) * p**2 * (1 - heat) ** 4 * (1 - pos)).sum()
    return (pos_loss + neg_loss) / pos.sum().clamp(min=1.0)


def giou_loss(dist: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted GIoU loss between boxes predicted at each cell and their target boxes."""
    _, _, h, w = dist.shape
    cy = (torch.arange(h, dtype=torch.float32, device=dist.device).view(-1, 1) + 0.5) * STRIDE
    cx = (torch.arange(w, dtype=torch.float32, device=dist.device).view(1, -1) + 0.5) * STRIDE
    mask = weight > 0
    if not mask.any():
        return dist.sum() * 0
    px1, py1 = (cx - dist[:, 0])[mask], (cy - dist[:, 1])[mask]
    px2, py2 = (cx + dist[:, 2])[mask], (cy + dist[:, 3])[mask]
    tx1, ty1, tx2, ty2 = (target[:, j][mask] for j in range(4))
    inter = (torch.min(px2, tx2) - torch.max(px1, tx1)).clamp(min=0) * (
        torch.min(py2, ty2) - torch.max(py1, ty1)
    ).clamp(min=0)
    union = (px2 - px1) * (py2 - py1) + (tx2 - tx1) * (ty2 - ty1) - inter
    hull = (torch.max(px2, tx2) - torch.min(px1, tx1)) * (torch.max(py2, ty2) - torch.min(py1, ty1))
    giou = inter / union.clamp(min=1e-6) - (hull - union) / hull.clamp(min=1e-6)
    wm = weight[mask]
    return ((1 - giou) * wm).sum() / wm.sum().clamp(min=1e-6)
