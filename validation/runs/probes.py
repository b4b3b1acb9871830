"""Probing a model in a worker: load it, run it on a dummy batch, record what it is."""

from __future__ import annotations

from django.utils.translation import gettext as _

from validation import engine
from validation.models import IMAGE_SIZE_RANGE, DetectionModel
from validation.runs.spec import model_spec, worker_device


def _failed(model_id: int, message: str) -> dict:
    DetectionModel.objects.filter(pk=model_id).update(
        probe_status=DetectionModel.ProbeStatus.FAILED, probe_message=message
    )
    return {"model": model_id, "passed": False, "message": message}


def probe_and_record(model_id: int) -> dict:
    """Probe the model on this worker's device; its row says passed (with what it found) or
    failed (with why)."""
    model = DetectionModel.objects.get(pk=model_id)
    try:
        probe = engine.probe_model(model_spec(model), device=worker_device())
    except engine.EngineError as exc:
        return _failed(model_id, str(exc))
    except Exception as exc:  # noqa: BLE001 - any load failure is the model's, reported to the user
        message = _("The model could not be loaded: %(name)s: %(error)s") % {
            "name": type(exc).__name__,
            "error": exc,
        }
        return _failed(model_id, message)
    info = {**model.probe_info, **probe.as_dict()}
    fixed = probe.fixed_size if not probe.dynamic_size else None
    low, high = IMAGE_SIZE_RANGE
    DetectionModel.objects.filter(pk=model_id).update(
        probe_status=DetectionModel.ProbeStatus.PASSED,
        probe_message=probe.message,
        probe_info=info,
        label_names=list(probe.label_names),
        output_format=probe.output_format,
        # A file that fixes its input size runs at that size whatever was declared.
        input_size=fixed if fixed and low <= fixed <= high else model.input_size,
    )
    return {"model": model_id, "passed": True}
