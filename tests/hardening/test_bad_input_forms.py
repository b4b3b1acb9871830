"""Every form value of the corpus through its real form or query: refused next to its field."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils.html import escape

from projects.models import Annotation, Label, Task
from tests.clients import HTMX, logged_in
from tests.hardening.bad_input import Guard, Outcome, record
from tests.hardening.corpus import coco_entries, zip_bytes
from tests.hardening.corpus_forms import FormCase, all_form_cases
from tests.run_builders import STEP3_FIELDS
from tests.validation.export_world import make_known_run
from tests.validation.run_world import World
from validation.api.tokens import create_token

pytestmark = pytest.mark.django_db


class Context:
    """The world the forms are filled in: a run with stored predictions, foreign objects."""

    def __init__(self, world: World, client) -> None:
        self.world, self.client = world, client
        self.run = make_known_run(world.project, world.model, world.owner)
        self.image = self.run.project.validation_images().order_by("id").first()
        self.label = Label.objects.get(project=world.project, name="scratch")
        self.annotation = Annotation.objects.filter(image=self.image).first()
        foreign_image = world.foreign_project.validation_images().first()
        self.foreign_annotation = Annotation.objects.filter(image=foreign_image).first()
        _token, self.token = create_token(world.owner, "forms")
        self.values = {
            "LABEL": self.label.pk,
            "FOREIGN_LABEL": Label.objects.filter(project=world.foreign_project).first().pk,
            "FOREIGN_ANNOTATION": self.foreign_annotation.pk,
            "OWN_ANNOTATION": self.annotation.pk,
            "OTHER_MODEL": world.other_model.pk,
            "FAILED_MODEL": world.failed_model.pk,
            "FOREIGN_PROJECT": world.foreign_project.pk,
            "TAKEN_TASK": Task.objects.filter(project=world.project).first().name,
            "RUN": self.run.pk,
            "MODEL": world.model.name,
            "PROJECT": world.project.name,
            "FOREIGN": world.foreign_project.name,
        }

    def fill(self, value):
        """Placeholders replaced by the world's ids (in lists, strings and JSON bodies)."""
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, str):
            if value in self.values:
                return self.values[value]
            for key in ("FOREIGN_ANNOTATION", "OWN_ANNOTATION", "FOREIGN_LABEL", "LABEL"):
                value = value.replace(f'"{key}"', str(self.values[key]))
                value = value.replace(f": {key}", f": {self.values[key]}")
        return value

    def step1(self) -> dict:
        w = self.world
        return {"process": w.process.pk, "model": w.model.pk, "project": w.project.pk}

    def step2(self) -> dict:
        return {
            "base_confidence": "0.25",
            "tab": "source",
            "label_confidences": "",
            "action": "next",
        }


def _form_errors(response) -> dict[str, list[str]]:
    form = response.context.get("form") if response.context else None
    return {k: [str(m) for m in v] for k, v in (form.errors if form is not None else {}).items()}


def _wizard(ctx: Context, case: FormCase):
    client = ctx.client
    if case.entry in ("wizard-2", "wizard-3"):
        assert client.post(reverse("validation:wizard-step1"), ctx.step1()).status_code == 302
    if case.entry == "wizard-3":
        assert client.post(reverse("validation:wizard-step2"), ctx.step2()).status_code == 302
        data = {**STEP3_FIELDS, "submission_token": "corpus", "action": "start"}
        url = reverse("validation:wizard-step3")
    elif case.entry == "wizard-2":
        data, url = ctx.step2(), reverse("validation:wizard-step2")
    else:
        data, url = ctx.step1(), reverse("validation:wizard-step1")
    data.update({k: ctx.fill(v) for k, v in case.data.items()})
    response = client.post(url, data)
    return response, _form_errors(response)


def _whatif(ctx: Context, case: FormCase):
    """The htmx request answers 422; the page it falls back to shows the errors by field."""
    data = {"wi_base": "0.25", "wi_iou": "0.3", "wi_low": "0.5", **case.data}
    if case.entry == "whatif":
        url = reverse("validation:run-whatif", args=[ctx.run.pk])
        response = ctx.client.get(url, data, **HTMX)
    else:
        url = reverse("validation:run-whatif-save", args=[ctx.run.pk])
        response = ctx.client.post(url, data, **HTMX)
    page = ctx.client.get(reverse("validation:run-detail", args=[ctx.run.pk]), data)
    state = page.context.get("whatif") if page.context else None
    errors: dict[str, list[str]] = {}
    if state is not None and state.form is not None:
        errors = {k: [str(m) for m in v] for k, v in state.form.errors.items()}
        for label, messages in getattr(state.form, "label_errors", {}).items():
            errors.setdefault(label or "__all__", []).extend(messages)
    return response, errors


def _editor(ctx: Context, case: FormCase):
    body = case.body
    if isinstance(body, str):
        for key in ("FOREIGN_LABEL", "FOREIGN_ANNOTATION", "OWN_ANNOTATION", "LABEL"):
            body = body.replace(f'"{key}"', str(ctx.values[key]))
            body = body.replace(f": {key}", f": {ctx.values[key]}")
    url = reverse("projects:image-annotations-save", args=[ctx.image.pk])
    response = ctx.client.post(url, body, content_type="application/json")
    errors: dict[str, list[str]] = {}
    if response.headers.get("Content-Type", "").startswith("application/json"):
        for error in response.json().get("errors", []):
            errors.setdefault(error["field"], []).append(error["message"])
    return response, errors


def _post_form(ctx: Context, case: FormCase):
    w, data = ctx.world, {k: ctx.fill(v) for k, v in case.data.items()}
    if case.entry == "review":
        url = reverse("validation:run-review", args=[ctx.run.pk])
        response = ctx.client.post(url, {"review_status": "approved", **data})
    elif case.entry == "upload":
        archive = SimpleUploadedFile("d.zip", zip_bytes(coco_entries()))
        fields = {"archive": archive, "format": "coco", "task_name": "new batch", **data}
        fields = {k: v for k, v in fields.items() if v is not None}
        url = reverse("projects:dataset-upload", args=[w.project.pk])
        response = ctx.client.post(url, fields, **HTMX)
    elif case.entry == "model-upload":
        fields = {
            "process": w.process.pk,
            "name": "new model",
            "labels": "a,b",
            "input_size": "64",
            "resize_mode": "letterbox",
            "channel_order": "RGB",
            "normalisation": "unit",
            "output_format": "nx6",
            "file": SimpleUploadedFile("m.pt2", zip_bytes([("m/a", b"x")])),
            **data,
        }
        response = ctx.client.post(reverse("validation:model-library"), fields)
    else:
        response = ctx.client.post(reverse("validation:api-tokens"), data)
    return response, _form_errors(response)


def _query(ctx: Context, case: FormCase):
    run, image, data = ctx.run, ctx.image, {k: ctx.fill(v) for k, v in case.data.items()}
    cell = run.instances.order_by("id").first()
    urls = {
        "worst": reverse("validation:worst-images", args=[run.pk]),
        "curves": reverse("validation:run-recommended", args=[run.pk]),
        "api": reverse("api:run-list"),
        "runs": reverse("validation:run-list"),
        "cell": reverse("validation:run-cell", args=[run.pk, cell.row, run.labels.__len__() + 1]),
        "selection": reverse("validation:instance-selection", args=[run.pk]),
        "detail": reverse("validation:run-detail", args=[run.pk]),
        "compare": reverse("validation:run-compare"),
        "image": reverse("validation:image-view", args=[run.pk, image.pk]),
        "editor-page": reverse("projects:image-editor", args=[image.pk]),
    }
    extra = {"HTTP_AUTHORIZATION": f"Bearer {ctx.token}"} if case.entry == "api" else HTMX
    if case.entry in ("detail", "runs", "compare", "curves", "worst"):
        extra = {}  # the whole page, whose context the test client records
    response = ctx.client.get(urls[case.entry], data, **extra)
    errors = _form_errors(response)
    if case.entry == "api" and response.status_code == 400:
        errors = response.json()["errors"]
    elif case.entry in ("compare", "curves") and response.status_code in (400, 422):
        key = "error" if case.entry == "compare" else "precision_error"
        text = str(response.context.get(key, "")) if response.context else ""
        errors = {case.field or "": [text]} if text else {}
    return response, errors


def _command_args(ctx: Context, case: FormCase, tmp_path: Path) -> list[str]:
    """The command line, its files (model, spec JSON) written first."""
    if case.entry == "validate":
        return ["validate", *(str(ctx.fill(a)) for a in case.data["args"])]
    model = tmp_path / "corpus" / "command-model.pt2"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(zip_bytes([("m/a", b"x")]))
    args = ["import_model", ctx.world.process.name, str(model), "--name", case.name]
    args += case.data.get("args", [])
    if "spec" in case.data:
        spec = tmp_path / "corpus" / f"{case.name}.json"
        spec.write_text(case.data["spec"], encoding="utf-8")
        args += ["--spec-json", str(spec)]
    return args


ENTRIES = {
    "wizard-1": _wizard,
    "wizard-2": _wizard,
    "wizard-3": _wizard,
    "whatif": _whatif,
    "whatif-save": _whatif,
    "editor": _editor,
    "review": _post_form,
    "upload": _post_form,
    "model-upload": _post_form,
    "token": _post_form,
    **{
        k: _query
        for k in (
            "worst",
            "curves",
            "api",
            "runs",
            "cell",
            "selection",
            "detail",
            "compare",
            "image",
            "editor-page",
        )
    },
}


def _check_response(case: FormCase, response, errors: dict, outcome: Outcome) -> None:
    status = response.status_code
    if status >= 500:
        outcome.server_error = f"HTTP {status}"
        return
    if case.field is None:
        return  # ignored or answered: any status below 500
    outcome.refused = True
    messages = errors.get(case.field, [])
    if not messages:
        messages = [m for ms in errors.values() for m in ms if case.field in m]
    outcome.reason = f"{status} {errors}"
    body = response.content.decode(errors="replace")
    shown = any(escape(m) in body or m in body or json.dumps(m)[1:-1] in body for m in messages)
    outcome.located = 400 <= status < 500 and bool(messages) and shown


@pytest.fixture
def ctx(world) -> Context:
    return Context(world, logged_in(world.owner, raise_request_exception=False))


@pytest.mark.parametrize("group", ["wizard", "whatif", "editor", "other"])
def test_every_form_value_is_refused_next_to_its_field(ctx, tmp_path, settings, group):
    failures = []
    for case in all_form_cases():
        kind = (
            case.entry.split("-")[0]
            if case.entry.split("-")[0] in ("wizard", "whatif", "editor")
            else "other"
        )
        if kind != group or case.entry in ("validate", "import-model"):
            continue
        guard = Guard(tmp_path, Path(settings.MEDIA_ROOT))
        outcome = record(Outcome("form", f"{case.entry}/{case.name}", case.entry))
        try:
            response, errors = ENTRIES[case.entry](ctx, case)
            _check_response(case, response, errors, outcome)
            if outcome.refused:
                guard.check_refused(outcome)
        finally:
            guard.close()
        if not outcome.clean:
            failures.append(str(outcome))
    assert failures == [], "\n".join(failures)


def test_every_command_option_is_refused_with_the_field_named(ctx, tmp_path, settings):
    failures = []
    for case in all_form_cases():
        if case.entry not in ("validate", "import-model"):
            continue
        args = _command_args(ctx, case, tmp_path)
        guard = Guard(tmp_path, Path(settings.MEDIA_ROOT))
        outcome = record(Outcome("command", f"{case.entry}/{case.name}", f"manage.py {case.entry}"))
        try:
            call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
        except CommandError as exc:
            outcome.refused = True
            outcome.reason = str(exc)
            outcome.located = case.field is not None and case.field in str(exc)
            guard.check_refused(outcome)
        except Exception as exc:  # noqa: BLE001 - a traceback instead of a message
            outcome.server_error = f"{type(exc).__name__}: {exc}"
        else:
            outcome.half_written = "accepted"
        finally:
            guard.close()
        if not outcome.clean:
            failures.append(str(outcome))
    assert failures == [], "\n".join(failures)
