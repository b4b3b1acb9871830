"""The demo model's input convention: letterbox to S×S, RGB, ImageNet mean/std."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
PAD_VALUE = (114, 114, 114)


def letterbox_pixels(image: Image.Image, size: int) -> tuple[np.ndarray, float, int, int]:
    """Resize so the long side is size (bilinear), paste centred on a grey size×size canvas.

    Returns the canvas as uint8 H×W×3 RGB and (scale, pad_x, pad_y), so that a point of the
    original image maps to (x * scale + pad_x, y * scale + pad_y) on the canvas.
    """
    width, height = image.size
    scale = size / max(width, height)
    new_w = max(1, min(size, round(width * scale)))
    new_h = max(1, min(size, round(height * scale)))
    resized = image.convert("RGB").resize((new_w, new_h), Image.Resampling.BILINEAR)
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    canvas = Image.new("RGB", (size, size), PAD_VALUE)
    canvas.paste(resized, (pad_x, pad_y))
    return np.asarray(canvas, dtype=np.uint8), scale, pad_x, pad_y


def normalize(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 (or 0..255 float) B×3×H×W RGB → float32 (pixel/255 - mean) / std."""
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    return (pixels.float() / 255.0 - mean) / std


def letterbox(image: Image.Image, size: int) -> tuple[torch.Tensor, float, int, int]:
    """The model input for one image: float32 3×size×size tensor and (scale, pad_x, pad_y)."""
    pixels, scale, pad_x, pad_y = letterbox_pixels(image, size)
    chw = torch.from_numpy(pixels.copy()).permute(2, 0, 1).unsqueeze(0)
    return normalize(chw)[0], scale, pad_x, pad_y


def unletterbox_boxes(
    boxes: np.ndarray, scale: float, pad_x: int, pad_y: int, width: int, height: int
) -> np.ndarray:
    """Map N×4 x1 y1 x2 y2 boxes from canvas pixels back to the original image, clipped."""
    out = boxes.astype(np.float64).copy()
    out[:, [0, 2]] = np.clip((out[:, [0, 2]] - pad_x) / scale, 0, width)
    out[:, [1, 3]] = np.clip((out[:, [1, 3]] - pad_y) / scale, 0, height)
    return out
