"""Turn uint8 batches into model input, call the model, recognise out-of-memory errors."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from .loading import LoadedModel
from .types import ModelSpec

OOM_MARKERS = ("out of memory", "can't allocate memory", "cannot allocate memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """torch.OutOfMemoryError, or a RuntimeError/TorchScript error that reports one."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    if isinstance(exc, (RuntimeError, torch.jit.Error)):
        text = str(exc).lower()
        return any(marker in text for marker in OOM_MARKERS)
    return False


def to_host_tensor(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """A (B, 3, H, W) uint8 array as a tensor, pinned when it is going to a CUDA device."""
    tensor = torch.from_numpy(batch)
    return tensor.pin_memory() if device.type == "cuda" else tensor


def model_input(pixels: torch.Tensor, spec: ModelSpec, model: LoadedModel) -> torch.Tensor:
    """(B, 3, H, W) uint8 → ((x / 255) - mean) / std on the model's device, in one pass."""
    x = pixels.to(model.device, non_blocking=True)
    std = torch.tensor(spec.std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    mean = torch.tensor(spec.mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    # One cast, then x * (1 / (255 std)) + (-mean / std) in place: twice as fast as an addcmul
    # that casts inside its loop.
    x = x.to(torch.float32).mul_(1.0 / (255.0 * std)).add_(-mean / std)
    return x if model.dtype == torch.float32 else x.to(model.dtype)


def call_model(model: LoadedModel, x: torch.Tensor, input_kind: str) -> Any:
    """Forward a batch: one tensor, or a list of per-image tensors (torchvision detectors)."""
    with torch.inference_mode(), warnings.catch_warnings():
        # Scripted torchvision detectors warn on every call that they return (losses, dets).
        warnings.filterwarnings("ignore", message="RCNN always returns")
        if input_kind == "list":
            return model.module(list(x.unbind(0)))
        return model.module(x)


def synchronize(device: torch.device) -> None:
    """Wait for queued device work so timings are honest (no-op off CUDA)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def release_cached_memory(device: torch.device) -> None:
    """Give cached blocks back after an out-of-memory error (no-op off CUDA)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
