"""The annotation editor of one image, and saving its boxes."""

from __future__ import annotations

import json

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from projects.access import get_image_for_user
from projects.editing import (
    AnnotationsInvalid,
    AnnotationsStale,
    annotation_state,
    save_annotations,
)
from projects.editor_page import editor_config, neighbours


def _run_id(raw: str | None) -> int | None:
    """The `run` query parameter as a positive int; anything else means no run."""
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw) or None


@require_GET
def image_editor(request, pk: int) -> HttpResponse:
    """The editor page; an HTMX request gets the editor fragment alone."""
    image = get_image_for_user(request.user, pk)
    run_id = _run_id(request.GET.get("run"))
    previous, following = neighbours(image)
    context = {
        "image": image,
        "task": image.task,
        "project": image.task.project,
        "config": editor_config(image, run_id),
        "run_id": run_id,
        "previous_id": previous,
        "next_id": following,
    }
    template = "projects/image_editor.html" + ("#image-editor" if request.htmx else "")
    return render(request, template, context)


@require_POST
def annotations_save(request, pk: int) -> JsonResponse:
    """Save the posted boxes if read at the image's version; 422 (bad box) or 409 (stale): none."""
    image = get_image_for_user(request.user, pk)
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting exhausts the stack
        message = _("The request body is not valid JSON.")
        return JsonResponse(
            {"errors": [{"index": None, "field": "body", "message": message}]}, status=400
        )
    try:
        result = save_annotations(image, payload, request.user)
    except AnnotationsInvalid as exc:
        return JsonResponse({"errors": [e.as_dict() for e in exc.errors]}, status=422)
    except AnnotationsStale as exc:
        error = {"index": None, "field": "version", "message": str(exc)}
        return JsonResponse({"errors": [error], "version": exc.current}, status=409)
    return JsonResponse(
        {
            "version": result.version,
            "annotations": [annotation_state(a) for a in result.annotations],
            "created": result.created,
            "updated": result.updated,
            "deleted": result.deleted,
            "unchanged": result.unchanged,
        }
    )
