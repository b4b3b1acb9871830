"""Import a model file into a process; a worker then probes it."""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from validation.modelfiles.importing import ModelImportError, import_model, parse_labels
from validation.models import DetectionModel, Process


class Command(BaseCommand):
    help = "Import a .pt2 / .pt / .torchscript model: import_model PROCESS FILE [--labels a,b,c]"

    def add_arguments(self, parser):
        parser.add_argument("process")
        parser.add_argument("file", type=Path)
        parser.add_argument("--labels", default="", help="comma-separated label names, in order")
        parser.add_argument("--name", default=None)
        parser.add_argument("--create-process", action="store_true")
        parser.add_argument("--input-size", type=int, default=640)
        parser.add_argument("--resize-mode", choices=["resize", "letterbox"], default="letterbox")
        parser.add_argument("--mean", default="0,0,0")
        parser.add_argument("--std", default="1,1,1")
        parser.add_argument("--bgr", action="store_true")
        parser.add_argument(
            "--output-format",
            default="auto",
            choices=[c for c, _ in DetectionModel.OutputFormat.choices],
        )
        parser.add_argument("--nms-iou", type=float, default=0.7)
        parser.add_argument(
            "--spec-json",
            type=Path,
            default=None,
            help="a JSON file with labels/input_size/resize_mode/mean/std/...",
        )
        parser.add_argument("--origin", choices=["trained", "imported"], default="imported")
        parser.add_argument(
            "--wait", type=float, default=0, help="seconds to wait for a worker's probe result"
        )

    def handle(self, *args, **o):
        try:
            labels = parse_labels(o["labels"])
        except ModelImportError as exc:
            raise CommandError(f"--labels: {exc}", returncode=2) from None
        try:
            process = Process.objects.get(name=o["process"])
        except Process.DoesNotExist:
            if not o["create_process"]:
                raise CommandError(
                    f"No process named {o['process']!r} (use --create-process)"
                ) from None
            process = Process.objects.create(name=o["process"])
        spec = {
            "input_size": o["input_size"],
            "resize_mode": o["resize_mode"],
            "mean": _floats(o["mean"]),
            "std": _floats(o["std"]),
            "channel_order": "BGR" if o["bgr"] else "RGB",
            "output_format": o["output_format"],
            "nms_iou": o["nms_iou"],
            "origin": o["origin"],
        }
        if o["spec_json"]:
            data = _spec(o["spec_json"])
            labels = labels or list(data.get("labels", []))
            for key in (
                "input_size",
                "resize_mode",
                "mean",
                "std",
                "channel_order",
                "output_format",
            ):
                if key in data:
                    spec[key] = data[key]
        try:
            model = import_model(process, o["file"], name=o["name"], labels=labels, **spec)
        except ModelImportError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"model {model.pk} “{model.name}” imported; probe queued")
        deadline = time.monotonic() + o["wait"]
        while time.monotonic() < deadline:
            model.refresh_from_db()
            if model.probe_status != DetectionModel.ProbeStatus.PENDING:
                break
            time.sleep(0.5)
        model.refresh_from_db()
        self.stdout.write(f"probe: {model.probe_status} {model.probe_message}".rstrip())
        if model.probe_status == DetectionModel.ProbeStatus.FAILED:
            raise CommandError(model.probe_message)


def _spec(path: Path) -> dict:
    """The --spec-json file as an object, or a CommandError saying what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CommandError(f"--spec-json {path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise CommandError(f"--spec-json {path}: expected a JSON object, not {type(data).__name__}")
    return data


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise CommandError(f"not a list of numbers: {text!r}") from None
