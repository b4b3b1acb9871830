"""The worst-images gallery: its filter form from the query, and one page of ranked images."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import QueryDict
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from validation.analysis.worst_images import (
    ERROR_KIND_KEYS,
    ERROR_KINDS,
    selected_kinds,
    worst_images,
)
from validation.models import InferenceRun

IMAGES_PER_PAGE = 48


class WorstImagesFilter(forms.Form):
    """The gallery's filters, from the query string."""

    kind = forms.MultipleChoiceField(
        label=gettext_lazy("Errors"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(kind.key, kind.name) for kind in ERROR_KINDS],
    )
    label = forms.TypedChoiceField(
        label=gettext_lazy("Label"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, run: InferenceRun, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        label = self.fields["label"]
        assert isinstance(label, forms.TypedChoiceField)
        label.choices = [("", _("all labels")), *enumerate(run.labels)]
        label.help_text = _("predicted or actual")


def filter_form(run: InferenceRun, params: QueryDict) -> WorstImagesFilter:
    """The filters of this query; none chosen counts every kind, so all show ticked."""
    data = params.copy()
    if not data.getlist("kind"):
        data.setlist("kind", list(ERROR_KIND_KEYS))
    return WorstImagesFilter(run, data)


def _page_links(run: InferenceRun, data, page) -> dict[str, str]:
    url = reverse("validation:worst-images", args=[run.pk])
    kept = [(k, v) for k in ("kind", "label") for v in data.getlist(k) if v]

    def at(number: int) -> str:
        return url + "?" + urlencode([*kept, ("page", number)])

    return {
        "prev": at(page.previous_page_number()) if page.has_previous() else "",
        "next": at(page.next_page_number()) if page.has_next() else "",
    }


def gallery_context(run: InferenceRun, form: WorstImagesFilter, params) -> dict:
    """One page of the ranked images with their counts, for valid filters."""
    kinds = selected_kinds(form.cleaned_data["kind"])
    ranked = worst_images(run, [k.key for k in kinds], form.cleaned_data["label"])
    page = Paginator(ranked, IMAGES_PER_PAGE).get_page(params.get("page"))
    images = [
        {**row, "badges": [(kind, row[f"n_{kind.key}"]) for kind in kinds]}
        for row in page.object_list
    ]
    return {"page": page, "images": images, "kinds": kinds, "links": _page_links(run, params, page)}
