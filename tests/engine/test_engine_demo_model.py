"""The real demo detector through run_inference matches its own reference preprocessing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from validation.engine import ModelSpec, probe_model, run_inference

ARTIFACTS = Path(__file__).resolve().parents[2] / "demo" / "artifacts"
MODEL = ARTIFACTS / "demo_detector.pt2"
META = ARTIFACTS / "demo_detector.json"

pytestmark = pytest.mark.skipif(
    not (MODEL.is_file() and META.is_file()), reason="demo model not trained yet"
)


@pytest.fixture(scope="module")
def demo_spec() -> ModelSpec:
    meta = json.loads(META.read_text(encoding="utf-8"))
    return ModelSpec(
        str(MODEL),
        "export",
        tuple(meta["labels"]),
        input_size=meta["input_size"],
        resize_mode=meta["resize_mode"],
        mean=tuple(meta["mean"]),
        std=tuple(meta["std"]),
        channel_order=meta["channel_order"],
        output_format="auto",
    )


@pytest.fixture(scope="module")
def demo_images(tmp_path_factory):
    from demo.synth import render_image

    folder = tmp_path_factory.mktemp("demo_images")
    images, truths = [], []
    for i in range(5):
        image, defects = render_image(7, "val", i)
        path = folder / f"val{i}.png"  # PNG: the reference decodes at full scale too
        image.save(path)
        images.append((str(path), path.name))
        truths.append(defects)
    return images, truths


def reference(spec: ModelSpec, path: str, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """The demo's own preprocessing and unletterboxing around the exported module."""
    from PIL import Image

    from demo.preprocess import letterbox, unletterbox_boxes

    module = torch.export.load(spec.path).module()
    with Image.open(path) as image:
        x, scale, pad_x, pad_y = letterbox(image, spec.input_size)
        width, height = image.size
    with torch.inference_mode():
        rows = module(x.unsqueeze(0))[0].numpy()
    rows = rows[rows[:, 4] >= floor]
    boxes = unletterbox_boxes(rows[:, :4], scale, pad_x, pad_y, width, height)
    return boxes, rows[:, 4]


def test_demo_model_is_probed_as_nx6_with_dynamic_shapes(demo_spec):
    probe = probe_model(demo_spec)
    assert probe.output_format == "nx6"
    assert probe.dynamic_batch and probe.dynamic_size
    assert probe.num_classes == len(demo_spec.label_names)


def test_demo_model_run_matches_the_reference_pipeline(demo_spec, demo_images):
    images, truths = demo_images
    result = run_inference(
        demo_spec, images, device="cpu", batch_size=2, image_size=demo_spec.input_size
    )
    assert not result.skipped
    for i, (path, _) in enumerate(images):
        rows = slice(result.offsets[i], result.offsets[i + 1])
        assert np.all(np.diff(result.scores[rows]) <= 0)
        boxes, scores = reference(demo_spec, path, 0.001)
        assert abs(len(scores) - (rows.stop - rows.start)) <= 1
        # The engine resizes with torch's antialiased bilinear kernel, the demo with Pillow's:
        # pixels differ by at most one level, so scores move by a little, near-ties may swap
        # and a row near a cut may cross it. The engine also maps each axis by its own resize
        # ratio where the demo uses one gain. Compare the confident rows as sets, within one
        # model-input pixel and 0.01 of score.
        pixel = max(result.image_sizes[i]) / demo_spec.input_size
        for cut in (0.25, 0.5):
            assert abs(int((scores >= cut).sum()) - int((result.scores[rows] >= cut).sum())) <= 1
        strong = scores >= 0.3  # flat regions (padding) give tied low scores at many cells
        for box, score in zip(boxes[strong], scores[strong], strict=True):
            close = (np.abs(result.scores[rows] - score) < 0.01) & (
                np.abs(result.boxes[rows] - box).max(axis=1) < pixel
            )
            assert close.any(), (path, box, score)
    confident = result.scores >= 0.25
    assert confident.any()
    assert sum(len(t) for t in truths) > 0
