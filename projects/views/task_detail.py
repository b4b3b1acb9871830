"""Task details (任务详情): the validation-set flag and the paged image gallery."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from projects.access import get_task_for_user
from projects.models import Task
from projects.summaries import gallery_images, task_label_counts, tasks_with_counts

GALLERY_PAGE_SIZE = 48


@require_GET
def task_detail(request, pk: int) -> HttpResponse:
    """The task page; an HTMX request (gallery paging) gets the gallery only."""
    task = get_task_for_user(request.user, pk)
    task = tasks_with_counts(Task.objects.filter(pk=task.pk)).select_related("project").get()
    page = Paginator(gallery_images(task), GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"task": task, "project": task.project, "page": page}
    if request.htmx:
        return render(request, "projects/task_detail.html#task-gallery", context)
    context["label_counts"] = task_label_counts(task)
    return render(request, "projects/task_detail.html", context)


@require_POST
def task_validation(request, pk: int) -> HttpResponse:
    """Set the validation-set flag to the posted value (idempotent: a double click is harmless)."""
    task = get_task_for_user(request.user, pk)
    task.is_validation = request.POST.get("is_validation") == "1"
    task.save(update_fields=["is_validation"])
    if request.htmx:
        return render(request, "projects/task_detail.html#task-validation", {"task": task})
    return redirect("projects:task-detail", pk=task.pk)
