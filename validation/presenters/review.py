"""The review form of a run and what it starts from."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from projects.versioning import version_field
from validation.models import InferenceRun
from validation.runs.review import NOTES_MAX_LENGTH


class ReviewForm(forms.Form):
    review_status = forms.ChoiceField(label=_("Review"), choices=InferenceRun.Review.choices)
    review_notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=NOTES_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    # The review version the form was read at: a review saved meanwhile makes this one stale.
    version = version_field()


def review_form(run: InferenceRun, form: ReviewForm | None = None) -> ReviewForm:
    """The form at the run's saved review and version; with form, keeping what it holds."""
    typed = {k: form.cleaned_data[k] for k in ("review_status", "review_notes")} if form else {}
    initial = {
        "review_status": run.review_status,
        "review_notes": run.review_notes,
        **typed,
        "version": run.review_version,
    }
    return ReviewForm(initial=initial)
