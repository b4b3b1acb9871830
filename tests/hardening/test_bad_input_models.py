"""Every model file of the corpus through the models page, the worker's probe and a real run."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.hardening.bad_input import Guard, Outcome, record
from tests.hardening.corpus_models import MARKER, ModelCase, model_cases
from tests.run_builders import new_run
from validation import engine
from validation.jobs import probe_model_job, run_inference_job
from validation.models import DetectionModel, Instance, Process

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _jobs_in_this_process(monkeypatch) -> None:
    """Jobs close stale connections first (workers do); here that would close the test's."""
    monkeypatch.setattr("validation.jobs.close_old_connections", lambda: None)


@pytest.fixture
def process(db) -> Process:
    return Process.objects.create(name="焊接")


def _form(process: Process, case: ModelCase, path: Path) -> dict:
    output = case.output_format
    if (
        output == "auto"
        and case.stage in ("probe", "run", "ok")
        and case.name != "wrong-output-shape"
    ):
        output = "yolo" if "yolo" in case.name else "nx6"
    return {
        "process": process.pk,
        "name": case.name,
        "labels": case.labels,
        "input_size": 64,
        "resize_mode": "letterbox",
        "channel_order": "RGB",
        "normalisation": "unit",
        "output_format": output,
        "file": SimpleUploadedFile(path.name, path.read_bytes()),
    }


def _upload(client, process, case: ModelCase, tmp_path: Path, media: Path):
    folder = tmp_path / "corpus" / "model" / case.name
    path = case.build(folder)
    guard = Guard(tmp_path, media)
    outcome = record(Outcome("model", case.name, "models page + probe"))
    try:
        response = client.post(reverse("validation:model-library"), _form(process, case, path))
        if response.status_code >= 500:
            outcome.server_error = f"HTTP {response.status_code}"
        elif case.stage == "upload":
            outcome.refused = True
            guard.check_refused(outcome)
            errors = response.context["form"].errors if response.context else {}
            message = " ".join(errors.get("file", []))
            outcome.reason = message
            # Django's own refusal of an empty file does not repeat the name; ours all do.
            named = path.name in message or case.name == "empty-pt2"
            outcome.located = response.status_code == 422 and case.where in message and named
        elif response.status_code != 302:
            outcome.half_written = f"a loadable file was refused at upload: {response.status_code}"
        else:
            _probe(case, outcome, guard)
    finally:
        guard.close()
    if (folder / MARKER).exists():
        outcome.outside.append(f"{folder / MARKER}: the file's code ran")
    return outcome


def _probe(case: ModelCase, outcome: Outcome, guard: Guard) -> DetectionModel:
    """The worker's probe, in this process: it must fail with the reason, or pass."""
    model = DetectionModel.objects.get(name=case.name)
    try:
        probe_model_job(model.pk)
    except Exception as exc:  # noqa: BLE001 - a probe that raises is a crash of the worker job
        outcome.server_error = f"probe raised {type(exc).__name__}: {exc}"
        return model
    model.refresh_from_db()
    outside, media = guard.new_files()
    outcome.outside = outside + [
        str(p) for p in media if not p.is_relative_to(guard.media_root / "models")
    ]
    if case.stage == "probe":
        outcome.refused = True
        outcome.reason = model.probe_message
        outcome.located = model.probe_status == "failed" and case.where in model.probe_message
    elif model.probe_status != "passed":
        outcome.half_written = f"probe failed: {model.probe_message}"
    return model


@pytest.mark.parametrize("stage", ["upload", "probe"])
def test_every_model_file_is_refused_at_upload_or_by_the_probe_with_its_reason(
    client, owner, process, tmp_path, settings, stage
):
    client.force_login(owner)
    client.raise_request_exception = False
    failures = []
    for case in model_cases():
        if case.stage == stage:
            outcome = _upload(client, process, case, tmp_path, Path(settings.MEDIA_ROOT))
            if not outcome.clean:
                failures.append(str(outcome))
    assert failures == []


def test_a_model_that_breaks_on_real_images_fails_its_run_with_the_reason(
    owner_client, owner, process, tmp_path, settings, validation_project
):
    case = next(c for c in model_cases() if c.stage == "run")
    outcome = _upload(owner_client, process, case, tmp_path, Path(settings.MEDIA_ROOT))
    assert outcome.clean, str(outcome)
    model = DetectionModel.objects.get(name=case.name)
    model.label_names = ["划痕", "dent", "stain"]
    model.save(update_fields=["label_names"])
    run = new_run(
        validation_project, model, owner, base_confidence=0.3, batch_size=4, image_size=64
    )
    guard = Guard(tmp_path, Path(settings.MEDIA_ROOT))
    run_outcome = record(Outcome("model", f"{case.name} (run)", "inference job"))
    try:
        with pytest.raises(engine.EngineError):
            run_inference_job(run.pk)
    finally:
        guard.close()
    run.refresh_from_db()
    page = owner_client.get(reverse("validation:run-detail", args=[run.pk]))
    run_outcome.refused = True
    run_outcome.reason = run.error_message
    run_outcome.located = case.where in run.error_message and run.error_message in page.text
    run_outcome.outside = [p for p in guard.new_files()[0]]
    if Instance.objects.filter(run=run).exists() or run.matrix or run.status != "failed":
        run_outcome.half_written = f"{run.status} run with {run.matrix and 'a matrix'}"
    assert run_outcome.clean, str(run_outcome)
    assert page.status_code == 200


def test_a_file_from_a_path_is_checked_by_the_import_command_too(process, tmp_path, settings):
    guard = Guard(tmp_path, Path(settings.MEDIA_ROOT))
    failures = []
    for case in model_cases():
        if case.stage != "upload":
            continue
        path = case.build(tmp_path / "corpus" / "command" / case.name)
        outcome = record(Outcome("model", case.name, "manage.py import_model"))
        guard.reset()
        try:
            call_command(
                "import_model", process.name, str(path), "--labels", "a,b,c", stdout=io.StringIO()
            )
        except CommandError as exc:
            outcome.refused = True
            outcome.reason = str(exc)
            outcome.located = case.where in str(exc) and path.name in str(exc)
            guard.check_refused(outcome)
        except Exception as exc:  # noqa: BLE001
            outcome.server_error = f"{type(exc).__name__}: {exc}"
        else:
            outcome.half_written = "imported"
        if (path.parent / MARKER).exists():
            outcome.outside.append("the file's code ran")
        if not outcome.clean:
            failures.append(str(outcome))
    guard.close()
    assert failures == []


def test_a_hostile_file_already_stored_does_not_run_when_a_worker_probes_it(
    process, tmp_path, settings
):
    """A file stored before the upload check (or put there by hand) reaches the loader itself.

    The loader (validation/engine/loading.py) must refuse it too: torch.export.load unpickles
    weights marked use_pickle with torch.load(weights_only=False).
    """
    case = next(c for c in model_cases() if c.name == "pickled-weight-protocol-2")
    folder = tmp_path / "stored"
    path = case.build(folder)
    stored = Path(settings.MEDIA_ROOT) / "models" / path.name
    stored.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, stored)
    model = DetectionModel.objects.create(
        process=process,
        name="legacy",
        file=f"models/{path.name}",
        format="export",
        label_names=["a", "b", "c"],
        input_size=64,
        output_format="nx6",
    )

    probe_model_job(model.pk)

    model.refresh_from_db()
    assert not (folder / MARKER).exists(), "the model file's pickled code ran in the worker"
    assert model.probe_status == "failed"
    assert "exec" in model.probe_message


def test_the_admin_refuses_a_hostile_model_file(client, process, tmp_path, django_user_model):
    root = django_user_model.objects.create_superuser("root", password="root-pass-123")
    client.force_login(root)
    case = next(c for c in model_cases() if c.name == "pickled-weight-protocol-4")
    path = case.build(tmp_path / "admin")
    data = {
        "process": process.pk,
        "name": "via admin",
        "format": "export",
        "label_names": '["a"]',
        "input_size": 64,
        "resize_mode": "letterbox",
        "mean": "[]",
        "std": "[]",
        "channel_order": "RGB",
        "output_format": "nx6",
        "nms_iou": 0.7,
        "origin": "imported",
        "file": SimpleUploadedFile(path.name, path.read_bytes()),
    }

    response = client.post(reverse("admin:validation_detectionmodel_add"), data)

    assert response.status_code == 200
    assert "builtins.exec" in response.text
    assert not DetectionModel.objects.exists()
