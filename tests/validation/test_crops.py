"""Instance crops: the window, both box styles, the disk cache."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image as PILImage

from imaging import open_rgb
from tests.imaging import samples
from validation.models import Instance
from validation.presenters import crops


def test_window_is_the_union_of_both_boxes_with_a_margin_clipped_to_the_image():
    window = crops.crop_window([(100, 100, 140, 120), (130, 110, 180, 150)], 1000, 800)
    margin = crops.MARGIN_FRACTION * 80
    assert window == (
        int(100 - margin),
        int(100 - margin),
        int(180 + margin + 0.999),
        int(150 + margin + 0.999),
    )
    assert crops.crop_window([(0, 0, 10, 10)], 30, 20) == (0, 0, 22, 20)


def test_window_of_a_degenerate_box_is_still_one_pixel():
    left, top, right, bottom = crops.crop_window([(50, 50, 50, 50)], 50, 50)
    assert right > left and bottom > top


def test_scale_fits_the_long_side_and_enlarges_small_crops_at_most_four_times():
    assert crops.crop_scale((0, 0, 1024, 512)) == pytest.approx(0.25)
    assert crops.crop_scale((0, 0, 10, 10)) == crops.MAX_UPSCALE


def _pixels(png: bytes) -> PILImage.Image:
    return PILImage.open(io.BytesIO(png)).convert("RGB")


def test_render_draws_a_solid_annotation_and_a_dashed_prediction():
    image = PILImage.new("RGB", (400, 300), (0, 0, 0))
    png = crops.render_crop(image, (100, 100, 200, 200), (250, 100, 350, 200))
    crop = _pixels(png)
    assert max(crop.size) == crops.CROP_MAX_SIDE
    colours = crop.getcolors(1 << 16)
    found = {colour for _count, colour in colours}
    assert crops.ANNOTATION_COLOUR in found and crops.PREDICTION_COLOUR in found

    # a dashed edge has gaps along its length; the solid one has none
    top = min(
        y
        for y in range(crop.height)
        if any(crop.getpixel((x, y)) == crops.PREDICTION_COLOUR for x in range(crop.width))
    )
    line = [crop.getpixel((x, top)) == crops.PREDICTION_COLOUR for x in range(crop.width)]
    changes = sum(1 for a, b in zip(line, line[1:], strict=False) if a != b)
    assert changes >= 6


def test_render_of_a_one_sided_instance_draws_only_that_box():
    image = PILImage.new("RGB", (100, 100), (0, 0, 0))
    found = {
        c for _n, c in _pixels(crops.render_crop(image, (10, 10, 40, 40), None)).getcolors(99999)
    }
    assert crops.ANNOTATION_COLOUR in found and crops.PREDICTION_COLOUR not in found


@pytest.fixture
def instance(completed_run, db) -> Instance:
    return (
        completed_run.instances.select_related("image").filter(kind=Instance.Kind.CONFUSION).first()
    )


def test_get_crop_writes_once_under_media_crops_run(instance, settings):
    path = crops.get_crop(instance)
    assert path.is_relative_to(settings.MEDIA_ROOT / "crops" / str(instance.run_id))
    assert _pixels(path.read_bytes()).size[0] <= crops.CROP_MAX_SIDE
    path.write_bytes(b"cached")
    assert crops.get_crop(instance).read_bytes() == b"cached"


def test_moved_boxes_get_a_new_crop(instance):
    first = crops.crop_path(instance)
    instance.px1 += 5
    assert crops.crop_path(instance) != first


def test_missing_image_file_is_unavailable(instance):
    instance.image.file.delete(save=False)
    with pytest.raises(crops.CropUnavailable):
        crops.get_crop(instance)


def _show(instance: Instance, data: bytes, box) -> Instance:
    """The instance's image replaced by this file, its annotation at box, no prediction."""
    image = instance.image
    image.file.save("turned.jpg", ContentFile(data), save=False)
    image.width, image.height = samples.WIDTH, samples.HEIGHT
    image.save()
    instance.gx1, instance.gy1, instance.gx2, instance.gy2 = box
    instance.px1 = instance.py1 = instance.px2 = instance.py2 = None
    return instance


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_the_crop_of_an_exif_turned_jpeg_has_the_box_on_the_object(instance, orientation):
    box = samples.OBJECT
    _show(instance, samples.turned_bytes(orientation), box)
    crop = np.asarray(_pixels(crops.get_crop(instance).read_bytes()), dtype=int)
    left, top, *_ = crops.crop_window([box], samples.WIDTH, samples.HEIGHT)
    scale = crops.crop_scale(crops.crop_window([box], samples.WIDTH, samples.HEIGHT))
    centre = (((box[1] + box[3]) / 2 - top) * scale, ((box[0] + box[2]) / 2 - left) * scale)
    outside = ((box[1] - top) * scale / 2, (box[0] - left) * scale / 2)
    assert np.abs(crop[int(centre[0]), int(centre[1])] - samples.RED).max() < 20
    assert np.abs(crop[int(outside[0]), int(outside[1])] - samples.BACKGROUND).max() < 20


def test_the_crop_of_a_sixteen_bit_image_is_not_white(instance):
    _show(instance, samples.sixteen_bit_bytes("PNG", 10000, 50000), (10, 10, 110, 70))
    crop = np.asarray(_pixels(crops.get_crop(instance).read_bytes()), dtype=int)
    assert crop[crop.shape[0] // 2, 5].tolist() == [38, 38, 38]
    assert crop[crop.shape[0] // 2, -5].tolist() == [194, 194, 194]


def test_the_crop_is_drawn_from_the_pixels_the_engine_decodes(instance, tmp_path):
    box = samples.OBJECT
    _show(instance, samples.mode_bytes("CMYK"), box)
    engine_view = PILImage.fromarray(np.asarray(open_rgb(instance.image.file.path)))
    expected = _pixels(crops.render_crop(engine_view, box, None))
    assert np.array_equal(np.asarray(_pixels(crops.get_crop(instance).read_bytes())), expected)


def test_a_crop_cached_before_the_decoder_changed_is_not_served_again(instance):
    annotation, prediction = crops.instance_boxes(instance)
    old_key = repr((instance.image_id, annotation, prediction, crops.CROP_MAX_SIDE)).encode()
    old = crops.crop_path(instance).with_name(
        f"{instance.pk}-{hashlib.sha256(old_key).hexdigest()[:16]}.png"
    )
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(b"white, unrotated")
    assert crops.get_crop(instance) != old
    assert crops.get_crop(instance).read_bytes().startswith(b"\x89PNG")
