"""Forms of the project pages."""

from __future__ import annotations

import zipfile

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from projects.cleaning import text_problem
from projects.models import Project, Task


class DatasetUploadForm(forms.Form):
    """A zipped COCO or YOLO dataset to import into a new task of a project."""

    FORMATS = [("coco", _("COCO (JSON + images)")), ("yolo", _("YOLO (images + labels/*.txt)"))]

    archive = forms.FileField(
        label=_("Dataset (zip)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    format = forms.ChoiceField(label=_("Format"), choices=FORMATS, initial="coco")
    task_name = forms.CharField(label=_("Task name"), max_length=200)
    validation = forms.BooleanField(
        label=_("Validation set"),
        required=False,
        help_text=_("Use this task's images when validating models."),
    )

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_archive(self):
        """A zip file within the size cap; its contents are checked by the importer."""
        archive = self.cleaned_data["archive"]
        if archive.size > settings.IMPORT_MAX_ARCHIVE_BYTES:
            raise forms.ValidationError(
                _("The archive is larger than %(max)s.")
                % {"max": filesizeformat(settings.IMPORT_MAX_ARCHIVE_BYTES)}
            )
        archive.seek(0)
        if not zipfile.is_zipfile(archive):
            raise forms.ValidationError(_("This is not a zip archive."))
        archive.seek(0)
        return archive

    def clean_task_name(self) -> str:
        """A name that is not blank and not taken by another task of the project."""
        name = self.cleaned_data["task_name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the task a name."))
        if problem := text_problem(name):
            raise forms.ValidationError(_("The task name %(problem)s.") % {"problem": problem})
        if Task.objects.filter(project=self.project, name=name).exists():
            raise forms.ValidationError(
                _("This project already has a task named “%(name)s”.") % {"name": name}
            )
        return name
