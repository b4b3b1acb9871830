"""Optimistic concurrency: an edit names the version it was read at; a stale one changes nothing.

Each editable row has an integer version. A save is one `UPDATE ... SET version = version + 1
WHERE pk = %s AND version = %s`: the database checks and bumps it atomically (on PostgreSQL the
second of two concurrent saves waits for the first, then finds the version moved on), so of two
saves read at the same version exactly one wins and the other is told so.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import connection
from django.db.models import F, Manager, QuerySet
from django.utils.translation import gettext_lazy as _

# A version travels through forms and JSON: bounded like the database column.
MAX_VERSION = 2**31 - 1


class StaleEdit(Exception):
    """Someone saved the object after this edit was read; nothing was changed."""

    def __init__(self, current: int | None) -> None:
        super().__init__(f"stale edit (current version {current})")
        self.current = current


def parse_version(value: Any) -> int | None:
    """A version as sent in JSON or a form (a whole number 0..MAX_VERSION), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_VERSION:
        return value
    return None


def claim_version(
    queryset: QuerySet[Any] | Manager[Any],
    pk: int,
    version: int,
    *,
    field: str = "version",
    **changes: Any,
) -> int:
    """Bump the row from `version` (writing `changes` in the same UPDATE); StaleEdit if moved on."""
    updated = queryset.filter(pk=pk, **{field: version}).update(**{field: F(field) + 1}, **changes)
    if not updated:
        current = queryset.filter(pk=pk).values_list(field, flat=True).first()
        raise StaleEdit(current)
    return version + 1


def version_field() -> forms.IntegerField:
    """The hidden form field that carries the version a form was read at."""
    invalid = _("This form's version is missing or not valid; reload the page and try again.")
    return forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=0,
        max_value=MAX_VERSION,
        error_messages={
            code: invalid for code in ("required", "invalid", "min_value", "max_value")
        },
    )


def stale_form_message() -> str:
    """What a form read before someone else's save says."""
    return str(
        _(
            "Someone else saved this after you opened the page; nothing was saved. "
            "Reload the page to see their changes, then make yours again."
        )
    )


class VersionedModelForm(forms.ModelForm):
    """A ModelForm whose hidden `version` must be the row's own; saving bumps it by one."""

    # Checked inside the view's transaction (the admin's is atomic): the row is locked while
    # checked (SQLite's immediate transactions serialise writers anyway), so check and write
    # are one step.

    version = version_field()
    stale = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        version = data.get("version")
        if self.instance.pk is None or version is None:
            return data
        rows = type(self.instance)._default_manager.filter(pk=self.instance.pk)
        if connection.in_atomic_block:
            rows = rows.select_for_update()
        if rows.values_list("version", flat=True).first() != version:
            self.stale = True
            self.add_error(None, stale_form_message())
        else:
            data["version"] = version + 1
        return data
