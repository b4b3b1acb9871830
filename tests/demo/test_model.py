"""The committed demo detector: loads with torch.export, keeps its contract, finds defects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from demo import LABELS
from demo.evaluate import Pred, Truth, same_label_tp
from demo.preprocess import letterbox, unletterbox_boxes
from demo.synth import render_image

ARTIFACTS = Path(__file__).resolve().parents[2] / "demo" / "artifacts"
MODEL = ARTIFACTS / "demo_detector.pt2"
META = ARTIFACTS / "demo_detector.json"


@pytest.fixture(scope="module")
def meta() -> dict:
    return json.loads(META.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def module() -> torch.nn.Module:
    return torch.export.load(str(MODEL)).module()


def _check_rows(out: torch.Tensor, batch: int, height: int, width: int) -> None:
    assert out.shape == (batch, 100, 6)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    scores, classes = out[..., 4], out[..., 5]
    assert ((scores >= 0) & (scores <= 1)).all()
    assert (classes == classes.round()).all()
    assert ((classes >= 0) & (classes < len(LABELS))).all()
    assert (scores[:, :-1] >= scores[:, 1:]).all()  # best first
    padding = scores == 0
    assert (out[padding] == 0).all()
    boxes = out[..., :4][~padding]
    assert (boxes[:, 0] <= boxes[:, 2]).all() and (boxes[:, 1] <= boxes[:, 3]).all()
    assert (boxes >= 0).all()
    assert (boxes[:, [0, 2]] <= width).all() and (boxes[:, [1, 3]] <= height).all()


def test_artifact_is_small_and_described(meta):
    assert MODEL.stat().st_size <= 5 * 1024 * 1024
    assert meta["labels"] == list(LABELS)
    assert meta["resize_mode"] == "letterbox"
    assert meta["channel_order"] == "RGB"
    assert meta["output_format"] == "nx6"
    assert meta["dynamic_batch"] is True
    assert meta["input_size"] % meta["stride"] == 0
    assert meta["train_command"].startswith("python -m demo.train")
    assert meta["val_f1_at_iou_0_5_conf_0_25"] >= 0.8


@pytest.mark.parametrize("batch", [1, 3])
def test_exported_model_outputs_padded_nx6_rows(module, meta, batch):
    size = meta["input_size"]
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(batch))
    with torch.inference_mode():
        out = module(x)
    _check_rows(out, batch, size, size)


def test_exported_model_takes_other_sizes_when_dynamic(module, meta):
    if not meta["dynamic_size"]:
        pytest.skip("fixed input size")
    with torch.inference_mode():
        out = module(torch.zeros(2, 3, 256, 384))
    _check_rows(out, 2, 256, 384)


def test_model_finds_the_defects_of_validation_images(module, meta):
    tp = actual = 0
    for index in range(8):
        image, defects = render_image(7, "val", index)
        x, scale, pad_x, pad_y = letterbox(image, meta["input_size"])
        with torch.inference_mode():
            rows = module(x.unsqueeze(0))[0].numpy()
        rows = rows[rows[:, 4] > 0]
        boxes = unletterbox_boxes(rows[:, :4], scale, pad_x, pad_y, *image.size)
        preds = [Pred(int(r[5]), float(r[4]), tuple(b)) for r, b in zip(rows, boxes, strict=True)]
        truths = [Truth(d.category_id - 1, tuple(map(float, d.box))) for d in defects]
        found, _, total = same_label_tp(preds, truths, conf=0.25)
        tp, actual = tp + found, actual + total
    assert actual > 0
    assert tp / actual >= 0.6
