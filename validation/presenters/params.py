"""Query and form values as typed values: ids, whole numbers, lists of ids."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)
MAX_ID = 2**63 - 1  # the largest id a 64-bit primary key can hold


def parse_id(value) -> int | None:
    """An id from a query or form: a whole number the database can hold, else None.

    SQLite raises OverflowError for larger numbers in filters such as `pk__in` and `fk_id=`.
    """
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def parse_int(value, default: int | None = None) -> int | None:
    """A whole number from a query, else the default."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def first_by_pk(queryset: QuerySet[M], value) -> M | None:
    """The row with this id, or None for a missing or malformed id."""
    pk = parse_id(value)
    return queryset.filter(pk=pk).first() if pk is not None else None


def listed_ids(params: Mapping, limit: int) -> list[int]:
    """Ids from ?ids=1,2,3 (or repeated ids=), in the order given, no repeats, at most limit."""
    getlist = getattr(params, "getlist", None)
    raw = getlist("ids") if getlist else [params.get("ids", "")]
    ids: list[int] = []
    for chunk in raw:
        for part in chunk.split(","):
            value = parse_id(part)
            if value is not None and value not in ids:
                ids.append(value)
    return ids[:limit]
