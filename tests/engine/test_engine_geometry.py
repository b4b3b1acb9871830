"""Boxes come back in original-image pixels through letterbox and resize, for every format."""

from __future__ import annotations

import engine_models as em
import numpy as np
import pytest
from PIL import Image, ImageOps

from validation.engine import ModelSpec, run_inference

# (size w×h, rectangle x1 y1 x2 y2, colour): a wide image, a tall one, a small square one.
IMAGES = [
    ((400, 240), (50, 60, 150, 200), (255, 200, 0)),
    ((240, 400), (10, 100, 200, 390), (255, 255, 255)),
    ((90, 90), (30, 5, 60, 80), (255, 160, 255)),
]
FORMATS = [
    ("nx6_export", ("a", "b")),
    ("nx6_script", ("a", "b")),
    ("list_script", ("a", "b")),
    ("yolo_export", ("a", "b", "c")),
    ("yolo_script", ("a", "b", "c")),
    ("torchvision_script", ("a", "b")),
]


@pytest.fixture
def images(tmp_path):
    return [
        (str(em.rect_image(tmp_path / f"img{i}.png", size, rect, colour)), f"img{i}.png")
        for i, (size, rect, colour) in enumerate(IMAGES)
    ]


def tolerance(size: tuple[int, int], image_size: int) -> float:
    """About one model-input pixel, in original pixels."""
    return max(size) / image_size + 0.6


def first_box_per_image(result):
    return [result.boxes[result.offsets[i]] for i in range(len(result.offsets) - 1)]


@pytest.mark.parametrize(("name", "labels"), FORMATS)
@pytest.mark.parametrize("mode", ["letterbox", "resize"])
def test_box_maps_back_to_original_pixels(models, images, name, labels, mode):
    model_spec = ModelSpec(str(models[name]), "auto", labels, input_size=128, resize_mode=mode)
    result = run_inference(model_spec, images, device="cpu", batch_size=2, image_size=96)
    assert result.used_image_size == 96
    assert result.used_resize_mode == mode
    assert result.image_sizes.tolist() == [list(size) for size, _, _ in IMAGES]
    for box, (size, rect, _) in zip(first_box_per_image(result), IMAGES, strict=True):
        assert np.abs(box - np.array(rect)).max() <= tolerance(size, 96)
    first = result.offsets[:-1]
    assert result.scores[first] == pytest.approx([200 / 255, 1.0, 160 / 255])
    assert result.labels[first].tolist() == [0, 1, 1]


def test_yolo_head_is_decoded_with_class_aware_nms(models, images):
    model_spec = ModelSpec(str(models["yolo_export"]), "auto", ("a", "b", "c"), input_size=128)
    result = run_inference(model_spec, images, device="cpu", batch_size=4, image_size=128)
    # Per image: the box, its shifted duplicate suppressed, the same box as the next class kept.
    assert result.offsets.tolist() == [0, 2, 4, 6]
    assert result.labels.tolist() == [0, 1, 1, 2, 1, 2]
    assert result.scores[1::2] == pytest.approx(result.scores[0::2] * 0.5)
    np.testing.assert_allclose(result.boxes[0::2], result.boxes[1::2])


def test_nms_iou_setting_is_used(models, images):
    model_spec = ModelSpec(
        str(models["yolo_export"]), "auto", ("a", "b", "c"), input_size=128, nms_iou=0.999
    )
    result = run_inference(model_spec, images[:1], device="cpu", batch_size=1, image_size=128)
    assert result.offsets.tolist() == [0, 3]  # the shifted duplicate survives a 0.999 IoU NMS
    assert result.scores == pytest.approx(np.array([1, 0.9, 0.5]) * 200 / 255)


def test_fixed_size_model_uses_its_own_size_and_letterbox(models, images):
    model_spec = ModelSpec(str(models["fixed_export"]), "auto", ("a", "b"), resize_mode="resize")
    result = run_inference(model_spec, images, device="cpu", batch_size=8, image_size=320)
    assert result.used_image_size == 128
    assert result.used_resize_mode == "letterbox"
    assert result.final_batch_size == 1
    assert result.probe.fixed_size == 128
    for box, (size, rect, _) in zip(first_box_per_image(result), IMAGES, strict=True):
        assert np.abs(box - np.array(rect)).max() <= tolerance(size, 128)


def test_image_size_is_rounded_up_to_the_stride(models, images):
    model_spec = ModelSpec(str(models["nx6_export"]), "auto", ("a", "b"), input_size=128)
    result = run_inference(model_spec, images, device="cpu", batch_size=2, image_size=100)
    assert result.used_image_size == 128


def test_exif_orientation_is_applied(models, tmp_path):
    path = em.rect_image(
        tmp_path / "rotated.jpg", (300, 200), (20, 30, 120, 80), exif_orientation=6
    )
    with Image.open(path) as img:
        upright = np.asarray(ImageOps.exif_transpose(img))
    ys, xs = np.nonzero(upright[:, :, 0] > 127)
    expected = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    model_spec = ModelSpec(str(models["nx6_export"]), "auto", ("a", "b"), input_size=128)
    result = run_inference(
        model_spec, [(str(path), "rotated.jpg")], device="cpu", batch_size=1, image_size=128
    )
    assert result.image_sizes.tolist() == [[200, 300]]
    assert np.abs(result.boxes[0] - expected).max() <= tolerance((200, 300), 128)


def test_large_jpeg_is_decoded_at_reduced_scale_with_same_geometry(models, tmp_path):
    path = em.rect_image(tmp_path / "big.jpg", (2400, 1600), (400, 300, 1600, 1200))
    model_spec = ModelSpec(str(models["nx6_export"]), "auto", ("a", "b"), input_size=128)
    result = run_inference(
        model_spec, [(str(path), "big.jpg")], device="cpu", batch_size=1, image_size=128
    )
    assert result.image_sizes.tolist() == [[2400, 1600]]
    assert np.abs(result.boxes[0] - [400, 300, 1600, 1200]).max() <= tolerance((2400, 1600), 128)


def test_bgr_channel_order_feeds_blue_first(models, tmp_path):
    path = em.rect_image(tmp_path / "blue.png", (100, 100), (10, 10, 50, 50), (0, 220, 255))
    images = [(str(path), "blue.png")]
    rgb = ModelSpec(str(models["nx6_export"]), "auto", ("a", "b"), input_size=128)
    bgr = ModelSpec(
        str(models["nx6_export"]), "auto", ("a", "b"), input_size=128, channel_order="BGR"
    )
    assert len(run_inference(rgb, images, device="cpu", batch_size=1, image_size=64).scores) == 0
    result = run_inference(bgr, images, device="cpu", batch_size=1, image_size=64)
    assert result.labels.tolist() == [0]  # channel 2 is now red, which is 0 here
    assert np.abs(result.boxes[0] - [10, 10, 50, 50]).max() <= 2.3


def test_mean_and_std_normalise_pixels(models, tmp_path):
    path = em.rect_image(tmp_path / "img.png", (64, 64), (8, 8, 40, 40), (255, 204, 0))
    model_spec = ModelSpec(
        str(models["nx6_export"]),
        "auto",
        ("a", "b"),
        input_size=64,
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
    )
    result = run_inference(
        model_spec, [(str(path), "img.png")], device="cpu", batch_size=1, image_size=64
    )
    assert result.scores[0] == pytest.approx((204 / 255 - 0.5) / 0.25, rel=1e-5)
