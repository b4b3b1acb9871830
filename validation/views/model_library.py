"""Models: the list every user sees, and the upload that queues a probe on a worker."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from validation.modelfiles.forms import ModelUploadForm
from validation.modelfiles.importing import ModelImportError, import_model
from validation.models import DetectionModel


@require_http_methods(["GET", "POST"])
def model_library(request: HttpRequest) -> HttpResponse:
    """All models with their probe result; POST uploads a new one."""
    form = ModelUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                model = _save_upload(form, request.user)
            except ModelImportError as exc:
                form.add_error("file", str(exc))
            else:
                messages.success(
                    request,
                    _("Model “%(name)s” uploaded; a worker is probing it.") % {"name": model.name},
                )
                return redirect("validation:model-library")
        status = 422
    models = DetectionModel.objects.select_related("process").order_by("process__name", "name")
    return render(
        request, "validation/model_library.html", {"models": models, "form": form}, status=status
    )


def _save_upload(form: ModelUploadForm, user) -> DetectionModel:
    upload = form.cleaned_data["file"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(upload.name).name
        with path.open("wb") as fh:
            for chunk in upload.chunks():
                fh.write(chunk)
        return import_model(
            form.cleaned_data["process"],
            path,
            name=form.cleaned_data["name"],
            labels=form.cleaned_data["labels"],
            user=user,
            **form.spec(),
        )
