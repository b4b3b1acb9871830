"""What the project page and its fragments show: the labels with their counts, the task table."""

from __future__ import annotations

from projects.models import Project
from projects.summaries import labels_with_counts, task_summaries


def project_context(project: Project, **extra) -> dict:
    """Everything the project page and its fragments show."""
    labels = labels_with_counts(project)
    return {"project": project, "labels": labels, "tasks": task_summaries(project, labels), **extra}
