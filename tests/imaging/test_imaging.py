"""The shared decoder: upright, 8-bit RGB from any mode, without Django or torch."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imaging import UnreadableImage, open_rgb
from tests.imaging.samples import (
    HEIGHT,
    OBJECT,
    RED,
    WIDTH,
    mode_bytes,
    scene,
    sixteen_bit_bytes,
    turned_bytes,
)

REPO = Path(__file__).resolve().parents[2]


def test_imaging_imports_neither_django_nor_torch():
    code = (
        "import imaging, sys; bad = [m for m in ('django', 'torch') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


@pytest.mark.parametrize("orientation", range(2, 9))
def test_every_exif_orientation_shows_the_scene_upright(orientation):
    picture = open_rgb(io.BytesIO(turned_bytes(orientation, "PNG")))
    assert picture.mode == "RGB"
    assert np.array_equal(np.asarray(picture), scene())


def test_a_turned_jpeg_has_the_object_where_it_is_shown():
    pixels = np.asarray(open_rgb(io.BytesIO(turned_bytes(6))), dtype=int)
    x1, y1, x2, y2 = OBJECT
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    assert np.abs(pixels[(y1 + y2) // 2, (x1 + x2) // 2] - RED).max() < 12


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_sixteen_bit_grey_is_scaled_to_eight_bits_not_clipped_to_white(fmt):
    pixels = np.asarray(open_rgb(io.BytesIO(sixteen_bit_bytes(fmt, 10000, 50000))))
    assert pixels[0, 0].tolist() == [10000 * 255 // 65535] * 3
    assert pixels[0, -1].tolist() == [50000 * 255 // 65535] * 3


@pytest.mark.parametrize("mode", ["CMYK", "P-transparent", "P", "L", "LA", "RGBA", "I", "F"])
def test_every_mode_becomes_rgb_with_its_picture(mode):
    picture = open_rgb(io.BytesIO(mode_bytes(mode)))
    grey = np.asarray(picture.convert("L"), dtype=int)
    x1, y1, x2, y2 = OBJECT
    assert picture.mode == "RGB" and picture.size == (WIDTH, HEIGHT)
    assert grey[(y1 + y2) // 2, (x1 + x2) // 2] != grey[0, 0]


def test_cmyk_jpeg_keeps_its_colours():
    pixels = np.asarray(open_rgb(io.BytesIO(mode_bytes("CMYK"))), dtype=int)
    x1, y1, x2, y2 = OBJECT
    assert np.abs(pixels[(y1 + y2) // 2, (x1 + x2) // 2] - RED).max() < 16


def test_fit_decodes_a_large_jpeg_smaller_but_never_below_the_fit():
    out = io.BytesIO()
    Image.new("RGB", (1600, 1200), (90, 90, 90)).save(out, "JPEG")
    picture = open_rgb(io.BytesIO(out.getvalue()), fit=(320, 320))
    assert picture.size == (800, 600)  # 1/4 would make the short side 300, below 320


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\ngarbage"])
def test_a_file_pillow_cannot_decode_is_unreadable(data):
    with pytest.raises(UnreadableImage):
        open_rgb(io.BytesIO(data))


def test_a_missing_file_is_unreadable(tmp_path):
    with pytest.raises(UnreadableImage, match="file not found"):
        open_rgb(tmp_path / "gone.png")
