"""Image files and thumbnails, streamed to users who may see the image's project."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from projects.access import get_image_for_user
from projects.imagefiles import ImageUnavailable, content_type_of, image_path, thumbnail_path
from projects.models import Image


def _image_response(path: Path, content_type: str, filename: str) -> FileResponse:
    """An inline response whose type the server decided; browsers must not guess another."""
    response = FileResponse(path.open("rb"), content_type=content_type, filename=filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _file_of(image: Image, locate: Callable[[Image], Path]) -> Path:
    """The image's file that `locate` finds (or makes), else 404 with the reason."""
    try:
        return locate(image)
    except ImageUnavailable as exc:
        raise Http404(str(exc)) from exc


@require_GET
def image_file(request, pk: int) -> FileResponse:
    """The original image file."""
    image = get_image_for_user(request.user, pk)
    path = _file_of(image, image_path)
    return _image_response(path, content_type_of(path), Path(image.name).name)


@require_GET
def image_thumb(request, pk: int) -> FileResponse:
    """A JPEG thumbnail of the image, made once and cached under MEDIA_ROOT/thumbs/."""
    image = get_image_for_user(request.user, pk)
    name = Path(image.name).stem + ".jpg"
    return _image_response(_file_of(image, thumbnail_path), "image/jpeg", name)
