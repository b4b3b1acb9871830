"""The wizard steps' context: step 1's choices, step 2's two editors, step 3's run summary."""

from __future__ import annotations

from validation.forms.confidences import (
    ConfidenceForm,
    LabelConfidenceError,
    rows_from_data,
    rows_to_source,
    source_to_rows,
)
from validation.forms.wizard import (
    DatasetModelForm,
    InferenceParametersForm,
    model_groups,
    project_options,
    project_summary,
    projects_for,
)
from validation.models import Process
from validation.presenters.params import first_by_pk, parse_int


def step1_context(user, form: DatasetModelForm) -> dict:
    """The form, the processes with the chosen one's models, and the chosen project's counts."""
    values = form.data if form.is_bound else form.initial
    process = first_by_pk(Process.objects.all(), values.get("process"))
    project = first_by_pk(projects_for(user), values.get("project"))
    return {
        "form": form,
        "processes": Process.objects.all(),
        "model_groups": model_groups(process),
        "process": process,
        "projects": project_options(user),
        "selected": {k: str(values.get(k) or "") for k in ("process", "model", "project")},
        "project": project,
        "summary": project_summary(project) if project else None,
    }


def step2_editor(data, saved_error: str = "") -> dict:
    """Both tabs' contents from the active tab's data, so switching never loses anything."""
    tab = data.get("tab") if data.get("tab") in ("builder", "source") else "builder"
    error = saved_error
    if tab == "builder" and hasattr(data, "getlist"):
        rows = rows_from_data(data)
        source = rows_to_source(rows)
    else:
        source = data.get("label_confidences", "") or ""
        try:
            rows = source_to_rows(source)
        except LabelConfidenceError as exc:
            rows, tab, error = [], "source", error or str(exc)
    return {"tab": tab, "rows": rows, "source": source, "editor_error": error}


def apply_editor_action(data) -> dict:
    """Add a row, remove a row or switch tabs, without validating."""
    editor = step2_editor(data)
    if "add" in data:
        editor["rows"].append(("", ""))
        editor["tab"] = "builder"
    elif "remove" in data:
        index = parse_int(data.get("remove"))
        if index is not None and 0 <= index < len(editor["rows"]):
            del editor["rows"][index]
    elif data.get("switch_tab") == "builder" and editor["tab"] == "source":
        try:
            editor["rows"] = source_to_rows(editor["source"])
            editor["tab"] = "builder"
        except LabelConfidenceError as exc:
            editor["editor_error"] = str(exc)
    elif data.get("switch_tab") == "source":
        editor["tab"] = "source"
    editor["source"] = (
        rows_to_source(editor["rows"]) if editor["tab"] == "builder" else editor["source"]
    )
    return editor


def step2_context(form: ConfidenceForm, labels: list[str], editor: dict) -> dict:
    """The form, both editors' contents, and each builder row's label choices and errors."""
    used = [label for label, _value in editor["rows"]]
    rows = []
    for index, (label, value) in enumerate(editor["rows"]):
        choices = [name for name in labels if name == label or name not in used]
        if label and label not in labels:
            choices.append(label)  # unknown (typed in the source tab): kept, refused on Next
        rows.append(
            {
                "index": index,
                "label": label,
                "value": value,
                "choices": choices,
                "errors": form.row_errors.get(index, []),
            }
        )
    return {
        "form": form,
        "labels": labels,
        "builder_rows": rows,
        "can_add": any(name not in used for name in labels),
        **editor,
    }


def step3_context(form: InferenceParametersForm, token: str, model, project, step2) -> dict:
    """The form, and a summary of what will run, so a wrong project or confidence shows."""
    return {
        "form": form,
        "submission_token": token,
        "run_summary": {
            "process": model.process,
            "model": model,
            "project": project,
            "counts": project_summary(project),
            "base_confidence": step2["base_confidence"],
            "label_confidences": sorted(step2["label_confidences"].items()),
        },
    }
