"""Task details (任务详情): the validation-set flag and the paged image gallery."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from projects.access import get_task_for_user
from projects.flags import TaskFlagForm, set_validation_flag
from projects.models import Task
from projects.summaries import gallery_images, task_label_counts, tasks_with_counts
from projects.versioning import StaleEdit

GALLERY_PAGE_SIZE = 48


def _page(request, task: Task, extra: dict | None = None, status: int = 200) -> HttpResponse:
    """The task page with its counts, gallery page and label chips."""
    task = tasks_with_counts(Task.objects.filter(pk=task.pk)).select_related("project").get()
    page = Paginator(gallery_images(task), GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"task": task, "project": task.project, "page": page, **(extra or {})}
    if request.htmx:
        return render(request, "projects/task_detail.html#task-gallery", context)
    context["label_counts"] = task_label_counts(task)
    return render(request, "projects/task_detail.html", context, status=status)


@require_GET
def task_detail(request, pk: int) -> HttpResponse:
    """The task page; an HTMX request (gallery paging) gets the gallery only."""
    return _page(request, get_task_for_user(request.user, pk))


@require_POST
def task_validation(request, pk: int) -> HttpResponse:
    """Set the flag to the posted value; a stale click (flag changed meanwhile) gets 409."""
    task = get_task_for_user(request.user, pk)
    form = TaskFlagForm(request.POST)
    status = 200
    extra: dict[str, object] = {}
    if not form.is_valid():
        status, extra = 422, {"flag_errors": [m for ms in form.errors.values() for m in ms]}
    else:
        try:
            set_validation_flag(
                task, form.cleaned_data["is_validation"], form.cleaned_data["version"]
            )
        except StaleEdit:
            status, extra = 409, {"flag_stale": True}
    if request.htmx:
        context = {"task": task, **extra}
        return render(request, "projects/task_detail.html#task-validation", context, status=status)
    if status != 200:
        return _page(request, task, extra, status)
    return redirect("projects:task-detail", pk=task.pk)
