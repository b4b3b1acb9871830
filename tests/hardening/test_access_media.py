"""Files under MEDIA_ROOT: never by their /media/ path, in DEBUG too; only through checked views."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import clear_url_caches, reverse

import config.urls
from tests.hardening.access_world import AccessWorld, whatif_crop_token
from tests.validation.export_world import DOWNLOADS

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    """The URLconf as it is built with DEBUG off and on (it is read once, at import)."""
    settings.DEBUG = request.param
    importlib.reload(config.urls)
    clear_url_caches()
    yield request.param
    settings.DEBUG = False
    importlib.reload(config.urls)
    clear_url_caches()


def _file_views(access: AccessWorld) -> dict[str, str]:
    """Every view that streams a stored or generated file, with the victim's objects."""
    run, image, instance = access.run, access.image, access.instance
    token = whatif_crop_token(run, image)
    views = {
        "image-file": reverse("projects:image-file", args=[image.pk]),
        "image-thumb": reverse("projects:image-thumb", args=[image.pk]),
        "instance-crop": reverse("validation:instance-crop", args=[run.pk, instance.pk]),
        "whatif-crop": reverse("validation:run-whatif-crop", args=[run.pk, token]),
    }
    for name, _type, _file in DOWNLOADS:
        views[name.removeprefix("validation:")] = reverse(name, args=[run.pk])
    return views


def _every_media_file(client: Client, access: AccessWorld) -> list[Path]:
    """The owner opens every file view (thumbnails and crops get cached), plus a model file."""
    client.force_login(access.world.owner)
    for url in _file_views(access).values():
        response = client.get(url)
        assert response.status_code == 200, url
        if response.streaming:
            b"".join(response.streaming_content)
    model = access.run.model
    model.file.name = "models/" + "ab" * 32 + ".pt2"
    (Path(settings.MEDIA_ROOT) / model.file.name).parent.mkdir(parents=True, exist_ok=True)
    (Path(settings.MEDIA_ROOT) / model.file.name).write_bytes(b"PK\x03\x04 a model")
    model.save(update_fields=["file"])
    root = Path(settings.MEDIA_ROOT)
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_no_file_under_media_root_is_served_by_its_path(client, access, debug):
    files = _every_media_file(client, access)
    kinds = {path.parts[0] for path in files}
    assert {"projects", "runs", "models", "thumbs", "crops"} <= kinds
    failures = []
    for user in (access.world.owner, access.world.outsider, None):
        visitor = Client()
        if user is not None:
            visitor.force_login(user)
        for path in files:
            url = "/" + settings.MEDIA_URL.strip("/") + "/" + path.as_posix()
            status = visitor.get(url).status_code
            if status != 404:
                failures.append(f"{user} GET {url}: {status}")
    assert failures == []


def test_an_outsider_gets_404_from_every_file_view(client, access, debug):
    client.force_login(access.world.outsider)
    statuses = {name: client.get(url).status_code for name, url in _file_views(access).items()}
    assert statuses == dict.fromkeys(statuses, 404)


def test_a_member_gets_every_file_view(client, access):
    client.force_login(access.world.member)
    statuses = {name: client.get(url).status_code for name, url in _file_views(access).items()}
    assert statuses == dict.fromkeys(statuses, 200)


def test_static_files_are_served_by_the_app_with_debug_off(settings, tmp_path):
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    visitor = Client()
    css = visitor.get("/static/css/portal.css")
    htmx = visitor.get("/static/django_htmx/htmx-4.min.js")
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")
    assert htmx.status_code == 200 and "javascript" in htmx["Content-Type"]
