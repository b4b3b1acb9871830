"""A run's images ranked by their errors, counted per kind in one aggregate query."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from validation.models import InferenceRun, Instance

Kind = Instance.Kind


@dataclass(frozen=True)
class ErrorKind:
    key: str
    name: str | Promise
    codes: tuple[int, ...]


# In the order the page shows them; false alarms are both duplicates and background.
ERROR_KINDS = (
    ErrorKind("missed", _("missed"), (Kind.MISSED,)),
    ErrorKind("false_alarm", _("false alarms"), (Kind.DUPLICATE, Kind.BACKGROUND)),
    ErrorKind("confusion", _("confusions"), (Kind.CONFUSION,)),
    ErrorKind("loc", _("LOC"), (Kind.LOC,)),
)
ERROR_KIND_KEYS = tuple(kind.key for kind in ERROR_KINDS)


def selected_kinds(keys: Sequence[str]) -> list[ErrorKind]:
    """The error kinds with these keys, in page order; none chosen means all of them."""
    chosen = [kind for kind in ERROR_KINDS if kind.key in keys]
    return chosen or list(ERROR_KINDS)


def worst_images(
    run: InferenceRun, kinds: Sequence[str] = (), label: int | None = None
) -> QuerySet:
    """Per image with at least one error: its counts per chosen kind and their total, worst first.

    `label` keeps the instances whose predicted or actual label has this axis index.
    """
    chosen = selected_kinds(kinds)
    codes = [code for kind in chosen for code in kind.codes]
    instances = Instance.objects.filter(run=run, kind__in=codes)
    if label is not None:
        instances = instances.filter(Q(row=label) | Q(actual_label=label))
    per_kind = {f"n_{kind.key}": Count("id", filter=Q(kind__in=kind.codes)) for kind in chosen}
    return (
        instances.values("image_id", "image__name")
        .annotate(errors=Count("id"), **per_kind)
        .order_by("-errors", "image__name", "image_id")
    )
