"""Annotation projects: labels, tasks, images and their ground-truth boxes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


def unique_name(within: str, constraint: str) -> models.UniqueConstraint:
    """Names unique within their parent: a project's labels and tasks, a task's images."""
    return models.UniqueConstraint(fields=[within, "name"], name=constraint)


class ProjectQuerySet(models.QuerySet["Project"]):
    def visible_to(self, user) -> ProjectQuerySet:
        """Projects the user is a member of; staff see all."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(members=user)


class Project(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="projects", blank=True, verbose_name=_("members")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")

    def __str__(self) -> str:
        return self.name

    def validation_images(self) -> models.QuerySet[Image]:
        """The images of the tasks flagged as validation set."""
        return Image.objects.filter(task__project=self, task__is_validation=True)


class Label(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(_("name"), max_length=100)
    order = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["project", "order", "id"]
        verbose_name = _("label")
        verbose_name_plural = _("labels")
        constraints = [unique_name("project", "label_unique_name")]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    name = models.CharField(_("name"), max_length=200)
    is_validation = models.BooleanField(_("validation set"), default=False, db_index=True)
    # Bumped by every change of the flag: a form read at an older version is refused (409).
    version = models.PositiveIntegerField(_("version"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["project", "name"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        constraints = [unique_name("project", "task_unique_name")]

    def __str__(self) -> str:
        return f"{self.project} / {self.name}"


def image_upload_path(instance: Image, filename: str) -> str:
    return f"projects/{instance.task.project_id}/tasks/{instance.task_id}/{filename}"


class Image(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(_("file"), upload_to=image_upload_path, max_length=500)
    name = models.CharField(_("name"), max_length=500, help_text=_("path inside the dataset"))
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    checksum = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    # Bumped by every save of the image's boxes: an editor that read an older one gets 409.
    version = models.PositiveIntegerField(_("version"), default=0)

    class Meta:
        ordering = ["task", "name"]
        verbose_name = _("image")
        verbose_name_plural = _("images")
        constraints = [
            unique_name("task", "image_unique_name"),
            models.CheckConstraint(
                condition=Q(width__gt=0) & Q(height__gt=0), name="image_positive_size"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Annotation(models.Model):
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations")
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="annotations")
    x1 = models.FloatField()
    y1 = models.FloatField()
    x2 = models.FloatField()
    y2 = models.FloatField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        ordering = ["image", "id"]
        verbose_name = _("annotation")
        verbose_name_plural = _("annotations")
        constraints = [
            models.CheckConstraint(
                condition=Q(x1__lt=models.F("x2")) & Q(y1__lt=models.F("y2")),
                name="annotation_box_ordered",
                violation_error_message=_("A box needs x1 < x2 and y1 < y2."),
            ),
            models.CheckConstraint(
                condition=Q(x1__gte=0) & Q(y1__gte=0), name="annotation_box_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} [{self.x1:.0f}, {self.y1:.0f}, {self.x2:.0f}, {self.y2:.0f}]"
