"""Formatting of the numbers the validation pages show ("—" for undefined)."""

from __future__ import annotations

from django import template
from django.template.defaultfilters import floatformat
from django.utils.translation import gettext as _

register = template.Library()

UNDEFINED = "—"


@register.filter
def metric(value, digits: int = 3) -> str:
    """A ratio such as precision or F1 with fixed digits; "—" when undefined (None)."""
    if value is None or value == "":
        return UNDEFINED
    return floatformat(value, digits)


@register.filter
def seconds(value) -> str:
    """A duration: "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min"; "—" when unknown."""
    if value is None or value == "":
        return UNDEFINED
    value = float(value)
    if value < 1:
        return _("%(ms)s ms") % {"ms": floatformat(value * 1000, 0)}
    if value < 60:
        return _("%(s)s s") % {"s": floatformat(value, 1)}
    minutes, secs = divmod(int(round(value)), 60)
    if minutes < 60:
        return _("%(m)d min %(s)02d s") % {"m": minutes, "s": secs}
    hours, minutes = divmod(minutes, 60)
    return _("%(h)d h %(m)02d min") % {"h": hours, "m": minutes}


@register.filter
def share_style(share: float) -> str:
    """The CSS custom property that colours a matrix cell by its share of its row."""
    return f"--share:{float(share):.3f}"


@register.filter
def percent_of(done, total) -> int:
    """Whole percent of done over total (0 when the total is unknown)."""
    return int(100 * done / total) if total else 0


@register.simple_tag
def sort_arrow(current: str, column: str) -> str:
    """▲ or ▼ on the column the table is sorted by."""
    if current == column:
        return "▲"
    if current == f"-{column}":
        return "▼"
    return ""


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None
