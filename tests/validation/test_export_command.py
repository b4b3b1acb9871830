"""manage.py export_run: every format, to stdout and to a file, and its errors."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.run_builders import new_run
from tests.validation.export_world import MATRIX, make_known_run
from validation.analysis import exports
from validation.models import InferenceRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(world) -> InferenceRun:
    return make_known_run(world.project, world.model, world.owner)


def export(*args) -> str:
    out = io.StringIO()
    call_command("export_run", *map(str, args), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_json_is_the_run_document_by_default(run):
    text = export(run.pk)
    assert json.loads(text) == exports.run_document(run)
    assert json.loads(text)["matrix"] == MATRIX
    assert "焊接项目" in text


@pytest.mark.parametrize(
    ("fmt", "build"),
    [
        ("matrix-csv", exports.matrix_csv),
        ("per-label-csv", exports.per_label_csv),
        ("instances-csv", lambda r: "".join(exports.instance_csv_chunks(r))),
        ("coco", lambda r: "".join(exports.coco_results(r))),
    ],
)
def test_each_format_to_stdout_equals_the_export(run, fmt, build):
    text = export(run.pk, "--format", fmt)
    assert text == build(run)
    assert not text.startswith("\ufeff")


@pytest.mark.parametrize(
    ("fmt", "url_name"),
    [
        ("matrix-csv", "validation:export-matrix-csv"),
        ("per-label-csv", "validation:export-per-label-csv"),
        ("instances-csv", "validation:export-instances-csv"),
        ("coco", "validation:export-predictions-json"),
        ("json", "validation:export-run-json"),
    ],
)
def test_out_file_has_the_bytes_of_the_download(client, world, run, tmp_path, fmt, url_name):
    from django.urls import reverse

    target = tmp_path / "export.out"
    export(run.pk, "--format", fmt, "--out", target)
    client.force_login(world.owner)
    response = client.get(reverse(url_name, args=[run.pk]))
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert target.read_bytes() == body


def test_unknown_run_is_a_clear_error(run):
    with pytest.raises(CommandError, match="run 999999: not found"):
        export(999999)


def test_csv_of_a_run_without_results_is_refused_without_writing(world, tmp_path):
    queued = new_run(world.project, world.model)
    target = tmp_path / "m.csv"
    with pytest.raises(CommandError, match="no results"):
        export(queued.pk, "--format", "matrix-csv", "--out", target)
    assert not target.exists()
    assert json.loads(export(queued.pk))["status"] == "queued"


def test_unwritable_out_is_a_clear_error(run, tmp_path):
    with pytest.raises(CommandError, match="--out"):
        export(run.pk, "--out", tmp_path / "missing-dir" / "run.json")


def test_unknown_format_is_refused(run):
    with pytest.raises(CommandError):
        export(run.pk, "--format", "xlsx")
