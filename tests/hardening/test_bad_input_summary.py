"""The bad-input figure, printed after every other test: the hardening conftest runs it last."""

from __future__ import annotations

from tests.hardening.bad_input import RESULTS, summary
from tests.hardening.corpus import archive_cases, image_cases
from tests.hardening.corpus_annotations import coco_cases, yolo_cases
from tests.hardening.corpus_forms import all_form_cases
from tests.hardening.corpus_models import model_cases

MODULES = ("test_bad_input_datasets", "test_bad_input_models", "test_bad_input_forms")


def corpus_files() -> int:
    """Files the corpus makes: datasets and model files (form values are not files)."""
    from pathlib import Path

    datasets = archive_cases(Path("/corpus")) + image_cases() + coco_cases() + yolo_cases()
    return len(datasets) + len(model_cases())


def test_every_bad_input_was_answered_cleanly(request, capsys):
    ran = {item.module.__name__.rsplit(".", 1)[-1] for item in request.session.items}
    figure = summary()
    with capsys.disabled():
        print(f"\n[bad input] {figure}")
        print(f"[bad input] corpus: {corpus_files()} files, {len(all_form_cases())} form values")
    assert [str(o) for o in RESULTS if not o.clean] == []
    if set(MODULES) <= ran:  # the whole corpus went through: the figure must reach 200
        assert corpus_files() >= 200
        assert len(RESULTS) >= 200
