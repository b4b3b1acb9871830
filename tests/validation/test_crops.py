"""Instance crops: the window, both box styles, the disk cache."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from tests.validation.run_world import World, make_completed_run
from validation import crops
from validation.models import Instance


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
def instance(owner, member, outsider, settings, db) -> Instance:
    world = World(owner, member, outsider)
    run = make_completed_run(world.project, world.model, world.owner)
    return run.instances.select_related("image").filter(kind=Instance.Kind.CONFUSION).first()


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
