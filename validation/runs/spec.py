"""What a worker hands the engine: a model's spec and stored probe, and the device it owns."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings

from validation import engine
from validation.models import DetectionModel


def worker_device() -> str:
    """The device this worker process owns (set by the inference_worker command)."""
    return os.environ.get("PORTAL_WORKER_DEVICE", "cpu")


def worker_name() -> str:
    """Host and device of this worker, as a run's "ran on" says it."""
    return f"{os.environ.get('PORTAL_WORKER_HOST', '')}/{worker_device()}".lstrip("/")


def model_spec(model: DetectionModel) -> engine.ModelSpec:
    """The engine's description of a model row: its file, format, labels and preprocessing."""
    return engine.ModelSpec(
        path=str(Path(settings.MEDIA_ROOT) / (model.file.name or "")),
        format=model.format,
        label_names=tuple(model.label_names),
        input_size=model.input_size,
        resize_mode=model.resize_mode,
        mean=tuple(model.mean) or (0.0, 0.0, 0.0),
        std=tuple(model.std) or (1.0, 1.0, 1.0),
        channel_order=model.channel_order,
        output_format=model.output_format,
        nms_iou=model.nms_iou,
    )


def stored_probe(model: DetectionModel) -> engine.ProbeResult | None:
    """The probe recorded on the model, so a run does not probe it again; None before one."""
    if "output_format" not in model.probe_info:
        return None
    return engine.ProbeResult.from_dict(model.probe_info)
