"""What the annotation editor's page needs: the image's neighbours and editor.js's config."""

from __future__ import annotations

from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.translation import gettext as _

from projects.editing import annotation_state, image_annotations
from projects.models import Image, Label


def _url(name: str, args: list[int], fallback: str) -> str:
    """A validation page's URL by name (projects does not import validation), else its path."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return get_script_prefix() + fallback


def neighbours(image: Image) -> tuple[int | None, int | None]:
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
