"""A task's validation-set flag: the form that sets it, and setting it unless the click is stale."""

from __future__ import annotations

from django import forms

from projects.models import Task
from projects.versioning import StaleEdit, claim_version, version_field


class TaskFlagForm(forms.Form):
    """The posted flag ("0" or "1") and the task version the page showed."""

    is_validation = forms.TypedChoiceField(
        choices=[("0", "0"), ("1", "1")], coerce=lambda v: v == "1"
    )
    # The task version the page was read at: a flag changed meanwhile makes this click stale.
    version = version_field()


def set_validation_flag(task: Task, wanted: bool, version: int) -> None:
    """Set the flag if the task is still at `version`; StaleEdit if it changed to something else."""
    try:
        task.version = claim_version(Task.objects, task.pk, version, is_validation=wanted)
    except StaleEdit:
        task.refresh_from_db(fields=["is_validation", "version"])
        if task.is_validation != wanted:
            raise
        return  # already as wanted (a double click): nothing lost, nothing to do
    task.is_validation = wanted
