"""Small real torch detectors exported for the worker tests."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class BrightSpotDetector(nn.Module):
    """Finds the brightest 8×8 cell per channel group and emits boxes there: B×N×6 (nx6)."""

    def __init__(self, num_classes: int = 3, per_image: int = 6) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.per_image = per_image
        self.pool = nn.AvgPool2d(8, 8)
        self.mix = nn.Conv2d(3, num_classes, 1)
        with torch.no_grad():
            self.mix.weight.copy_(torch.eye(3)[:num_classes].reshape(num_classes, 3, 1, 1))
            self.mix.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        heat = self.mix(self.pool(x))  # B×C×h×w
        b, c, h, w = heat.shape
        flat = heat.reshape(b, c * h * w)
        scores, index = flat.topk(self.per_image, dim=1)
        cls = index // (h * w)
        cell = index % (h * w)
        cy = (cell // w).float() * 8 + 4
        cx = (cell % w).float() * 8 + 4
        half = 6.0 + (cls.float() * 4.0)
        boxes = torch.stack([cx - half, cy - half, cx + half, cy + half], dim=2)
        prob = torch.sigmoid(scores)
        return torch.cat([boxes, prob.unsqueeze(2), cls.float().unsqueeze(2)], dim=2)


class WrongShapeModel(nn.Module):
    """Returns B×7 — not any detection format."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)).repeat(1, 3)[:, :7]


def export(module: nn.Module, path: Path, size: int = 64) -> Path:
    module.eval()
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(
        module, (torch.rand(2, 3, size, size),), dynamic_shapes={"x": {0: batch}}
    )
    torch.export.save(program, str(path))
    return path


class SlowDetector(nn.Module):
    """BrightSpotDetector behind a few wide convolutions at 512 px: about a second an image."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 64, 3, padding=1), *[nn.Conv2d(64, 64, 3, padding=1) for _ in range(3)]
        )
        self.head = BrightSpotDetector()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.body(x)
        return self.head(x + 0.0 * features[:, :3])
