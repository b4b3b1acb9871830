"""Instance crop images, made by the server and cached on disk."""

from __future__ import annotations

from django.http import FileResponse
from django.views.decorators.http import require_GET

from validation.presenters.crops import get_crop
from validation.views.access import HtmxHttpRequest, _get_run_for_user, crop_response, get_instance


@require_GET
def instance_crop(request: HtmxHttpRequest, pk: int, instance_pk: int) -> FileResponse:
    """A PNG crop around the instance's boxes; the first request draws it, later ones read it."""
    run = _get_run_for_user(request, pk)
    instance = get_instance(run, instance_pk)
    return crop_response(lambda: get_crop(instance))
