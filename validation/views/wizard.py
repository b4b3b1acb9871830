"""The three-step wizard that starts a validation run; each step is its own URL."""

from __future__ import annotations

import secrets

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from validation.forms.confidences import (
    DEFAULT_BASE_CONFIDENCE,
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
    run_labels,
)
from validation.models import InferenceRun, Process
from validation.runs import start as runs
from validation.views import wizard_state
from validation.views.access import HtmxHttpRequest, first_by_pk, wants_fragment

STEP_URLS = {
    1: "validation:wizard-step1",
    2: "validation:wizard-step2",
    3: "validation:wizard-step3",
}


def _go(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """Navigate: HX-Redirect for htmx, a plain redirect otherwise."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _go_step(request: HtmxHttpRequest, wizard: str, step: int) -> HttpResponse:
    return _go(request, reverse(STEP_URLS[step], args=[wizard]))


def _render_step(
    request: HtmxHttpRequest, wizard: str, step: int, context: dict, status: int = 200
) -> HttpResponse:
    name = f"validation/wizard_step{step}.html"
    template = f"{name}#wizard-form" if wants_fragment(request) else name
    context = {"step": step, "wizard": wizard, **context}
    return render(request, template, context, status=status)


def _wizard_of(request: HtmxHttpRequest, step: int, wizard_id: str | None) -> str | HttpResponse:
    """The id of the wizard this request is for, or the response that leaves it.

    An id-less URL (old links, scripts) means the most recently used wizard: a GET is sent on
    to its own URL, a POST acts on it. An unknown or expired id gets a page that says so.
    """
    session = request.session
    if wizard_id is None:
        wizard = wizard_state.current(session) or wizard_state.create(session)
        return _go_step(request, wizard, step) if request.method == "GET" else wizard
    if wizard_state.exists(session, wizard_id):
        return wizard_id
    # Another session's id, one that started its run, or one pushed out by newer wizards.
    template = "validation/wizard_expired.html"
    template += "#wizard-form" if wants_fragment(request) else ""
    return render(request, template, {"step": 0}, status=404)


def _step1_values(request: HtmxHttpRequest, wizard: str):
    """Model and project of a valid step 1, else None."""
    form = DatasetModelForm(wizard_state.load(request.session, 1, wizard), user=request.user)
    if not form.is_valid():
        return None
    return form.cleaned_data["model"], form.cleaned_data["project"]


def _step2_values(request: HtmxHttpRequest, wizard: str, labels: list[str]) -> dict | None:
    """Cleaned confidences of a valid step 2 (saved as JSON text), else None."""
    saved = {**wizard_state.load(request.session, 2, wizard), "tab": "source"}
    form = ConfidenceForm(saved, labels=labels)
    return form.cleaned_data if form.is_valid() else None


@require_GET
def wizard_start(request: HtmxHttpRequest) -> HttpResponse:
    """The + button: a fresh wizard, beside any other open in another tab."""
    return redirect(STEP_URLS[1], wizard_state.create(request.session))


# ---------------------------------------------------------------- step 1


def _step1_context(request: HtmxHttpRequest, form: DatasetModelForm) -> dict:
    values = form.data if form.is_bound else form.initial
    process = first_by_pk(Process.objects.all(), values.get("process"))
    project = first_by_pk(projects_for(request.user), values.get("project"))
    return {
        "form": form,
        "processes": Process.objects.all(),
        "model_groups": model_groups(process),
        "process": process,
        "projects": project_options(request.user),
        "selected": {k: str(values.get(k) or "") for k in ("process", "model", "project")},
        "project": project,
        "summary": project_summary(project) if project else None,
    }


def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@require_http_methods(["GET", "POST"])
def wizard_step1(request: HtmxHttpRequest, wizard_id: str | None = None) -> HttpResponse:
    """Step 1: process → model, and the project."""
    wizard = _wizard_of(request, 1, wizard_id)
    if isinstance(wizard, HttpResponse):
        return wizard
    if request.method == "GET":
        saved = wizard_state.load(request.session, 1, wizard)
        form = DatasetModelForm(initial=saved, user=request.user)
        return _render_step(request, wizard, 1, _step1_context(request, form))
    wizard_state.save(request.session, 1, request.POST, wizard)
    form = DatasetModelForm(request.POST, user=request.user)
    if not form.is_valid():
        return _render_step(request, wizard, 1, _step1_context(request, form), status=422)
    return _go_step(request, wizard, 2)


@require_GET
def wizard_models(request: HtmxHttpRequest) -> HttpResponse:
    """The model select for the chosen process (reloaded when the process changes)."""
    process = first_by_pk(Process.objects.all(), request.GET.get("process"))
    context: dict = {"model_groups": model_groups(process), "process": process, "selected": {}}
    return render(request, "validation/wizard_step1.html#wizard-models", context)


@require_GET
def wizard_project_summary(request: HtmxHttpRequest) -> HttpResponse:
    """Task, image and annotation counts of the chosen project's validation set."""
    raw = request.GET.get("project")
    project = None
    if raw:
        project = first_by_pk(projects_for(request.user), raw)
        if project is None:
            raise Http404("No such project.")
    summary = project_summary(project) if project else None
    context = {"project": project, "summary": summary}
    return render(request, "validation/wizard_step1.html#wizard-project-summary", context)


# ---------------------------------------------------------------- step 2


def _step2_editor(data, saved_error: str = "") -> dict:
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


def _apply_editor_action(data) -> dict:
    """Add a row, remove a row or switch tabs, without validating."""
    editor = _step2_editor(data)
    if "add" in data:
        editor["rows"].append(("", ""))
        editor["tab"] = "builder"
    elif "remove" in data:
        index = _as_int(data.get("remove"))
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


def _step2_context(form: ConfidenceForm, labels: list[str], editor: dict) -> dict:
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


@require_http_methods(["GET", "POST"])
def wizard_step2(request: HtmxHttpRequest, wizard_id: str | None = None) -> HttpResponse:
    """Step 2: base confidence and label confidences (builder and source tabs)."""
    wizard = _wizard_of(request, 2, wizard_id)
    if isinstance(wizard, HttpResponse):
        return wizard
    step1 = _step1_values(request, wizard)
    if step1 is None:
        return _go_step(request, wizard, 1)
    labels = run_labels(*step1)
    if request.method == "GET":
        saved = wizard_state.load(request.session, 2, wizard)
        form = ConfidenceForm(
            initial={"base_confidence": saved.get("base_confidence") or DEFAULT_BASE_CONFIDENCE},
            labels=labels,
        )
        context = _step2_context(form, labels, _step2_editor(saved))
        return _render_step(request, wizard, 2, context)
    editor = _apply_editor_action(request.POST)
    saved = {**request.POST.dict(), "tab": editor["tab"], "label_confidences": editor["source"]}
    wizard_state.save(request.session, 2, saved, wizard)
    if request.POST.get("action") == "back":
        return _go_step(request, wizard, 1)
    if request.POST.get("action") != "next":
        initial = {"base_confidence": saved.get("base_confidence")}
        form = ConfidenceForm(initial=initial, labels=labels)
        return _render_step(request, wizard, 2, _step2_context(form, labels, editor))
    form = ConfidenceForm(request.POST, labels=labels)
    if not form.is_valid():
        context = _step2_context(form, labels, editor)
        return _render_step(request, wizard, 2, context, status=422)
    return _go_step(request, wizard, 3)


# ---------------------------------------------------------------- step 3


def _run_of_token(request: HtmxHttpRequest, token: str) -> InferenceRun | None:
    """The run this submission already started (a double click, a retried request)."""
    if request.method != "POST" or not token:
        return None
    runs_of_user = InferenceRun.objects.filter(created_by_id=request.user.pk)
    return runs_of_user.filter(submission_token=token).first()


def _step3_context(form: InferenceParametersForm, token: str, model, project, step2) -> dict:
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


@require_http_methods(["GET", "POST"])
def wizard_step3(request: HtmxHttpRequest, wizard_id: str | None = None) -> HttpResponse:
    """Step 3: inference parameters; Start inference queues the run once per token."""
    token = request.POST.get("submission_token", "")
    started = _run_of_token(request, token)
    if started is not None:
        return _go(request, started.get_absolute_url())
    wizard = _wizard_of(request, 3, wizard_id)
    if isinstance(wizard, HttpResponse):
        return wizard
    step1 = _step1_values(request, wizard)
    if step1 is None:
        return _go_step(request, wizard, 1)
    model, project = step1
    step2 = _step2_values(request, wizard, run_labels(model, project))
    if step2 is None:
        return _go_step(request, wizard, 2)
    if request.method == "GET":
        saved = wizard_state.load(request.session, 3, wizard)
        form = InferenceParametersForm(initial=saved, model=model)
        context = _step3_context(form, secrets.token_urlsafe(24), model, project, step2)
        return _render_step(request, wizard, 3, context)
    wizard_state.save(request.session, 3, request.POST, wizard)
    if request.POST.get("action") == "back":
        return _go_step(request, wizard, 2)
    form = InferenceParametersForm(request.POST, model=model)
    context = _step3_context(form, token, model, project, step2)
    if not form.is_valid():
        return _render_step(request, wizard, 3, context, status=422)
    try:
        run = _start(request, model, project, step2, form.cleaned_data, token)
    except runs.QueueUnavailable as exc:
        form.add_error(None, str(exc))
        return _render_step(request, wizard, 3, context, status=503)
    wizard_state.discard(request.session, wizard)
    return _go(request, run.get_absolute_url())


def _start(request, model, project, confidences: dict, params: dict, token: str):
    return runs.start_run(
        user=request.user,
        model=model,
        project=project,
        base_confidence=confidences["base_confidence"],
        label_confidences=confidences["label_confidences"],
        device=params["device"],
        batch_size=params["batch_size"],
        image_size=params["image_size"],
        iou_threshold=params["iou_threshold"],
        low_overlap_threshold=params["low_overlap_threshold"],
        submission_token=token or None,
    )
