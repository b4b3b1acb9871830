"""Probe a model: what input it accepts, which output format it has, how many classes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .forward import call_model, is_out_of_memory, model_input, to_host_tensor
from .loading import LoadedModel, load_model, short_error
from .metadata import image_shape_from, int_from, jsonable, label_names_from
from .outputs import DecodeOptions, decode, describe, detect_format, yolo_classes
from .types import (
    EngineError,
    InputContractError,
    ModelSpec,
    OutOfMemoryAtBatchOne,
    OutputContractError,
    ProbeResult,
)

FORMAT_NAMES = {
    "torchvision": "torchvision detections",
    "nx6": "N×6 detections",
    "yolo": "YOLO raw head",
}


def probe_model(spec: ModelSpec, device: str = "cpu") -> ProbeResult:
    """Load the model and find its input, output format and classes; raise EngineError."""
    return probe_loaded(load_model(spec, device), spec)


def dummy_pixels(batch: int, hw: tuple[int, int]) -> np.ndarray:
    """Deterministic noise images, (B, 3, H, W) uint8."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(batch, 3, hw[0], hw[1]), dtype=np.uint8)


def _forward(model: LoadedModel, spec: ModelSpec, kind: str, batch: int, hw: tuple[int, int]):
    """One forward of dummy images."""
    x = model_input(to_host_tensor(dummy_pixels(batch, hw), model.device), spec, model)
    return call_model(model, x, kind)


def _first_forward(
    model: LoadedModel, spec: ModelSpec, batches: list[int], hw: tuple[int, int]
) -> tuple[Any, str, int]:
    """Find an input the model accepts: a batch tensor, else a list of images (torchvision)."""
    errors = []
    for batch in batches:
        for kind in ("tensor", "list"):
            try:
                return _forward(model, spec, kind, batch, hw), kind, batch
            except Exception as exc:  # the model's own error is the useful part
                if is_out_of_memory(exc):
                    raise OutOfMemoryAtBatchOne(
                        f"out of memory at batch size {batch} on {model.device}"
                        " while probing the model"
                    ) from exc
                what = (
                    f"a {batch}×3×{hw[0]}×{hw[1]} tensor"
                    if kind == "tensor"
                    else (f"a list of {batch} tensors 3×{hw[0]}×{hw[1]}")
                )
                errors.append(f"{what}: {short_error(exc, 200)}")
    raise InputContractError("the model refused every input tried — " + "; ".join(errors))


def _accepts(
    model: LoadedModel,
    spec: ModelSpec,
    kind: str,
    fmt: str,
    batch: int,
    hw: tuple[int, int],
    opts: DecodeOptions,
) -> bool:
    """Whether a forward at this batch/size works and its output still fits the format."""
    try:
        decode(_forward(model, spec, kind, batch, hw), fmt, batch, opts)
    except EngineError:
        return False
    except Exception as exc:
        return is_out_of_memory(exc)  # too big to try here is not a refusal of the shape
    return True


def _classes(
    fmt: str, out: Any, model: LoadedModel, names: tuple[str, ...]
) -> tuple[int | None, int, str]:
    """(number of model labels, background offset, note) with the label names checked."""
    if fmt == "yolo":
        count = yolo_classes(out)
        if names and count != len(names):
            raise OutputContractError(
                f"the model's YOLO head has {count} classes but {len(names)} label names"
                f" were given ({', '.join(names[:10])})"
            )
        return count, 0, ""
    head = model.head_classes if fmt == "torchvision" else None
    if head is None:
        return (len(names) or None), 0, ""
    if not names:
        return head - 1, 1, "label 0 of the model is background"
    if head == len(names) + 1:
        return len(names), 1, "label 0 of the model is background"
    if head == len(names):
        return len(names), 0, ""
    raise OutputContractError(
        f"the model's box predictor has {head} classes but {len(names)} label names were given"
        " (expected as many, or one more when label 0 is background)"
    )


def _alternate_hw(native: tuple[int, int], stride: int) -> tuple[int, int]:
    """A different, non-square input shape (multiples of the stride) to test dynamic size."""
    h = max(stride, math.ceil(native[0] / 2 / stride) * stride)
    if h == native[0]:
        h += stride
    return h, native[1]


def _message(
    fmt: str,
    out: Any,
    num_classes: int | None,
    batch: int,
    dynamic_batch: bool,
    native: tuple[int, int],
    dynamic_size: bool,
    stride: int,
) -> str:
    """One line on what the probe found."""
    size = (
        f"dynamic input size (stride {stride})"
        if dynamic_size
        else f"fixed input size {native[1]}×{native[0]}"
    )
    return "; ".join(
        [
            f"{FORMAT_NAMES[fmt]} ({describe(out)})",
            f"{num_classes} classes" if num_classes is not None else "number of classes unknown",
            "dynamic batch" if dynamic_batch else f"fixed batch of {batch}",
            size,
        ]
    )


def probe_loaded(model: LoadedModel, spec: ModelSpec) -> ProbeResult:
    """Probe an already loaded model (run_inference reuses the loaded module)."""
    meta = model.metadata
    stride = int_from(meta, "stride") or 32
    hint = model.input_shape_hint
    hint_batch = hint[0] if hint else None
    hint_hw = (hint[2], hint[3]) if hint and hint[2] and hint[3] else None
    native = hint_hw or image_shape_from(meta) or (spec.input_size, spec.input_size)
    batches = [hint_batch] if hint_batch else sorted({1, int_from(meta, "batch") or 1})
    out, kind, batch = _first_forward(model, spec, batches, native)

    file_names = label_names_from(meta)
    names = spec.label_names or file_names
    if spec.label_names and file_names and len(file_names) != len(spec.label_names):
        raise OutputContractError(
            f"the model file names {len(file_names)} classes ({', '.join(file_names[:10])})"
            f" but {len(spec.label_names)} label names were given"
        )
    fmt = spec.output_format if spec.output_format != "auto" else detect_format(out, batch)
    decode(out, fmt, batch, DecodeOptions())  # structure first: a forced format may not fit
    num_classes, offset, class_note = _classes(fmt, out, model, names)
    opts = DecodeOptions(num_classes=num_classes, label_offset=offset, nms_iou=spec.nms_iou)
    decode(out, fmt, batch, opts)

    dynamic_batch = hint_batch is None and _accepts(model, spec, kind, fmt, batch + 1, native, opts)
    alt = _alternate_hw(native, stride)
    dynamic_size = hint_hw is None and _accepts(model, spec, kind, fmt, batch, alt, opts)
    fixed_shape = None if dynamic_size else native
    message = _message(fmt, out, num_classes, batch, dynamic_batch, native, dynamic_size, stride)
    notes = [message] + ([class_note] if class_note else [])
    if not names:
        notes.append("no label names given and none in the file")
    elif not spec.label_names:
        notes.append("label names read from the model file")
    return ProbeResult(
        output_format=fmt,
        label_names=names,
        num_classes=num_classes,
        dynamic_batch=dynamic_batch,
        dynamic_size=dynamic_size,
        fixed_size=max(fixed_shape) if fixed_shape else None,
        stride=stride,
        message="; ".join(notes),
        metadata=jsonable(meta),
        input_kind=kind,
        fixed_batch=None if dynamic_batch else batch,
        fixed_shape=fixed_shape,
        label_offset=offset,
        native_size=max(native),
    )
