"""Tiny models built once per session, and helpers to run them."""

from __future__ import annotations

from pathlib import Path

import engine_models as em
import pytest
from engine_models import ROWS


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """Every test model, exported or scripted into one folder."""
    d = tmp_path_factory.mktemp("models")
    return {
        "nx6_export": em.export_model(em.BrightBoxNx6(), d / "nx6.pt2"),
        "yolo_export": em.export_model(em.BrightBoxYolo(), d / "yolo.pt2"),
        "fixed_export": em.export_model(em.BrightBoxNx6(), d / "fixed.pt2", dynamic=False),
        "rows_export": em.export_model(em.FixedRows(ROWS), d / "rows.pt2"),
        "nx6_script": em.script_model(em.BrightBoxNx6(), d / "nx6.pt"),
        "list_script": em.script_model(em.BrightBoxNx6List(), d / "list.torchscript"),
        "yolo_script": em.script_model(
            em.BrightBoxYolo(), d / "yolo.torchscript", em.ultralytics_metadata(["a", "b", "c"])
        ),
        "torchvision_script": em.script_model(em.TorchvisionStyle(), d / "tv.pt"),
        "oom_batch_script": em.script_model(em.OomAboveBatch(2), d / "oom_batch.pt"),
        "oom_pixels_script": em.script_model(em.OomAbovePixels(128 * 128), d / "oom_pixels.pt"),
        "fail_pixels_script": em.script_model(em.FailAbovePixels(128 * 128), d / "fail.pt"),
        "nan_script": em.script_model(em.NanOnDarkImages(), d / "nan.pt"),
        "wrong_script": em.script_model(em.WrongShape(), d / "wrong.pt"),
    }
