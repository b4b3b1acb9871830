"""The what-if form: thresholds read from the URL query and checked as the wizard checks them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext as _

from projects.cleaning import NumberField
from validation.analysis.evaluation import Thresholds
from validation.analysis.whatif import label_values
from validation.forms.confidences import ConfidenceForm, check_label_confidences
from validation.forms.wizard import iou_problem, low_overlap_problem


def _copy_field(form_class: type[forms.Form], name: str) -> forms.Field:
    return form_class.base_fields[name].__deepcopy__({})


def _threshold_field(label: str) -> forms.FloatField:
    # The wizard's step-3 fields and messages (InferenceParametersForm sets them per instance).
    return NumberField(
        label=label,
        max_value=1,
        error_messages={
            "required": _("Enter a number between 0 and 1."),
            "invalid": _("Enter a number between 0 and 1."),
            "max_value": _("Must be at most 1."),
        },
    )


class WhatIfForm(forms.Form):
    """Base and label confidences, IoU and low-overlap thresholds, checked as the wizard does."""

    wi_base = _copy_field(ConfidenceForm, "base_confidence")

    def __init__(self, data: Mapping | None, *, labels: list[str]) -> None:
        super().__init__(data)
        self.fields["wi_iou"] = _threshold_field(_("IoU threshold"))
        self.fields["wi_low"] = _threshold_field(_("Low-overlap threshold"))
        self.labels = labels
        self.label_values = label_values(data) if data is not None else []
        self.label_errors: dict[str, list[str]] = {}

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        iou, low = cleaned.get("wi_iou"), cleaned.get("wi_low")
        problem = iou_problem(iou)
        if problem:
            self.add_error("wi_iou", problem)
            iou = None
        problem = low_overlap_problem(iou, low)
        if problem:
            self.add_error("wi_low", problem)
        self._check_label_confidences(cleaned)
        return cleaned

    def _check_label_confidences(self, cleaned: dict[str, Any]) -> None:
        """The label confidences into cleaned["label_confidences"]; errors by label, or general."""
        # Rows: the label's axis index, so an error lands next to its input; unknown labels after.
        index = {name: i for i, name in enumerate(self.labels)}
        extra = iter(range(len(self.labels), len(self.labels) + len(self.label_values)))
        entries: list[tuple[str, object, int | None, int | None]] = [
            (label, value, None, index[label] if label in index else next(extra))
            for label, value in self.label_values
        ]
        mapping, errors = check_label_confidences(entries, cleaned.get("wi_base"), self.labels)
        for error in errors:
            key = (
                self.labels[error.row]
                if error.row is not None and error.row < len(self.labels)
                else ""
            )
            self.label_errors.setdefault(key, []).append(error.message)
            if not key:
                self.add_error(None, error.message)
        if errors and not self.errors:
            self.add_error(None, _("Please correct the label confidences."))
        cleaned["label_confidences"] = mapping

    def thresholds(self) -> Thresholds:
        cleaned = self.cleaned_data
        return Thresholds(
            base=cleaned["wi_base"],
            per_label=dict(cleaned["label_confidences"]),
            iou=cleaned["wi_iou"],
            low_overlap=cleaned["wi_low"],
        )
