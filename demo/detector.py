"""A small anchor-free detector (TTFNet-style) whose forward returns decoded boxes B×K×6."""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

STRIDE = 8  # output grid stride in input pixels
MAX_DETECTIONS = 100
CANDIDATES = 200  # heatmap peaks considered before box suppression
NMS_IOU = 0.5  # a box overlapping a better one of its class this much is dropped
NMS_IOU_ANY_CLASS = 0.8  # ... or a better one of any class this much
SCORE_FLOOR = 0.001  # rows scoring below this are zeroed (padding)
REG_SCALE = 16.0  # box distances are relu(conv) * REG_SCALE pixels


def conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3×3 convolution, batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def stage(cin: int, cout: int) -> nn.Sequential:
    """Halve the resolution, then one more convolution."""
    return nn.Sequential(conv_bn(cin, cout, 2), conv_bn(cout, cout))


def head(cin: int, cout: int, bias: float) -> nn.Sequential:
    """3×3 conv-BN-ReLU, then a 1×1 output convolution whose bias starts at `bias`."""
    hidden = conv_bn(cin, cin)
    out = nn.Conv2d(cin, cout, 1)
    nn.init.constant_(cast(torch.Tensor, out.bias), bias)
    return nn.Sequential(hidden, out)


class DemoDetector(nn.Module):
    """Backbone to stride 32, top-down neck back to stride 8, heatmap + box-distance heads.

    forward(x) takes float32 B×3×H×W (H, W multiples of 32) and returns B×MAX_DETECTIONS×6
    rows `x1 y1 x2 y2 score class` in input pixels, best first; padding rows are all zero.
    """

    def __init__(
        self, num_classes: int = 4, widths: tuple[int, ...] = (16, 32, 64, 96, 128), neck: int = 64
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.stem = conv_bn(3, widths[0], 2)
        self.s2 = stage(widths[0], widths[1])
        self.s3 = stage(widths[1], widths[2])
        self.s4 = stage(widths[2], widths[3])
        self.s5 = stage(widths[3], widths[4])
        self.lat5 = nn.Conv2d(widths[4], neck, 1)
        self.lat4 = nn.Conv2d(widths[3], neck, 1)
        self.lat3 = nn.Conv2d(widths[2], neck, 1)
        self.smooth = conv_bn(neck, neck)
        self.heat = head(neck, num_classes, -2.19)  # prior probability 0.1
        self.box = head(neck, 4, 1.0)

    def raw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Heatmap logits B×C×h×w and box distances (l, t, r, b in pixels) B×4×h×w."""
        c3 = self.s3(self.s2(self.stem(x)))
        c4 = self.s4(c3)
        c5 = self.s5(c4)
        p = F.interpolate(self.lat5(c5), scale_factor=2.0, mode="nearest") + self.lat4(c4)
        p = F.interpolate(p, scale_factor=2.0, mode="nearest") + self.lat3(c3)
        p = self.smooth(p)
        return self.heat(p), F.relu(self.box(p)) * REG_SCALE

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Decoded detections B×MAX_DETECTIONS×6 (x1 y1 x2 y2 score class)."""
        logits, dist = self.raw(x)
        return decode(logits, dist, x.shape[2], x.shape[3])


def decode(logits: torch.Tensor, dist: torch.Tensor, in_h: int, in_w: int) -> torch.Tensor:
    """Heatmap peaks (3×3 max) → boxes clipped to the input → suppression → top K, zero-padded."""
    heat = torch.sigmoid(logits)
    peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat).to(heat.dtype)
    batch, _, h, w = heat.shape
    scores, index = peaks.flatten(1).topk(CANDIDATES, dim=1)
    cls = torch.div(index, h * w, rounding_mode="floor")
    cell = index - cls * (h * w)
    ys = torch.div(cell, w, rounding_mode="floor")
    xs = cell - ys * w
    ltrb = dist.flatten(2).gather(2, cell.unsqueeze(1).expand(batch, 4, CANDIDATES))
    cx = (xs.to(heat.dtype) + 0.5) * STRIDE
    cy = (ys.to(heat.dtype) + 0.5) * STRIDE
    x1 = (cx - ltrb[:, 0]).clamp(min=0.0, max=in_w)
    y1 = (cy - ltrb[:, 1]).clamp(min=0.0, max=in_h)
    x2 = (cx + ltrb[:, 2]).clamp(min=0.0, max=in_w)
    y2 = (cy + ltrb[:, 3]).clamp(min=0.0, max=in_h)
    boxes = torch.stack([x1, y1, x2, y2], dim=2)
    scores = scores * suppressed(boxes, cls).logical_not().to(heat.dtype)
    scores, order = scores.topk(MAX_DETECTIONS, dim=1)
    boxes = boxes.gather(1, order.unsqueeze(2).expand(batch, MAX_DETECTIONS, 4))
    cls = cls.gather(1, order)
    rows = torch.cat([boxes, scores.unsqueeze(2), cls.to(heat.dtype).unsqueeze(2)], dim=2)
    return rows * (scores >= SCORE_FLOOR).to(heat.dtype).unsqueeze(2)


def suppressed(boxes: torch.Tensor, cls: torch.Tensor) -> torch.Tensor:
    """Fast NMS: B×N mask of boxes overlapping a better-scored one (boxes sorted by score)."""
    x1, y1, x2, y2 = boxes.unbind(2)
    area = (x2 - x1) * (y2 - y1)
    iw = (
        torch.minimum(x2.unsqueeze(2), x2.unsqueeze(1))
        - torch.maximum(x1.unsqueeze(2), x1.unsqueeze(1))
    ).clamp(min=0)
    ih = (
        torch.minimum(y2.unsqueeze(2), y2.unsqueeze(1))
        - torch.maximum(y1.unsqueeze(2), y1.unsqueeze(1))
    ).clamp(min=0)
    inter = iw * ih
    iou = inter / (area.unsqueeze(2) + area.unsqueeze(1) - inter).clamp(min=1e-6)
    n = boxes.shape[1]
    better = torch.ones(n, n, dtype=torch.bool, device=boxes.device).triu(diagonal=1)
    same = cls.unsqueeze(2) == cls.unsqueeze(1)
    limit = torch.where(same, NMS_IOU, NMS_IOU_ANY_CLASS)
    return ((iou > limit) & better).any(dim=1)
