"""Value types and errors of the inference engine (no torch at import time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

OUTPUT_FORMATS = ("torchvision", "nx6", "yolo")
FORMAT_CHOICES = ("auto", *OUTPUT_FORMATS)
RESIZE_MODES = ("letterbox", "resize")


class EngineError(Exception):
    """Base of every error the engine raises on purpose; str(error) is a user message."""


class ModelLoadError(EngineError):
    """The model file cannot be read or loaded."""


class InputContractError(EngineError):
    """The model refuses the input the engine builds for it (shape, type)."""


class OutputContractError(EngineError):
    """The model's output is not the expected format, or holds invalid values."""


class OutOfMemoryAtBatchOne(EngineError):
    """The device ran out of memory even at the smallest possible batch."""


class Cancelled(EngineError):
    """should_stop() asked the run to stop between batches."""


@dataclass(frozen=True)
class ModelSpec:
    """What the engine needs to know about a model file and its expected input/output."""

    path: str
    format: str = "auto"
    label_names: tuple[str, ...] = ()
    input_size: int = 640
    resize_mode: str = "letterbox"
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    channel_order: str = "RGB"
    output_format: str = "auto"
    nms_iou: float = 0.7

    def __post_init__(self) -> None:
        """Normalise lists to tuples, empty mean/std to the identity, and check choices."""
        object.__setattr__(self, "label_names", tuple(str(n) for n in self.label_names))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean) or (0.0, 0.0, 0.0))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std) or (1.0, 1.0, 1.0))
        if self.format not in ("auto", "export", "torchscript"):
            raise ValueError(f"unknown model format {self.format!r}")
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(f"unknown resize mode {self.resize_mode!r}")
        if self.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"unknown channel order {self.channel_order!r}")
        if self.output_format not in FORMAT_CHOICES:
            raise ValueError(f"unknown output format {self.output_format!r}")
        if len(self.mean) not in (1, 3) or len(self.std) not in (1, 3):
            raise ValueError("mean and std need 1 or 3 values")
        if any(s == 0 for s in self.std):
            raise ValueError("std values must not be zero")
        if self.input_size < 1:
            raise ValueError("input size must be positive")


@dataclass(frozen=True)
class ProbeResult:
    """What the probe found out about a model; JSON-friendly through as_dict()."""

    output_format: str
    label_names: tuple[str, ...]
    num_classes: int | None
    dynamic_batch: bool
    dynamic_size: bool
    fixed_size: int | None
    stride: int
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)
    input_kind: str = "tensor"  # "tensor": one B×3×H×W tensor; "list": a list of 3×H×W tensors
    fixed_batch: int | None = None  # the batch size a model without a dynamic batch requires
    fixed_shape: tuple[int, int] | None = None  # (h, w) of a fixed input; fixed_size is max(h, w)
    label_offset: int = 0  # 1 when the model's label 0 is background (torchvision style)
    native_size: int = 640  # the size the model was probed at

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (for DetectionModel.probe_info)."""
        return {
            "output_format": self.output_format,
            "label_names": list(self.label_names),
            "num_classes": self.num_classes,
            "dynamic_batch": self.dynamic_batch,
            "dynamic_size": self.dynamic_size,
            "fixed_size": self.fixed_size,
            "stride": self.stride,
            "message": self.message,
            "metadata": self.metadata,
            "input_kind": self.input_kind,
            "fixed_batch": self.fixed_batch,
            "fixed_shape": list(self.fixed_shape) if self.fixed_shape else None,
            "label_offset": self.label_offset,
            "native_size": self.native_size,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeResult:
        """Inverse of as_dict()."""
        shape = data.get("fixed_shape")
        return cls(
            output_format=data["output_format"],
            label_names=tuple(data.get("label_names", ())),
            num_classes=data.get("num_classes"),
            dynamic_batch=bool(data["dynamic_batch"]),
            dynamic_size=bool(data["dynamic_size"]),
            fixed_size=data.get("fixed_size"),
            stride=int(data.get("stride", 32)),
            message=data.get("message", ""),
            metadata=dict(data.get("metadata", {})),
            input_kind=data.get("input_kind", "tensor"),
            fixed_batch=data.get("fixed_batch"),
            fixed_shape=(int(shape[0]), int(shape[1])) if shape else None,
            label_offset=int(data.get("label_offset", 0)),
            native_size=int(data.get("native_size", 640)),
        )


@dataclass
class InferenceResult:
    """Flat, per-run prediction arrays in original-image pixels plus bookkeeping."""

    boxes: np.ndarray  # float32 (M, 4) x1 y1 x2 y2
    scores: np.ndarray  # float32 (M,)
    labels: np.ndarray  # int32 (M,) model label index (background offset already removed)
    offsets: np.ndarray  # int64 (I + 1,) image i owns rows offsets[i]:offsets[i + 1]
    image_sizes: np.ndarray  # int32 (I, 2) (w, h) after EXIF orientation; (0, 0) when skipped
    skipped: list[tuple[int, str, str]]  # (index, display name, reason)
    timing: dict[str, float]
    final_batch_size: int
    used_image_size: int
    used_resize_mode: str
    probe: ProbeResult
