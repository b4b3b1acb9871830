"""The annotation editor of one image, and saving its boxes."""

from __future__ import annotations

import json

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from projects.access import get_image_for_user
from projects.editing import (
    AnnotationsInvalid,
    AnnotationsStale,
    annotation_state,
    image_annotations,
    save_annotations,
)
from projects.models import Image, Label


def _run_id(raw: str | None) -> int | None:
    """The `run` query parameter as a positive int; anything else means no run."""
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw) or None


def _url(name: str, args: list[int], fallback: str) -> str:
    """A validation page's URL by name (projects does not import validation), else its path."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return get_script_prefix() + fallback


def _neighbours(image: Image) -> tuple[int | None, int | None]:
    """The previous and next image of the same task, by name."""
    siblings = Image.objects.filter(task_id=image.task_id).values_list("pk", flat=True)
    previous = siblings.filter(name__lt=image.name).order_by("-name").first()
    following = siblings.filter(name__gt=image.name).order_by("name").first()
    return previous, following


def editor_strings() -> dict[str, object]:
    """The editor's messages, translated here so that editor.js needs no catalogue."""
    return {
        "saving": _("Saving…"),
        "saved": _("Saved: %(created)s added, %(updated)s changed, %(deleted)s deleted."),
        "unsaved": _("Unsaved changes"),
        "invalid": _("Nothing was saved: %(count)s problem(s). Fix the marked boxes."),
        "saveFailed": _("Saving failed (HTTP %(status)s). Nothing was changed."),
        "reloadConfirm": _("Reload the image and lose your unsaved changes?"),
        "networkError": _("The server could not be reached. Nothing was saved."),
        "loggedOut": _("Your session has ended. Log in again in another tab, then save."),
        "imageFailed": _("The image could not be loaded."),
        "noLabels": _("This project has no labels; import a dataset first."),
        "noBoxes": _("No boxes yet. Use “Draw box” to add one."),
        "newBox": _("new"),
        "selectBox": _("Select box %(n)s"),
        "labelOfBox": _("Label of box %(n)s"),
        "deleteBox": _("Delete box %(n)s"),
        "accept": _("Accept as annotation"),
        "accepted": _("Accepted"),
        "unknownLabel": _("Label “%(label)s” is not in this project."),
        "noPredictions": _("The run has no predictions for this image."),
        "predictionsFailed": _("Could not load the run's predictions (%(reason)s)."),
        # Instance kinds as the run's predictions JSON names them.
        "kinds": {
            "true_positive": _("true positive"),
            "confusion": _("confusion"),
            "loc": _("poorly localised (LOC)"),
            "duplicate": _("duplicate"),
            "background": _("false alarm"),
        },
    }


def editor_config(image: Image, run_id: int | None) -> dict:
    """What editor.js needs: the image, the project's labels, the boxes and where to save."""
    labels = Label.objects.filter(project_id=image.task.project_id)
    config = {
        "image": {
            "id": image.pk,
            "name": image.name,
            "width": image.width,
            "height": image.height,
            "url": reverse("projects:image-file", args=[image.pk]),
            "version": image.version,
        },
        "labels": [{"id": label.pk, "name": label.name} for label in labels],
        "annotations": [annotation_state(a) for a in image_annotations(image)],
        "saveUrl": reverse("projects:image-annotations-save", args=[image.pk]),
        "run": None,
        "i18n": editor_strings(),
    }
    if run_id is not None:
        config["run"] = {
            "id": run_id,
            "url": _url("validation:run-detail", [run_id], f"runs/{run_id}/"),
            "predictionsUrl": _url(
                "validation:image-predictions",
                [run_id, image.pk],
                f"runs/{run_id}/images/{image.pk}/predictions.json",
            ),
        }
    return config


@require_GET
def image_editor(request, pk: int) -> HttpResponse:
    """The editor page; an HTMX request gets the editor fragment alone."""
    image = get_image_for_user(request.user, pk)
    run_id = _run_id(request.GET.get("run"))
    previous, following = _neighbours(image)
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
