"""Start a validation run from the command line, exactly as the wizard does; optionally wait."""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from projects.cleaning import NumberError, parse_number, printable
from projects.models import Project
from validation.analysis.exports import run_results
from validation.forms.wizard import validate_run_settings
from validation.models import DetectionModel, InferenceRun
from validation.runs import devices
from validation.runs.start import QueueUnavailable, start_run


def _by_name_or_id(queryset, value: str, what: str):
    found = queryset.filter(pk=int(value)) if value.isdigit() else queryset.filter(name=value)
    items = list(found[:2])
    if len(items) != 1:
        raise CommandError(f"{what} {value!r}: " + ("not found" if not items else "ambiguous"))
    return items[0]


class Command(BaseCommand):
    help = "Start a validation run (same checks as the wizard); --wait follows it to its end."

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True, help="model name or id")
        parser.add_argument("--project", required=True, help="project name or id")
        parser.add_argument("--conf", type=str, default="0.25")
        parser.add_argument("--label-conf", action="append", default=[], metavar="LABEL=VALUE")
        parser.add_argument("--iou", type=str, default="0.5")
        parser.add_argument("--low", type=str, default="0.5")
        parser.add_argument("--device", default="cpu", help="cpu, any-gpu or host/cuda:N")
        parser.add_argument("--batch", type=str, default="8")
        parser.add_argument("--image-size", type=str, default=None)
        parser.add_argument("--user", default=None, help="run as this user (default: a superuser)")
        parser.add_argument("--wait", action="store_true")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **o):
        user = self._user(o["user"])
        model = _by_name_or_id(DetectionModel.objects.all(), o["model"], "model")
        project = _by_name_or_id(Project.objects.visible_to(user), o["project"], "project")
        label_conf = _label_confidences(o["label_conf"])
        data = {
            "process": model.process_id,
            "model": model.pk,
            "project": project.pk,
            "base_confidence": o["conf"],
            "label_confidences": json.dumps(label_conf),
            "device": o["device"],
            "batch_size": o["batch"],
            "image_size": o["image_size"] or "",  # the model's own size when not given
            "iou_threshold": o["iou"],
            "low_overlap_threshold": o["low"],
        }
        cleaned, errors = validate_run_settings(data, user)
        if errors:
            raise CommandError(
                "; ".join(f"{field}: {msg}" for field, msgs in errors.items() for msg in msgs),
                returncode=2,
            )
        self._wait_for_a_worker(cleaned["device"])
        settings_keys = (
            "model",
            "project",
            "base_confidence",
            "label_confidences",
            "device",
            "batch_size",
            "image_size",
            "iou_threshold",
            "low_overlap_threshold",
        )
        try:
            run = start_run(user=user, **{key: cleaned[key] for key in settings_keys})
        except QueueUnavailable as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"run {run.pk} queued on {run.device}")
        if not o["wait"]:
            self.stdout.write(str(run.pk))
            return
        run = self._follow(run)
        results = run_results(run)
        if o["json"]:
            self.stdout.write(json.dumps(results, ensure_ascii=False, indent=2))
        else:
            self.stdout.write(_table(results))
        if run.status != InferenceRun.Status.COMPLETED:
            raise CommandError(f"run {run.pk} {run.status}: {run.error_message}")

    def _user(self, username: str | None):
        users = get_user_model().objects
        if username:
            try:
                return users.get(username=username)
            except users.model.DoesNotExist:
                raise CommandError(f"no user {username!r}") from None
        user = users.filter(is_superuser=True).order_by("pk").first()
        if user is None:
            raise CommandError("no superuser exists; pass --user")
        return user

    def _wait_for_a_worker(self, device: str) -> None:
        """Refuse, before any run is made, a device whose queue no live worker serves (a
        worker just started gets a few seconds to publish itself)."""
        deadline = time.monotonic() + settings.INFERENCE_WORKER_GRACE_SECONDS
        while reason := devices.unserved_reason(device):
            if time.monotonic() >= deadline:
                raise CommandError(f"device: {reason}", returncode=2)
            time.sleep(0.5)

    def _follow(self, run: InferenceRun) -> InferenceRun:
        last = None
        while True:
            run.refresh_from_db()
            line = f"{run.status} {run.images_done}/{run.images_total}"
            if run.images_per_second:
                line += f" {run.images_per_second:.1f} img/s"
            if line != last:
                self.stderr.write(line)
                last = line
            if not run.is_active:
                return run
            time.sleep(1.0)


def _label_confidences(items: list[str]) -> dict[str, float | str]:
    """--label-conf LABEL=VALUE items, each label once; one line and exit 2 for a bad one."""
    label_conf: dict[str, float | str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        shown = printable(item)
        if not sep:
            raise CommandError(f"--label-conf {shown!r}: expected LABEL=VALUE", returncode=2)
        if name in label_conf:
            message = _("“%(label)s” is given twice.") % {"label": printable(name)}
            raise CommandError(f"--label-conf {shown!r}: {message}", returncode=2)
        try:
            label_conf[name] = parse_number(value)
        except NumberError as exc:
            if exc.code == "digits":
                raise CommandError(f"--label-conf {shown!r}: {exc.message}", returncode=2) from None
            label_conf[name] = value.strip()  # the form names the problem (range, label)
    return label_conf


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.4f}"


def _table(results: dict) -> str:
    lines = [f"run {results['run']}: {results['status']}"]
    o = results["overall"]
    lines.append(
        f"precision {_fmt(o['precision'])}  recall {_fmt(o['recall'])}  "
        f"F1 {_fmt(o['f1'])}  mAP50 {_fmt(results['map50'])}  "
        f"mAP50-95 {_fmt(results['map50_95'])}"
    )
    for name, m in results["per_label"].items():
        lines.append(
            f"  {name:<16} P {_fmt(m['precision'])}  R {_fmt(m['recall'])}  "
            f"F1 {_fmt(m['f1'])}  AP50 {_fmt(m['ap50'])}"
        )
    return "\n".join(lines)
