"""Signing off a run: is the model fit for the production line? Status and notes, who and when."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from projects.versioning import StaleEdit, claim_version
from validation.models import InferenceRun

NOTES_MAX_LENGTH = 5000


def filter_by_review(queryset: QuerySet[InferenceRun], value: str | None) -> QuerySet:
    """Runs with this review status; an empty or unknown value leaves the queryset as it is."""
    if value in InferenceRun.Review.values:
        return queryset.filter(review_status=value)
    return queryset


def can_be_reviewed(run: InferenceRun) -> bool:
    """Only a completed run has results to sign off."""
    return run.status == InferenceRun.Status.COMPLETED


def save_review(run: InferenceRun, data: Mapping[str, Any], user) -> None:
    """Store status and notes with who/when, if the run is completed and `version` not stale."""
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


def _same_review(run: InferenceRun, data: Mapping[str, Any]) -> bool:
    return (run.review_status, run.review_notes) == (data["review_status"], data["review_notes"])
