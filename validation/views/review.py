"""A run's review: is the model fit for the production line? Status and notes, with who/when."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

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


def filter_by_review(queryset: QuerySet[InferenceRun], value: str | None) -> QuerySet:
    """Runs with this review status; an empty or unknown value leaves the queryset as it is."""
    if value in InferenceRun.Review.values:
        return queryset.filter(review_status=value)
    return queryset


def save_review(run: InferenceRun, form: ReviewForm, user) -> None:
    """Store status and notes with who reviewed and when."""
    run.review_status = form.cleaned_data["review_status"]
    run.review_notes = form.cleaned_data["review_notes"]
    run.reviewed_by = user
    run.reviewed_at = timezone.now()
    run.save(update_fields=["review_status", "review_notes", "reviewed_by", "reviewed_at"])


def _initial(run: InferenceRun) -> dict:
    return {"review_status": run.review_status, "review_notes": run.review_notes}


@require_http_methods(["GET", "POST"])
def run_review(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the review form (a fragment for htmx); POST: save it, 422 with located errors."""
    run = _get_run_for_user(request, pk)
    template = fragment_or_page(request, TEMPLATE, FRAGMENT)
    if request.method == "GET":
        return render(request, template, {"run": run, "form": ReviewForm(initial=_initial(run))})
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return render(request, template, {"run": run, "form": form}, status=422)
    save_review(run, form, request.user)
    if template == TEMPLATE:
        return redirect(run)
    context = {"run": run, "form": ReviewForm(initial=_initial(run)), "saved": True}
    return render(request, template, context)
