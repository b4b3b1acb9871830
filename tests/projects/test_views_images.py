"""Image files and thumbnails: the server decides the type; only project members get them."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image as PILImage

from projects.imagefiles import sniff_content_type
from tests.imaging import samples
from tests.projects.view_world import add_image, png_bytes

pytestmark = pytest.mark.django_db


def file_url(image) -> str:
    return reverse("projects:image-file", args=[image.pk])


def thumb_url(image) -> str:
    return reverse("projects:image-thumb", args=[image.pk])


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_member_gets_the_original_bytes_with_a_sniffed_type(member_client, world):
    response = member_client.get(file_url(world.image))

    assert response.status_code == 200
    assert body_of(response) == Path(world.image.file.path).read_bytes()
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")


def test_the_type_comes_from_the_bytes_not_the_name(client, member, world):
    jpeg = io.BytesIO()
    PILImage.new("RGB", (8, 8)).save(jpeg, "JPEG")
    disguised = add_image(world.validation_task, "really-a-jpeg.png", (8, 8), jpeg.getvalue())
    html = add_image(world.validation_task, "page.png", (8, 8), b"<html><script>alert(1)</script>")
    client.force_login(member)

    assert client.get(file_url(disguised))["Content-Type"] == "image/jpeg"
    assert client.get(file_url(html))["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\nrest", "image/png"),
        (b"GIF89a...", "image/gif"),
        (b"BM....", "image/bmp"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"II*\x00", "image/tiff"),
        (b"<svg xmlns=", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_sniffing_recognises_raster_formats_only(head, mime):
    assert sniff_content_type(head) == mime


def test_a_missing_file_is_404_not_500(client, member, world):
    Path(world.image.file.path).unlink()
    client.force_login(member)

    assert client.get(file_url(world.image)).status_code == 404
    assert client.get(thumb_url(world.image)).status_code == 404


@pytest.mark.parametrize("url", [file_url, thumb_url])
def test_an_outsider_gets_404(outsider_client, world, url):
    assert outsider_client.get(url(world.image)).status_code == 404


@pytest.mark.parametrize("url", [file_url, thumb_url])
def test_anonymous_is_sent_to_login(client, world, url):
    response = client.get(url(world.image))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("url", [file_url, thumb_url])
def test_post_is_not_allowed(member_client, world, url):
    assert member_client.post(url(world.image)).status_code == 405


def test_the_thumbnail_is_a_small_jpeg_cached_under_thumbs(client, member, world, settings):
    big = add_image(world.validation_task, "big.png", (1200, 600), png_bytes((1200, 600)))
    client.force_login(member)

    response = client.get(thumb_url(big))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    with PILImage.open(io.BytesIO(body_of(response))) as thumb:
        assert thumb.format == "JPEG"
        assert max(thumb.size) <= 320
        assert thumb.size[0] == 2 * thumb.size[1]
    cached = list((Path(settings.MEDIA_ROOT) / "thumbs").rglob("*.jpg"))
    assert len(cached) == 1


def test_the_cached_thumbnail_is_served_without_decoding_again(member_client, world, settings):
    member_client.get(thumb_url(world.image))
    [cached] = (Path(settings.MEDIA_ROOT) / "thumbs").rglob("*.jpg")
    cached.write_bytes(b"\xff\xd8\xff cached marker")

    response = member_client.get(thumb_url(world.image))

    assert body_of(response) == b"\xff\xd8\xff cached marker"


def test_a_corrupt_image_has_no_thumbnail_but_no_500(client, member, world):
    broken = add_image(world.validation_task, "broken.png", (8, 8), b"\x89PNG\r\n\x1a\ngarbage")
    client.force_login(member)

    assert client.get(thumb_url(broken)).status_code == 404


def thumbnail_of(client, image) -> np.ndarray:
    response = client.get(thumb_url(image))
    assert response.status_code == 200
    with PILImage.open(io.BytesIO(body_of(response))) as thumb:
        return np.asarray(thumb.convert("RGB"), dtype=int)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_the_thumbnail_of_an_exif_turned_jpeg_is_upright(client, member, world, orientation):
    size = (samples.WIDTH, samples.HEIGHT)
    turned = add_image(world.validation_task, "turned.jpg", size, samples.turned_bytes(orientation))
    client.force_login(member)

    pixels = thumbnail_of(client, turned)

    x1, y1, x2, y2 = samples.OBJECT
    assert pixels.shape == (samples.HEIGHT, samples.WIDTH, 3)
    assert np.abs(pixels[(y1 + y2) // 2, (x1 + x2) // 2] - samples.RED).max() < 24
    assert np.abs(pixels[5, 5] - samples.BACKGROUND).max() < 24


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_the_thumbnail_of_a_sixteen_bit_image_is_not_white(client, member, world, fmt):
    data = samples.sixteen_bit_bytes(fmt, 10000, 50000)
    grey = add_image(world.validation_task, f"grey16.{fmt.lower()}", (120, 80), data)
    client.force_login(member)

    pixels = thumbnail_of(client, grey)

    assert len(np.unique(pixels)) > 1
    assert np.abs(pixels[40, 10] - 38).max() <= 3  # 10000 of 65535, as the engine scales it
    assert np.abs(pixels[40, 110] - 194).max() <= 3


@pytest.mark.parametrize("mode", ["CMYK", "P-transparent", "LA", "RGBA", "I", "F"])
def test_the_thumbnail_of_every_image_mode_shows_its_picture(client, member, world, mode):
    image = add_image(world.validation_task, f"{mode}.img", (120, 80), samples.mode_bytes(mode))
    client.force_login(member)

    pixels = thumbnail_of(client, image).mean(axis=2)

    x1, y1, x2, y2 = samples.OBJECT
    assert abs(pixels[(y1 + y2) // 2, (x1 + x2) // 2] - pixels[5, 5]) > 20


def test_a_thumbnail_cached_before_the_decoder_changed_is_not_served_again(
    client, member, world, settings
):
    image = world.image
    folder = Path(settings.MEDIA_ROOT) / "thumbs" / str(image.pk % 1000)
    folder.mkdir(parents=True)
    (folder / f"{image.pk}-{image.checksum[:16]}-320.jpg").write_bytes(b"\xff\xd8\xff white")
    client.force_login(member)

    response = client.get(thumb_url(image))

    assert body_of(response) != b"\xff\xd8\xff white"
