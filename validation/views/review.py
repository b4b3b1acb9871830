"""A run's review: is the model fit for the production line? Status and notes, with who/when."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from projects.versioning import StaleEdit
from validation.models import InferenceRun
from validation.presenters.review import ReviewForm, review_form
from validation.runs.review import can_be_reviewed, save_review
from validation.views.access import _get_run_for_user, fragment_or_page

TEMPLATE = "validation/run_review.html"
FRAGMENT = "run-review"


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
        return render(request, template, {"run": run, "form": review_form(run)})
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return render(request, template, {"run": run, "form": form}, status=422)
    try:
        save_review(run, form.cleaned_data, request.user)
    except StaleEdit:
        if not can_be_reviewed(run):
            return _not_reviewable(request, template, run)
        # Shown: the review as saved now; the form keeps what this user typed, at the new version.
        context = {"run": run, "form": review_form(run, form), "stale": True}
        return render(request, template, context, status=409)
    if template == TEMPLATE:
        return redirect(run)
    return render(request, template, {"run": run, "form": review_form(run), "saved": True})
