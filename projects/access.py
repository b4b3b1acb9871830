"""Access checks: every lookup of a project, task or image goes through the user's visibility."""

from __future__ import annotations

from django.http import Http404

from projects.models import Image, Project, Task


def get_project_for_user(user, pk: int) -> Project:
    """The project with this id if the user may see it (member or staff), else 404."""
    project = Project.objects.visible_to(user).filter(pk=pk).first()
    if project is None:
        raise Http404("No such project.")
    return project


def get_task_for_user(user, pk: int) -> Task:
    """The task with this id if the user may see its project, else 404."""
    visible = Project.objects.visible_to(user).values("pk")
    task = Task.objects.select_related("project").filter(pk=pk, project__in=visible).first()
    if task is None:
        raise Http404("No such task.")
    return task


def get_image_for_user(user, pk: int) -> Image:
    """The image with this id if the user may see its project, else 404."""
    visible = Project.objects.visible_to(user).values("pk")
    image = (
        Image.objects.select_related("task__project")
        .filter(pk=pk, task__project__in=visible)
        .first()
    )
    if image is None:
        raise Http404("No such image.")
    return image
