"""The label confidences: the JSON source and builder rows parsed and checked, and step 2's form."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from projects.cleaning import (
    BadNumber,
    NumberError,
    NumberField,
    loads,
    parse_number,
    printable,
    text_problem,
)

DEFAULT_BASE_CONFIDENCE = 0.25
TABS = ("builder", "source")


class LabelConfidenceError(ValueError):
    """A located problem in the label confidences: the line (source tab) or the row (builder)."""

    def __init__(self, message: str, line: int | None = None, row: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.row = row

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return _("Line %(line)d: %(message)s") % {"line": self.line, "message": self.message}


_JSON_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:')


def _key_lines(text: str) -> dict[str, list[int]]:
    """Line numbers of each object key in the text, in order of appearance."""
    lines: dict[str, list[int]] = {}
    for match in _JSON_KEY.finditer(text):
        try:
            key = json.loads(f'"{match.group(1)}"')
        except json.JSONDecodeError:
            continue
        lines.setdefault(key, []).append(text.count("\n", 0, match.start()) + 1)
    return lines


class _Pairs(list):
    """A JSON object's (key, value) pairs in order, so repeated keys are seen."""


def parse_source(text: str) -> list[tuple[str, object, int | None]]:
    """Parse the JSON source into (label, raw value, line) entries; syntax errors are located."""
    if not text.strip():
        return []

    try:
        data = loads(text, object_pairs_hook=_Pairs)
    except json.JSONDecodeError as exc:
        raise LabelConfidenceError(
            _("Line %(line)d, column %(column)d: %(message)s")
            % {"line": exc.lineno, "column": exc.colno, "message": exc.msg}
        ) from exc
    except RecursionError:  # "[[[[…" a few thousand deep exhausts the parser's stack
        raise LabelConfidenceError(
            _(
                "The label confidences are nested too deeply; use one object such as "
                '{"scratch": 0.5}.'
            ),
            line=1,
        ) from None
    if not isinstance(data, _Pairs):
        raise LabelConfidenceError(
            _('The label confidences must be a JSON object such as {"scratch": 0.5}.'), line=1
        )
    key_lines = _key_lines(text)
    seen: dict[str, int] = {}
    entries = []
    for key, value in data:
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        found = key_lines.get(key, [])
        line = found[occurrence] if occurrence < len(found) else None
        if isinstance(value, _Pairs):  # a nested object
            value = dict(value)
        entries.append((key, value, line))
    return entries


def _as_confidence(label: str, value: object, text_allowed: bool) -> float:
    """A confidence as a float in [0, 1]; raises ValueError with a message naming the label."""
    names = {"label": label}
    if isinstance(value, str) and text_allowed:
        if not value.strip():
            raise ValueError(_("Enter a confidence for “%(label)s”.") % names)
        try:
            value = parse_number(value)
        except NumberError as exc:
            if exc.code != "digits":
                raise ValueError(
                    _("The confidence of “%(label)s” must be a number between 0 and 1.") % names
                ) from None
            value = BadNumber(str(value), exc.message)
    if isinstance(value, BadNumber):
        raise ValueError(
            _("The confidence of “%(label)s” must be a number between 0 and 1: %(reason)s")
            % {"label": label, "reason": value.reason}
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(
            _("The confidence of “%(label)s” must be a number between 0 and 1.") % names
        )
    number = float(value) + 0.0  # -0 is 0
    if not math.isfinite(number):
        raise ValueError(
            _("The confidence of “%(label)s” must be a finite number between 0 and 1.") % names
        )
    if number < 0 or number > 1:
        raise ValueError(
            _("The confidence of “%(label)s” (%(value)s) must be between 0 and 1.")
            % {"label": label, "value": f"{number:g}"}
        )
    return number


def check_label_confidences(
    entries: list[tuple[str, object, int | None, int | None]],
    base: float | None,
    labels: list[str] | None,
) -> tuple[dict[str, float], list[LabelConfidenceError]]:
    """Check (label, value, line, row) entries; unknown labels are refused when labels are known."""
    result: dict[str, float] = {}
    errors: list[LabelConfidenceError] = []
    seen: set[str] = set()
    for label, raw, line, row in entries:

        def fail(message: str, line: int | None = line, row: int | None = row) -> None:
            errors.append(LabelConfidenceError(message, line=line, row=row))

        if not label:
            fail(_("Choose a label."))
            continue
        problem = text_problem(label)
        if problem:
            fail(
                _("The label name “%(label)s” %(problem)s.")
                % {"label": printable(label), "problem": problem}
            )
            continue
        if label in seen:
            fail(_("“%(label)s” is given twice.") % {"label": label})
            continue
        seen.add(label)
        if labels is not None and label not in labels:
            fail(
                _("Unknown label “%(label)s”: it is neither a model label nor a project label.")
                % {"label": label}
            )
            continue
        try:
            value = _as_confidence(label, raw, text_allowed=row is not None)
        except ValueError as exc:
            fail(str(exc))
            continue
        if base is not None and value < base:
            fail(
                _(
                    "The confidence of “%(label)s” (%(value)s) is below the base confidence "
                    "(%(base)s); a label confidence must be at least the base."
                )
                % {"label": label, "value": f"{value:g}", "base": f"{base:g}"}
            )
            continue
        result[label] = value
    return result, errors


def rows_from_data(data: Mapping) -> list[tuple[str, str]]:
    """The builder rows (label, value) as submitted."""
    getlist = getattr(data, "getlist", None)
    if getlist is None:
        return []
    return list(zip(getlist("lc_label"), getlist("lc_value"), strict=False))


def rows_to_source(rows: list[tuple[str, str]]) -> str:
    """The builder rows as JSON text; a value that is not a number stays a string."""
    mapping: dict[str, object] = {}
    for label, raw in rows:
        if not label:
            continue
        try:
            mapping[label] = parse_number(str(raw))
        except NumberError:
            mapping[label] = raw
    if not mapping:
        return ""
    return json.dumps(mapping, ensure_ascii=False, indent=2)


def source_to_rows(text: str) -> list[tuple[str, str]]:
    """The JSON text as builder rows; raises LabelConfidenceError when it does not parse."""
    return [(label, _display_value(value)) for label, value, _line in parse_source(text)]


def _display_value(value: object) -> str:
    if isinstance(value, BadNumber):
        return value.text
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f"{value:g}"
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


class ConfidenceForm(forms.Form):
    """Step 2: the base confidence and the label confidences, from either tab."""

    base_confidence = NumberField(
        label=gettext_lazy("Base confidence"),
        min_value=0,
        max_value=1,
        initial=DEFAULT_BASE_CONFIDENCE,
        error_messages={
            "required": gettext_lazy("Enter the base confidence."),
            "invalid": gettext_lazy("The base confidence must be a number between 0 and 1."),
            "min_value": gettext_lazy("The base confidence must be between 0 and 1."),
            "max_value": gettext_lazy("The base confidence must be between 0 and 1."),
        },
    )
    tab = forms.ChoiceField(choices=[(t, t) for t in TABS], required=False)
    label_confidences = forms.CharField(
        label=gettext_lazy("Label confidence"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
    )

    def __init__(self, *args, labels: list[str] | None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.labels = labels
        self.row_errors: dict[int, list[str]] = {}

    def active_tab(self) -> str:
        tab = self.data.get("tab") if self.is_bound else None
        return tab if tab in TABS else "source"

    def clean_label_confidences(self) -> str:
        value = self.cleaned_data.get("label_confidences") or ""
        if len(value) > 100_000:
            raise forms.ValidationError(_("The label confidences text is too long."))
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        base = cleaned.get("base_confidence")
        entries: list[tuple[str, object, int | None, int | None]]
        if self.active_tab() == "builder":
            entries = [
                (label.strip(), value, None, i)
                for i, (label, value) in enumerate(rows_from_data(self.data))
            ]
        else:
            try:
                parsed = parse_source(cleaned.get("label_confidences") or "")
            except LabelConfidenceError as exc:
                self.add_error("label_confidences", str(exc))
                return cleaned
            entries = [(label, value, line, None) for label, value, line in parsed]
        mapping, errors = check_label_confidences(entries, base, self.labels)
        for error in errors:
            if error.row is not None:
                self.row_errors.setdefault(error.row, []).append(error.message)
            self.add_error("label_confidences", str(error))
        cleaned["label_confidences"] = mapping
        return cleaned
