"""The demo model's input convention: letterbox, RGB, ImageNet normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from demo.preprocess import MEAN, STD, letterbox, letterbox_pixels, unletterbox_boxes


def test_wide_image_is_scaled_to_the_long_side_and_centred():
    image = Image.new("RGB", (400, 200), (255, 0, 0))
    pixels, scale, pad_x, pad_y = letterbox_pixels(image, 320)
    assert pixels.shape == (320, 320, 3)
    assert (scale, pad_x, pad_y) == (0.8, 0, 80)
    assert (pixels[:80] == 114).all() and (pixels[240:] == 114).all()
    assert (pixels[80:240] == [255, 0, 0]).all()


def test_tall_image_is_padded_left_and_right():
    _, scale, pad_x, pad_y = letterbox_pixels(Image.new("RGB", (300, 600)), 320)
    assert (scale, pad_x, pad_y) == (320 / 600, 80, 0)


def test_tensor_is_normalised_rgb_chw():
    image = Image.new("RGB", (64, 32), (10, 20, 30))
    x, _, _, pad_y = letterbox(image, 64)
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    expected_pad = (114 / 255 - np.array(MEAN)) / np.array(STD)
    assert torch.allclose(x[:, 0, 0], torch.tensor(expected_pad, dtype=torch.float32))
    expected = (np.array([10, 20, 30]) / 255 - np.array(MEAN)) / np.array(STD)
    assert torch.allclose(x[:, pad_y + 5, 5], torch.tensor(expected, dtype=torch.float32))


def test_grey_images_become_rgb():
    x, *_ = letterbox(Image.new("L", (50, 50), 128), 32)
    assert x.shape == (3, 32, 32)


@pytest.mark.parametrize("size", [(400, 200), (333, 777)])
def test_boxes_map_back_to_the_original_image(size):
    width, height = size
    _, scale, pad_x, pad_y = letterbox_pixels(Image.new("RGB", size), 320)
    original = np.array([[10.0, 20.0, 110.0, 150.0]])
    on_canvas = original * scale + [pad_x, pad_y, pad_x, pad_y]
    back = unletterbox_boxes(on_canvas, scale, pad_x, pad_y, width, height)
    assert np.allclose(back, original)


def test_boxes_are_clipped_to_the_image():
    back = unletterbox_boxes(np.array([[-5.0, 0.0, 330.0, 100.0]]), 0.8, 0, 80, 400, 200)
    assert back.tolist() == [[0.0, 0.0, 400.0, 25.0]]
