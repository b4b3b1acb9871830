"""The models page: listing, upload with a clear refusal, and the probe by a real worker."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.conftest import run_burst_worker
from tests.jobs.tiny_models import BrightSpotDetector, export
from validation.modelfiles.importing import ModelImportError, check_labels
from validation.models import DetectionModel, Process

URL = "/models/"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def process(db) -> Process:
    return Process.objects.create(name="welding")


def _form(process, name, filename, content, labels="a,b,c"):
    return {
        "process": process.pk,
        "name": name,
        "labels": labels,
        "input_size": 64,
        "resize_mode": "letterbox",
        "channel_order": "RGB",
        "normalisation": "unit",
        "output_format": "nx6",
        "file": SimpleUploadedFile(filename, content),
    }


def test_every_logged_in_user_sees_the_models(client, outsider, process):
    DetectionModel.objects.create(
        process=process, name="m1", file="models/x.pt2", format="export", label_names=["划痕"]
    )
    client.force_login(outsider)
    response = client.get(URL)
    assert response.status_code == 200
    assert "m1" in response.text and "划痕" in response.text


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_wrong_method_is_refused(owner_client):
    assert owner_client.put(URL).status_code == 405


def test_an_unsupported_file_type_is_refused_next_to_the_field(owner_client, process):
    response = owner_client.post(URL, _form(process, "bad", "model.onnx", b"x" * 10))
    assert response.status_code == 422
    assert "unsupported file type .onnx" in response.text
    assert DetectionModel.objects.count() == 0


def test_duplicate_label_names_are_refused(owner_client, process):
    response = owner_client.post(URL, _form(process, "dup", "m.pt2", b"x" * 10, labels="a,a"))
    assert response.status_code == 422
    assert "Listed more than once: a." in response.text
    assert DetectionModel.objects.count() == 0


@pytest.mark.parametrize(
    ("labels", "position"),
    [
        ("scratch,,stain,crack", "Entry 2 of 4"),
        ("scratch, ,stain", "Entry 2 of 3"),
        ("scratch，，stain", "Entry 2 of 3"),  # full-width commas
        ("scratch,stain,", "Entry 3 of 3"),
        (",scratch", "Entry 1 of 2"),
    ],
)
def test_an_empty_label_entry_is_refused_next_to_the_field(owner_client, process, labels, position):
    response = owner_client.post(URL, _form(process, "gap", "m.pt2", b"x" * 10, labels=labels))

    assert response.status_code == 422
    field = response.context["form"].errors["labels"]
    assert position in field[0] and "empty" in field[0]
    assert DetectionModel.objects.count() == 0


@pytest.mark.parametrize(
    ("labels", "shown"),
    [("scratch,st\x00ain", "Null characters"), ("scratch,stain\ncrack", "\\x0a")],
)
def test_a_label_with_a_control_character_or_surrogate_is_refused(
    owner_client, process, labels, shown
):
    response = owner_client.post(URL, _form(process, "ctl", "m.pt2", b"x" * 10, labels=labels))

    assert response.status_code == 422
    field = response.context["form"].errors["labels"][0]
    assert shown in field
    assert DetectionModel.objects.count() == 0


@pytest.mark.parametrize("label", ["\ud800", "st\x00ain", "a\u2028b"])
def test_label_names_read_from_a_model_file_must_be_clean_text(label):
    with pytest.raises(ModelImportError) as caught:
        check_labels(["scratch", label])

    assert "The label name" in str(caught.value)
    str(caught.value).encode()  # the message itself can be shown and logged


@pytest.mark.parametrize("labels", ["scratch,,stain", "a,a"])
def test_the_import_command_refuses_the_same_labels_in_one_line(process, tmp_path, labels):
    model = tmp_path / "m.pt2"
    model.write_bytes(_zip({"m/a": b"x"}))

    with pytest.raises(CommandError) as caught:
        call_command("import_model", process.name, str(model), "--labels", labels)

    assert caught.value.returncode == 2
    assert str(caught.value).startswith("--labels: ") and "\n" not in str(caught.value)
    assert DetectionModel.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_an_uploaded_model_is_probed_by_a_worker(client, owner, worker_env, flush_redis, tmp_path):
    process = Process.objects.create(name="painting")
    client.force_login(owner)
    data = export(BrightSpotDetector(), tmp_path / "m.pt2").read_bytes()
    response = client.post(URL, _form(process, "bright", "bright.pt2", data))
    assert response.status_code == 302
    model = DetectionModel.objects.get(name="bright")
    assert model.probe_status == "pending"
    refused = client.post(URL, _form(process, "text", "text.pt2", b"this is not a model"))
    assert refused.status_code == 422 and "not a zip archive" in refused.text
    client.post(URL, _form(process, "garbage", "garbage.pt2", _zip({"a.txt": b"not a model"})))
    run_burst_worker(worker_env)
    model.refresh_from_db()
    assert model.probe_status == "passed", model.probe_message
    assert model.probe_info["output_format"] == "nx6"
    assert model.probe_info["dynamic_batch"] is True
    garbage = DetectionModel.objects.get(name="garbage")
    assert garbage.probe_status == "failed"
    assert garbage.probe_message
    page = client.get(reverse("validation:model-library"))
    assert garbage.probe_message in page.text
