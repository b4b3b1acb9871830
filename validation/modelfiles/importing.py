"""Importing a model file: store it, then have a worker probe it (never the web process)."""

from __future__ import annotations

import hashlib
import math
import zipfile
import zlib
from pathlib import Path

import redis
from django.core.files import File
from django.db import transaction
from django.utils.translation import gettext as _

from picklecheck.scan import NotAnArchive, scan_model_file
from projects.cleaning import printable, text_problem
from validation.models import IMAGE_SIZE_RANGE, DetectionModel, Process
from validation.queues import CONTROL_QUEUE, named_queue, redis_connection

SUFFIX_FORMATS = {".pt2": "export", ".pt": "torchscript", ".torchscript": "torchscript"}
MAX_MODEL_BYTES = 2 * 1024**3


class ModelImportError(ValueError):
    """A model file that cannot be imported, with a message for the user."""


def format_for(path: Path) -> str:
    try:
        return SUFFIX_FORMATS[path.suffix.lower()]
    except KeyError:
        raise ModelImportError(
            _(
                "%(name)s: unsupported file type %(suffix)s; use .pt2 (torch.export) or "
                ".pt/.torchscript (TorchScript)."
            )
            % {"name": path.name, "suffix": path.suffix or "?"}
        ) from None


def parse_labels(text: str) -> list[str]:
    """Comma-separated names in model order; an empty entry would shift every later name."""
    if not text.strip():
        return []
    labels = [part.strip() for part in text.replace("，", ",").split(",")]
    for position, label in enumerate(labels, start=1):
        if not label:
            raise ModelImportError(
                _(
                    "Entry %(position)d of %(count)d is empty (two commas in a row, or one at "
                    "an end): every later name would move to the wrong class. Write each name once."
                )
                % {"position": position, "count": len(labels)}
            )
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ModelImportError(
            _("Listed more than once: %(labels)s.") % {"labels": ", ".join(duplicates)}
        )
    return check_labels(labels)


def check_model_file(path: Path, shown_name: str | None = None) -> None:
    """Refuse a file that is not a zip archive or whose pickles would run code when loaded."""
    name = shown_name or path.name
    try:
        findings = scan_model_file(path)
    except NotAnArchive:
        raise ModelImportError(
            _("%(name)s is not a .pt2 or TorchScript file (not a zip archive).") % {"name": name}
        ) from None
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        RuntimeError,
        NotImplementedError,
        ValueError,
    ) as exc:
        raise ModelImportError(
            _("%(name)s cannot be read as a model archive (%(reason)s).")
            % {"name": name, "reason": exc}
        ) from None
    if findings:
        first = findings[0]
        raise ModelImportError(
            _(
                "%(name)s: %(entry)s would run %(reference)s when the model is loaded; a model "
                "file may only hold tensors and TorchScript code. The file was not stored."
            )
            % {"name": name, "entry": first.entry, "reference": first.reference}
        )


def _finite_list(value, field: str, *, positive: bool = False) -> None:
    numbers = value if isinstance(value, list | tuple) else None
    ok = (
        numbers is not None
        and len(numbers) in (0, 3)
        and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in numbers
        )
        and (not positive or all(v > 0 for v in numbers))
    )
    if not ok:
        raise ModelImportError(
            _("%(field)s must be three finite numbers%(positive)s, not %(value)r.")
            % {
                "field": field,
                "positive": _(", each above 0") if positive else "",
                "value": value,
            }
        )


def check_spec(spec: dict) -> None:
    """The model's input and output settings, as the database and the engine need them."""
    size = spec.get("input_size", 640)
    low, high = IMAGE_SIZE_RANGE
    if isinstance(size, bool) or not isinstance(size, int) or not low <= size <= high:
        raise ModelImportError(
            _("input_size must be a whole number from %(low)d to %(high)d, not %(value)r.")
            % {"low": low, "high": high, "value": size}
        )
    nms = spec.get("nms_iou", 0.7)
    if not isinstance(nms, int | float) or isinstance(nms, bool) or not 0 < nms <= 1:
        raise ModelImportError(
            _("nms_iou must be a number above 0 and at most 1, not %(value)r.") % {"value": nms}
        )
    _finite_list(spec.get("mean", []), "mean")
    _finite_list(spec.get("std", []), "std", positive=True)
    for field, choices in (
        ("resize_mode", DetectionModel.ResizeMode.values),
        ("channel_order", DetectionModel.ChannelOrder.values),
        ("output_format", DetectionModel.OutputFormat.values),
        ("origin", DetectionModel.Origin.values),
    ):
        if field in spec and spec[field] not in choices:
            raise ModelImportError(
                _("%(field)s must be one of %(choices)s, not %(value)r.")
                % {"field": field, "choices": ", ".join(choices), "value": spec[field]}
            )


def check_labels(labels: list) -> list[str]:
    """Label names: unique, non-empty strings of at most 100 characters."""
    for label in labels:
        if not isinstance(label, str) or not label.strip() or len(label) > 100:
            raise ModelImportError(
                _("Label %(label)r must be a name of 1 to 100 characters.") % {"label": label}
            )
        problem = text_problem(label)
        if problem:
            raise ModelImportError(
                _("The label name “%(label)s” %(problem)s.")
                % {"label": printable(label), "problem": problem}
            )
    if len(set(labels)) != len(labels):
        raise ModelImportError(_("Label names must be unique."))
    return list(labels)


def queue_probe(model: DetectionModel) -> bool:
    """Queue the probe job; False (with a message on the model) when Redis is down."""
    try:
        named_queue(CONTROL_QUEUE, redis_connection()).enqueue(
            "validation.jobs.probe_model_job",
            model.pk,
            job_id=f"probe-{model.pk}",
            job_timeout=600,
            result_ttl=3600,
        )
    except redis.RedisError as exc:
        DetectionModel.objects.filter(pk=model.pk).update(
            probe_message=_(
                "The probe could not be queued (Redis: %(error)s); use “Probe again” in admin."
            )
            % {"error": exc}
        )
        return False
    return True


def import_model(
    process: Process,
    source: Path,
    *,
    name: str | None = None,
    labels: list[str] | None = None,
    user=None,
    **spec,
) -> DetectionModel:
    """Copy the file into storage, create the model as 'waiting for a worker', queue its probe."""
    if not source.is_file():
        raise ModelImportError(_("%(path)s: no such file.") % {"path": source})
    fmt = format_for(source)
    size = source.stat().st_size
    if size == 0 or size > MAX_MODEL_BYTES:
        raise ModelImportError(
            _("%(name)s: file size %(size)d bytes is not allowed.")
            % {"name": source.name, "size": size}
        )
    name = (name or source.stem).strip()
    if not name or len(name) > 200:
        raise ModelImportError(_("The model needs a name of 1 to 200 characters."))
    check_spec(spec)
    labels = check_labels(list(labels or []))
    check_model_file(source)
    if DetectionModel.objects.filter(process=process, name=name).exists():
        raise ModelImportError(
            _("Process “%(process)s” already has a model named “%(name)s”.")
            % {"process": process, "name": name}
        )
    digest = hashlib.sha256()
    with source.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    with transaction.atomic():
        model = DetectionModel(
            process=process,
            name=name,
            format=fmt,
            label_names=labels or [],
            uploaded_by=user,
            probe_info={"sha256": digest.hexdigest()},
            **spec,
        )
        with source.open("rb") as fh:
            model.file.save(
                f"{digest.hexdigest()[:16]}{source.suffix.lower()}", File(fh), save=False
            )
        model.save()
        transaction.on_commit(lambda: queue_probe(model))
    return model
