"""A run's review: is the model fit for the production line? Status and notes, with who/when."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from projects.versioning import StaleEdit, claim_version, version_field
from validation.models import InferenceRun
from validation.views.access import _get_run_for_user, fragment_or_page

TEMPLATE = "validation/run_review.html"
FRAGMENT = "run-review"
NOTES_MAX_LENGTH = 5000


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


def filter_by_review(queryset: QuerySet[InferenceRun], value: str | None) -> QuerySet:
    """Runs with this review status; an empty or unknown value leaves the queryset as it is."""
    if value in InferenceRun.Review.values:
        return queryset.filter(review_status=value)
    return queryset


def can_be_reviewed(run: InferenceRun) -> bool:
    """Only a completed run has results to sign off."""
    return run.status == InferenceRun.Status.COMPLETED


def save_review(run: InferenceRun, form: ReviewForm, user) -> None:
    """Store status and notes with who/when, if the run is completed and the form not stale."""
    data = form.cleaned_data
    fields = {
        "review_status": data["review_status"],
        "review_notes": data["review_notes"],
        "reviewed_by": user,
        "reviewed_at": timezone.now(),
    }
    completed = InferenceRun.objects.filter(status=InferenceRun.Status.COMPLETED)
    try:
        version = claim_version(
            completed, run.pk, data["version"], field="review_version", **fields
        )
    except StaleEdit:
        run.refresh_from_db()
        if can_be_reviewed(run) and _same_review(run, data):
            return  # the same review again (a double submit): nothing to change, nothing lost
        raise
    for name, value in fields.items():
        setattr(run, name, value)
    run.review_version = version


def _same_review(run: InferenceRun, data: dict) -> bool:
    return (run.review_status, run.review_notes) == (data["review_status"], data["review_notes"])


def _initial(run: InferenceRun, **posted) -> dict:
    return {
        "review_status": run.review_status,
        "review_notes": run.review_notes,
        **posted,
        "version": run.review_version,
    }


def _not_reviewable(request: HttpRequest, template: str, run: InferenceRun) -> HttpResponse:
    """The review without its form: a POST is refused with 409, nothing saved."""
    status = 409 if request.method == "POST" else 200
    return render(request, template, {"run": run}, status=status)


@require_http_methods(["GET", "POST"])
def run_review(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the review form (a fragment for htmx); POST: save it, 422/409 saving nothing."""
    run = _get_run_for_user(request, pk)
    template = fragment_or_page(request, TEMPLATE, FRAGMENT)
    if not can_be_reviewed(run):
        return _not_reviewable(request, template, run)
    if request.method == "GET":
        return render(request, template, {"run": run, "form": ReviewForm(initial=_initial(run))})
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return render(request, template, {"run": run, "form": form}, status=422)
    try:
        save_review(run, form, request.user)
    except StaleEdit:
        if not can_be_reviewed(run):
            return _not_reviewable(request, template, run)
        # Shown: the review as saved now; the form keeps what this user typed, at the new version.
        posted = {k: form.cleaned_data[k] for k in ("review_status", "review_notes")}
        context = {"run": run, "form": ReviewForm(initial=_initial(run, **posted)), "stale": True}
        return render(request, template, context, status=409)
    if template == TEMPLATE:
        return redirect(run)
    context = {"run": run, "form": ReviewForm(initial=_initial(run)), "saved": True}
    return render(request, template, context)
