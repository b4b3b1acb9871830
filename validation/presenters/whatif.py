"""The what-if panel from the URL query: its form, inputs, result, links and headline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.http import QueryDict
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from validation.analysis import whatif
from validation.forms.whatif import WhatIfForm
from validation.models import InferenceRun
from validation.presenters.formatting import signed

PAGE_KEYS = ("open", "cell", "actual", "sort")


@dataclass
class WhatIfState:
    """The what-if panel: its form, what its inputs show, and the result when it is valid."""

    form: WhatIfForm
    values: dict[str, Any]
    active: bool
    result: whatif.WhatIf | None = None
    diff: list[list[int]] | None = None
    query: str = ""

    @property
    def labels(self) -> list[dict[str, Any]]:
        """Each label's input: name, saved confidence, what-if value, errors."""
        own = self.values["labels"]
        saved = self.values["saved"]
        errors = self.form.label_errors if self.form.is_bound else {}
        return [
            {
                "index": i,
                "name": name,
                "saved": saved.get(name),
                "value": own.get(name, ""),
                "errors": errors.get(name, []),
            }
            for i, name in enumerate(self.form.labels)
        ]

    @property
    def error_slots(self) -> list[tuple[str, list[str]]]:
        """(DOM id, messages) of every place an error can show, empty ones included."""
        form = self.form
        errors = form.errors if form.is_bound else {}
        slots = [
            (f"wi-err-{name}", [str(m) for m in errors.get(f"wi_{name}", [])])
            for name in ("base", "iou", "low")
        ]
        slots.append(("wi-err-general", [str(m) for m in errors.get("__all__", [])]))
        slots += [(f"wi-err-lc-{label['index']}", label["errors"]) for label in self.labels]
        return slots

    @property
    def slot_errors(self) -> dict[str, list[str]]:
        return dict(self.error_slots)


def whatif_state(run: InferenceRun, params: Mapping, evaluate: bool = True) -> WhatIfState:
    """The panel for this query; evaluated when it asks for a valid what-if."""
    labels = list(run.labels)
    own_map = run.label_threshold_map()
    values = whatif.initial_values(run, params, labels, own_map)
    values["saved"] = {name: whatif.number(v) for name, v in own_map.items()}
    active = whatif.has_whatif(params)
    form = WhatIfForm(params if active else None, labels=labels)
    state = WhatIfState(form=form, values=values, active=active)
    if active and form.is_valid() and evaluate:
        thresholds = form.thresholds()
        state.result = whatif.evaluate(run, thresholds)
        state.diff = whatif.matrix_difference(run, state.result)
        state.query = urlencode(whatif.query_items(thresholds, labels))
    return state


def run_state(run: InferenceRun, params: Mapping) -> WhatIfState | None:
    """The what-if panel of a run that can have one, else None."""
    return whatif_state(run, params) if whatif.can_whatif(run) else None


def asked_state(run: InferenceRun, params: Mapping) -> WhatIfState | None:
    """The what-if this query asks for, if the run can have one."""
    if whatif.can_whatif(run) and whatif.has_whatif(params):
        return whatif_state(run, params)
    return None


def posted_state(run: InferenceRun, form: WhatIfForm, data: Mapping) -> WhatIfState:
    """The panel of a refused save, showing what was posted and its errors."""
    values = whatif.initial_values(run, data, list(run.labels)) | {"saved": {}}
    return WhatIfState(form=form, values=values, active=True)


def page_url(run: InferenceRun, params: Mapping, query: str, **extra: str) -> str:
    """The run page with its open sections, cell and sort kept, and this what-if query."""
    kept = {k: str(params.get(k)) for k in PAGE_KEYS if params.get(k) not in (None, "")}
    kept.update({k: v for k, v in extra.items() if v})
    parts = [urlencode(kept)] if kept else []
    if query:
        parts.append(query)
    return run.get_absolute_url() + ("?" + "&".join(parts) if parts else "")


def posted_page_url(run: InferenceRun, data: QueryDict) -> str:
    """The run page with the what-if inputs of a form posted without htmx."""
    query = urlencode(
        [(k, v) for k in data if k.startswith(whatif.PREFIX) for v in data.getlist(k)]
    )
    return run.get_absolute_url() + "?" + query


def page_state(page: Mapping, request_query: QueryDict) -> QueryDict:
    """The page's sections, cell and sort with the wi_ inputs of this request's query."""
    merged = QueryDict(mutable=True)
    for key in PAGE_KEYS:
        value = page.get(key)
        if value:
            merged[key] = str(value)
    for key in request_query:
        if key.startswith(whatif.PREFIX):
            merged.setlist(key, request_query.getlist(key))
    return merged


def headline(run: InferenceRun, state: WhatIfState | None) -> list[dict]:
    """F1, precision, recall with their change from the saved run (what-if only)."""
    if state is None or state.result is None:
        return []
    names = {"f1": _("F1 score"), "precision": _("Precision"), "recall": _("Recall")}
    return [
        {
            "key": key,
            "name": names[key],
            "saved": saved,
            "value": value,
            "delta": signed(
                None if saved is None or value is None else value - saved,
                undefined="",
                rounded_zero="±0",
            ),
        }
        for key, saved, value in whatif.headline_changes(run, state.result)
    ]
