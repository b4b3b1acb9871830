"""Importing a model file: store it, then have a worker probe it (never the web process)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import redis
from django.core.files import File
from django.db import transaction
from django.utils.translation import gettext as _

from validation.models import DetectionModel, Process
from validation.queueing import CONTROL_QUEUE, named_queue, redis_connection

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
    labels = [part.strip() for part in text.replace("，", ",").split(",") if part.strip()]
    if len(set(labels)) != len(labels):
        raise ModelImportError(_("Label names must be unique."))
    return labels


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
    name = name or source.stem
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
