"""Formatting of the numbers the validation pages show ("—" for undefined)."""

from __future__ import annotations

from django import template
from django.template.defaultfilters import floatformat
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
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


@register.simple_tag
def matrix_cells(row) -> SafeString:
    """The <td>s of one matrix row, built in Python: 30 labels make about 1000 cells."""
    return format_html_join("", "{}", ((_matrix_cell(cell),) for cell in row.cells))


def _matrix_cell(cell) -> SafeString:
    classes = " ".join(
        name
        for name, on in (
            ("diag", cell.diagonal),
            ("selected", cell.selected),
            ("dark", cell.share > 0.55),
        )
        if on
    )
    if not cell.count:
        content = mark_safe('<span class="zero">0</span>')
    else:
        content = format_html(
            '<a class="cell-link" href="{}" hx-get="{}" data-cell="{}-{}">{}</a>',
            cell.href,
            cell.fragment_url,
            cell.row,
            cell.col,
            cell.count,
        )
    return format_html(
        '<td class="{}" style="--share:{}">{}</td>', classes, f"{cell.share:.3f}", content
    )
