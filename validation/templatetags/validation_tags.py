"""Formatting of the numbers the validation pages show ("—" for undefined)."""

from __future__ import annotations

from django import template
from django.template.defaultfilters import floatformat
from django.utils.html import escape, format_html, format_html_join
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
    """The <td>s of one matrix row, built in Python: 30 labels make about 1000 cells.

    Neighbouring empty cells of a large matrix (None, see COMPACT_MATRIX_LABELS) become one
    blank <td colspan>, so the page grows with the cells that hold something, not with the
    square of the labels.
    """
    # Plain f-strings: format_html's per-argument escaping dominated the what-if round trip.
    # Only the two URLs can hold characters to escape; the rest are numbers.
    parts: list[str] = []
    blank = 0
    for cell in row.cells:
        if cell is None:
            blank += 1
            continue
        if blank:
            parts.append(_blank_cells(blank))
            blank = 0
        parts.append(_matrix_cell(cell))
    if blank:
        parts.append(_blank_cells(blank))
    return mark_safe("".join(parts))


def _blank_cells(count: int) -> str:
    return f'<td colspan="{count}"></td>' if count > 1 else "<td></td>"


def _matrix_cell(cell) -> str:
    classes = " ".join(
        name
        for name, on in (
            ("diag", cell.diagonal),
            ("selected", cell.selected),
            ("dark", cell.share > 0.55),
        )
        if on
    )
    class_attr = f' class="{classes}"' if classes else ""
    if not cell.count:
        content = '<span class="zero">0</span>'
    else:
        content = (
            f'<a class="cell-link" href="{escape(cell.href)}" hx-get="{escape(cell.fragment_url)}"'
            f' data-cell="{int(cell.row)}-{int(cell.col)}">{int(cell.count)}</a>'
        )
    delta = getattr(cell, "delta", None)
    if delta:  # a what-if's change from the saved run: more on the diagonal is better
        sign = "+" if delta > 0 else "−"
        meaning = "better" if (delta > 0) == bool(cell.diagonal) else "worse"
        content += f'<span class="delta delta-{meaning}">{sign}{abs(int(delta))}</span>'
    return f'<td{class_attr} style="--share:{float(cell.share):.3f}">{content}</td>'


@register.simple_tag
def instance_cards(run, items) -> SafeString:
    """The cards of one page of a cell's instances, built in Python (50 per page, often)."""
    from django.urls import reverse

    image_base = reverse("validation:image-view", args=[run.pk, 0])[: -len("0/")]
    words = (_("Predicted"), _("Actual"), _("Score"))
    return format_html_join(
        "", "{}", ((_instance_card(item, image_base, words),) for item in items)
    )


def _instance_card(item, image_base: str, words: tuple[str, str, str]) -> SafeString:
    instance = item.instance
    image_url = getattr(item, "image_url", "") or (
        f"{image_base}{instance.image_id}/?instance={instance.pk}"
    )
    kind = item.kind_label
    if item.kind == "loc" and item.actual:
        kind = format_html("{} · {}", kind, _("actual %(label)s") % {"label": item.actual})
    name = instance.image.name
    return format_html(
        '<li class="instance" tabindex="0" role="option" aria-selected="false" data-id="{}" '
        'data-image-url="{}"><div class="crop"><img src="{}" loading="lazy" alt="{}"></div>'
        '<dl class="instance-facts"><div><dt>{}</dt><dd>{}</dd></div>'
        "<div><dt>{}</dt><dd>{}</dd></div><div><dt>{}</dt><dd>{}</dd></div>"
        "<div><dt>IoU</dt><dd>{}</dd></div></dl>"
        '<p class="kind kind-{}">{}</p><p class="image-name" title="{}">{}</p></li>',
        instance.pk,
        image_url,
        item.crop_url,
        name,
        words[0],
        item.predicted or UNDEFINED,
        words[1],
        item.actual or UNDEFINED,
        words[2],
        metric(instance.score),
        metric(instance.iou),
        item.kind,
        kind,
        name,
        name,
    )
