"""Counts shown on the project pages, each computed by a fixed number of aggregate queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from projects.models import Annotation, Image, Label, Project, Task


def _count(queryset: QuerySet, group_by: str) -> Coalesce:
    """A correlated COUNT subquery over `queryset` grouped by `group_by` (0 when none)."""
    counted = queryset.order_by().values(group_by).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def projects_with_counts(user) -> QuerySet[Project]:
    """The projects the user may see, each with task, image and annotation counts."""
    return Project.objects.visible_to(user).annotate(
        task_count=_count(Task.objects.filter(project=OuterRef("pk")), "project"),
        image_count=_count(Image.objects.filter(task__project=OuterRef("pk")), "task__project"),
        annotation_count=_count(
            Annotation.objects.filter(image__task__project=OuterRef("pk")), "image__task__project"
        ),
        validation_task_count=_count(
            Task.objects.filter(project=OuterRef("pk"), is_validation=True), "project"
        ),
    )


def labels_with_counts(project: Project) -> list[Label]:
    """The project's labels in order, each with its number of annotations."""
    return list(
        Label.objects.filter(project=project).annotate(
            annotation_count=_count(Annotation.objects.filter(label=OuterRef("pk")), "label")
        )
    )


def tasks_with_counts(queryset: QuerySet[Task]) -> QuerySet[Task]:
    """Tasks with their image and annotation counts."""
    return queryset.annotate(
        image_count=_count(Image.objects.filter(task=OuterRef("pk")), "task"),
        annotation_count=_count(
            Annotation.objects.filter(image__task=OuterRef("pk")), "image__task"
        ),
    )


@dataclass(frozen=True)
class TaskSummary:
    """A task row of the project page: the task and its annotations per label (label order)."""

    task: Task
    per_label: list[int]


def task_summaries(project: Project, labels: list[Label]) -> list[TaskSummary]:
    """Every task of the project with annotation counts per label, in two queries."""
    tasks = list(tasks_with_counts(Task.objects.filter(project=project)))
    counts: dict[int, dict[int, int]] = defaultdict(dict)
    rows = (
        Annotation.objects.filter(image__task__project=project)
        .order_by()
        .values_list("image__task_id", "label_id")
        .annotate(n=Count("pk"))
    )
    for task_id, label_id, n in rows:
        counts[task_id][label_id] = n
    return [
        TaskSummary(task=task, per_label=[counts[task.pk].get(label.pk, 0) for label in labels])
        for task in tasks
    ]


def task_label_counts(task: Task) -> list[tuple[Label, int]]:
    """The project's labels with their number of annotations in this task."""
    rows = dict(
        Annotation.objects.filter(image__task=task)
        .order_by()
        .values_list("label_id")
        .annotate(n=Count("pk"))
    )
    return [(label, rows.get(label.pk, 0)) for label in Label.objects.filter(project=task.project)]


def gallery_images(task: Task) -> QuerySet[Image]:
    """The task's images in name order, each with its number of annotations."""
    return (
        Image.objects.filter(task=task)
        .annotate(annotation_count=_count(Annotation.objects.filter(image=OuterRef("pk")), "image"))
        .order_by("name", "pk")
    )
