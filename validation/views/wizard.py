"""The three-step wizard that starts a validation run; each step is its own URL."""

from __future__ import annotations

import secrets

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from validation.forms.confidences import DEFAULT_BASE_CONFIDENCE, ConfidenceForm
from validation.forms.wizard import (
    DatasetModelForm,
    InferenceParametersForm,
    model_groups,
    project_summary,
    projects_for,
    run_labels,
)
from validation.models import InferenceRun, Process
from validation.presenters.wizard import (
    apply_editor_action,
    step1_context,
    step2_context,
    step2_editor,
    step3_context,
)
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


def _with_step1(request: HtmxHttpRequest, step: int, wizard_id: str | None):
    """(wizard, model, project) of a wizard whose step 1 is valid, else the response to send."""
    wizard = _wizard_of(request, step, wizard_id)
    if isinstance(wizard, HttpResponse):
        return wizard
    form = DatasetModelForm(wizard_state.load(request.session, 1, wizard), user=request.user)
    if not form.is_valid():
        return _go_step(request, wizard, 1)
    return wizard, form.cleaned_data["model"], form.cleaned_data["project"]


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


@require_http_methods(["GET", "POST"])
def wizard_step1(request: HtmxHttpRequest, wizard_id: str | None = None) -> HttpResponse:
    """Step 1: process → model, and the project."""
    wizard = _wizard_of(request, 1, wizard_id)
    if isinstance(wizard, HttpResponse):
        return wizard
    if request.method == "GET":
        saved = wizard_state.load(request.session, 1, wizard)
        form = DatasetModelForm(initial=saved, user=request.user)
        return _render_step(request, wizard, 1, step1_context(request.user, form))
    wizard_state.save(request.session, 1, request.POST, wizard)
    form = DatasetModelForm(request.POST, user=request.user)
    if not form.is_valid():
        return _render_step(request, wizard, 1, step1_context(request.user, form), status=422)
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


def _step2_post(request: HtmxHttpRequest, wizard: str, labels: list[str]) -> HttpResponse:
    """Save what was typed; Back, an editor action (add, remove, switch tab), or Next."""
    editor = apply_editor_action(request.POST)
    saved = {**request.POST.dict(), "tab": editor["tab"], "label_confidences": editor["source"]}
    wizard_state.save(request.session, 2, saved, wizard)
    if request.POST.get("action") == "back":
        return _go_step(request, wizard, 1)
    if request.POST.get("action") != "next":
        initial = {"base_confidence": saved.get("base_confidence")}
        form = ConfidenceForm(initial=initial, labels=labels)
        return _render_step(request, wizard, 2, step2_context(form, labels, editor))
    form = ConfidenceForm(request.POST, labels=labels)
    if not form.is_valid():
        context = step2_context(form, labels, editor)
        return _render_step(request, wizard, 2, context, status=422)
    return _go_step(request, wizard, 3)


@require_http_methods(["GET", "POST"])
def wizard_step2(request: HtmxHttpRequest, wizard_id: str | None = None) -> HttpResponse:
    """Step 2: base confidence and label confidences (builder and source tabs)."""
    opened = _with_step1(request, 2, wizard_id)
    if isinstance(opened, HttpResponse):
        return opened
    wizard, model, project = opened
    labels = run_labels(model, project)
    if request.method == "POST":
        return _step2_post(request, wizard, labels)
    saved = wizard_state.load(request.session, 2, wizard)
    form = ConfidenceForm(
        initial={"base_confidence": saved.get("base_confidence") or DEFAULT_BASE_CONFIDENCE},
        labels=labels,
    )
    context = step2_context(form, labels, step2_editor(saved))
    return _render_step(request, wizard, 2, context)


# ---------------------------------------------------------------- step 3


def _run_of_token(request: HtmxHttpRequest, token: str) -> InferenceRun | None:
    """The run this submission already started (a double click, a retried request)."""
    if request.method != "POST" or not token:
        return None
    runs_of_user = InferenceRun.objects.filter(created_by_id=request.user.pk)
    return runs_of_user.filter(submission_token=token).first()


def _start(request, model, project, confidences: dict, params: dict, token: str):
    return runs.start_run(
        user=request.user,
        model=model,
        project=project,
        base_confidence=confidences["base_confidence"],
        label_confidences=confidences["label_confidences"],
        submission_token=token or None,
        # Step 3's fields are the run's parameters: device, batch and image size, thresholds.
        **{name: params[name] for name in wizard_state.STEP_FIELDS[3]},
    )


def _step3_post(request: HtmxHttpRequest, wizard: str, model, project, step2, token: str):
    """Save what was typed; Back, the form again with its errors, or the run started."""
    wizard_state.save(request.session, 3, request.POST, wizard)
    if request.POST.get("action") == "back":
        return _go_step(request, wizard, 2)
    form = InferenceParametersForm(request.POST, model=model)
    context = step3_context(form, token, model, project, step2)
    if not form.is_valid():
        return _render_step(request, wizard, 3, context, status=422)
    try:
        run = _start(request, model, project, step2, form.cleaned_data, token)
    except runs.QueueUnavailable as exc:
        form.add_error(None, str(exc))
        return _render_step(request, wizard, 3, context, status=503)
    wizard_state.discard(request.session, wizard)
    return _go(request, run.get_absolute_url())


@require_http_methods(["GET", "POST"])
def wizard_step3(request: HtmxHttpRequest, wizard_id: str | None = None) -> HttpResponse:
    """Step 3: inference parameters; Start inference queues the run once per token."""
    token = request.POST.get("submission_token", "")
    started = _run_of_token(request, token)
    if started is not None:
        return _go(request, started.get_absolute_url())
    opened = _with_step1(request, 3, wizard_id)
    if isinstance(opened, HttpResponse):
        return opened
    wizard, model, project = opened
    step2 = _step2_values(request, wizard, run_labels(model, project))
    if step2 is None:
        return _go_step(request, wizard, 2)
    if request.method == "POST":
        return _step3_post(request, wizard, model, project, step2, token)
    form = InferenceParametersForm(
        initial=wizard_state.load(request.session, 3, wizard), model=model
    )
    context = step3_context(form, secrets.token_urlsafe(24), model, project, step2)
    return _render_step(request, wizard, 3, context)
