"""Processes, detection models and validation runs with their results."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from projects.models import Annotation, Image, Project, unique_name

# Limits shared by the forms, the command line and the database constraints.
BATCH_SIZE_RANGE = (1, 256)
IMAGE_SIZE_RANGE = (32, 4096)
DEFAULT_SCORE_FLOOR = 0.001
MAX_PREDICTIONS_PER_IMAGE = 300


class Process(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("process")
        verbose_name_plural = _("processes")

    def __str__(self) -> str:
        return self.name


class DetectionModel(models.Model):
    class Format(models.TextChoices):
        EXPORT = "export", _("torch.export program (.pt2)")
        TORCHSCRIPT = "torchscript", _("TorchScript (.pt, .torchscript)")

    class OutputFormat(models.TextChoices):
        AUTO = "auto", _("recognise at probe")
        TORCHVISION = "torchvision", _("torchvision: boxes, scores, labels per image")
        NX6 = "nx6", _("N×6 per image: x1 y1 x2 y2 score class")
        YOLO = "yolo", _("YOLO raw head: B×(4+C)×A")

    class ResizeMode(models.TextChoices):
        RESIZE = "resize", _("resize, keep aspect ratio")
        LETTERBOX = "letterbox", _("letterbox to a square")

    class ChannelOrder(models.TextChoices):
        RGB = "RGB", "RGB"
        BGR = "BGR", "BGR"

    class Origin(models.TextChoices):
        TRAINED = "trained", _("trained on the platform")
        IMPORTED = "imported", _("imported")

    class ProbeStatus(models.TextChoices):
        PENDING = "pending", _("waiting for a worker")
        PASSED = "passed", _("passed")
        FAILED = "failed", _("failed")

    process = models.ForeignKey(Process, on_delete=models.PROTECT, related_name="models")
    name = models.CharField(_("name"), max_length=200)
    file = models.FileField(_("file"), upload_to="models/", max_length=500)
    format = models.CharField(_("format"), max_length=20, choices=Format.choices)
    label_names = models.JSONField(_("labels"), default=list, help_text=_("in model order"))
    input_size = models.PositiveIntegerField(_("input size"), default=640)
    resize_mode = models.CharField(
        _("resize mode"), max_length=20, choices=ResizeMode.choices, default=ResizeMode.RESIZE
    )
    mean = models.JSONField(_("normalisation mean"), default=list)
    std = models.JSONField(_("normalisation std"), default=list)
    channel_order = models.CharField(
        _("channel order"), max_length=3, choices=ChannelOrder.choices, default=ChannelOrder.RGB
    )
    output_format = models.CharField(
        _("output format"), max_length=20, choices=OutputFormat.choices, default=OutputFormat.AUTO
    )
    nms_iou = models.FloatField(_("NMS IoU"), default=0.7)
    origin = models.CharField(
        _("origin"), max_length=20, choices=Origin.choices, default=Origin.IMPORTED
    )
    probe_status = models.CharField(
        _("probe"), max_length=20, choices=ProbeStatus.choices, default=ProbeStatus.PENDING
    )
    probe_message = models.TextField(_("probe message"), blank=True)
    probe_info = models.JSONField(_("probe result"), default=dict, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # Bumped by every edit of the settings: a form read at an older version is refused.
    version = models.PositiveIntegerField(_("version"), default=0)

    class Meta:
        ordering = ["process", "name"]
        verbose_name = _("model")
        verbose_name_plural = _("models")
        constraints = [
            unique_name("process", "model_unique_name"),
            models.CheckConstraint(
                condition=Q(nms_iou__gt=0) & Q(nms_iou__lte=1), name="model_nms_iou_range"
            ),
            models.CheckConstraint(
                condition=Q(input_size__gte=IMAGE_SIZE_RANGE[0])
                & Q(input_size__lte=IMAGE_SIZE_RANGE[1]),
                name="model_input_size_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_usable(self) -> bool:
        return self.probe_status == self.ProbeStatus.PASSED


class InferenceRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        COMPLETED = "completed", _("completed")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    process = models.ForeignKey(Process, on_delete=models.PROTECT, related_name="runs")
    model = models.ForeignKey(DetectionModel, on_delete=models.PROTECT, related_name="runs")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="runs"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    # One token per wizard submission: a double click or a retried request finds the same run.
    submission_token = models.CharField(max_length=64, unique=True, null=True, blank=True)

    # Settings, as submitted (SPEC §3); label confidences live in LabelConfidence.
    base_confidence = models.FloatField(_("base confidence"))
    device = models.CharField(_("device"), max_length=100)
    batch_size = models.PositiveIntegerField(_("batch size"))
    image_size = models.PositiveIntegerField(_("image size"))
    iou_threshold = models.FloatField(_("IoU threshold"))
    low_overlap_threshold = models.FloatField(_("low-overlap threshold"))
    score_floor = models.FloatField(_("score floor"), default=DEFAULT_SCORE_FLOOR)

    # Lifecycle and progress.
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    job_id = models.CharField(max_length=100, blank=True)
    worker_device = models.CharField(_("ran on"), max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)
    images_done = models.PositiveIntegerField(default=0)
    images_total = models.PositiveIntegerField(default=0)
    images_per_second = models.FloatField(null=True, blank=True)
    seconds_left = models.FloatField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    skipped_images = models.JSONField(default=list, blank=True)
    timing = models.JSONField(_("timing breakdown"), default=dict, blank=True)

    # Results, written in one transaction with the instances.
    predictions_file = models.FileField(upload_to="runs/", max_length=500, blank=True)
    labels = models.JSONField(default=list, blank=True, help_text=_("matrix axis labels"))
    matrix = models.JSONField(default=list, blank=True)
    precision = models.FloatField(null=True, blank=True)
    recall = models.FloatField(null=True, blank=True)
    f1 = models.FloatField(null=True, blank=True)
    per_label = models.JSONField(default=dict, blank=True)
    # SPEC §9: the labels that make a part NG, by name; empty means every label.
    reject_labels = models.JSONField(_("reject labels"), default=list, blank=True)
    # SPEC §9: the ten totals of the line decision (analysis.line.TOTAL_KEYS); empty until
    # evaluated.
    line_decision = models.JSONField(default=dict, blank=True)
    map50 = models.FloatField(null=True, blank=True)
    map50_95 = models.FloatField(null=True, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)

    # Sign-off (SPEC §9): is this model accepted for the production line?
    class Review(models.TextChoices):
        TO_REVIEW = "to_review", _("to review")
        APPROVED = "approved", _("accepted for the line")
        REJECTED = "rejected", _("rejected")

    review_status = models.CharField(
        _("review"),
        max_length=20,
        choices=Review.choices,
        default=Review.TO_REVIEW,
        db_index=True,
    )
    review_notes = models.TextField(_("review notes"), blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    # Bumped by every saved review: a review form read at an older version is refused (409).
    review_version = models.PositiveIntegerField(_("review version"), default=0)
    # What the decision was taken at, frozen with it: the line decision's totals and rates, F1,
    # the thresholds and the reject labels (runs.review). Empty while the run is to review.
    review_snapshot = models.JSONField(_("signed off at"), default=dict, blank=True)
    # Set on a run saved from a what-if on another run: thresholds changed, same predictions.
    derived_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="derived_runs"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("validation run")
        verbose_name_plural = _("validation runs")
        constraints = [
            models.CheckConstraint(
                condition=Q(base_confidence__gte=0) & Q(base_confidence__lte=1),
                name="run_base_confidence_range",
            ),
            models.CheckConstraint(
                condition=Q(iou_threshold__gt=0)
                & Q(iou_threshold__lte=F("low_overlap_threshold"))
                & Q(low_overlap_threshold__lte=1),
                name="run_iou_thresholds_ordered",
            ),
            models.CheckConstraint(
                condition=Q(batch_size__gte=BATCH_SIZE_RANGE[0])
                & Q(batch_size__lte=BATCH_SIZE_RANGE[1]),
                name="run_batch_size_range",
            ),
            models.CheckConstraint(
                condition=Q(image_size__gte=IMAGE_SIZE_RANGE[0])
                & Q(image_size__lte=IMAGE_SIZE_RANGE[1]),
                name="run_image_size_range",
            ),
            models.CheckConstraint(
                condition=Q(images_done__lte=F("images_total")), name="run_progress_bounded"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.model} @ {self.project}"

    def get_absolute_url(self) -> str:
        return reverse("validation:run-detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    def label_threshold_map(self) -> dict[str, float]:
        """Label name → its own confidence, as submitted."""
        return {lc.label_name: lc.confidence for lc in self.label_confidences.all()}


class LabelConfidence(models.Model):
    run = models.ForeignKey(
        InferenceRun, on_delete=models.CASCADE, related_name="label_confidences"
    )
    label_name = models.CharField(_("label"), max_length=100)
    confidence = models.FloatField(_("confidence"))
    # A copy of the run's base confidence, so the database itself can refuse a lower label one.
    base_confidence = models.FloatField()

    class Meta:
        ordering = ["run", "label_name"]
        constraints = [
            models.UniqueConstraint(fields=["run", "label_name"], name="label_confidence_unique"),
            models.CheckConstraint(
                condition=Q(confidence__gte=F("base_confidence")) & Q(confidence__lte=1),
                name="label_confidence_at_least_base",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label_name}={self.confidence}"


class Instance(models.Model):
    """One entry of a run's confusion matrix, at the run's thresholds (SPEC §4.4)."""

    class Kind(models.IntegerChoices):
        # Codes equal metrics_rs's pred_kind; MISSED is the annotation-side entry.
        TRUE_POSITIVE = 0, _("true positive")
        CONFUSION = 1, _("confusion")
        LOC = 2, _("poorly localised")
        DUPLICATE = 3, _("duplicate")
        BACKGROUND = 4, _("background")
        MISSED = 6, _("missed")

    # Covered by the composite indexes below: fewer indexes make saving 100k rows fast.
    run = models.ForeignKey(
        InferenceRun, on_delete=models.CASCADE, related_name="instances", db_index=False
    )
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="+", db_index=False)
    row = models.PositiveSmallIntegerField(help_text=_("predicted label index, or {} "))
    col = models.PositiveSmallIntegerField(help_text=_("actual label index, or BG, LOC"))
    kind = models.PositiveSmallIntegerField(choices=Kind.choices)
    actual_label = models.PositiveSmallIntegerField(null=True, blank=True)
    annotation = models.ForeignKey(
        Annotation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    prediction_index = models.IntegerField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    iou = models.FloatField(null=True, blank=True)
    # Both boxes as they were at evaluation time, so a later edit does not move a crop.
    px1 = models.FloatField(null=True, blank=True)
    py1 = models.FloatField(null=True, blank=True)
    px2 = models.FloatField(null=True, blank=True)
    py2 = models.FloatField(null=True, blank=True)
    gx1 = models.FloatField(null=True, blank=True)
    gy1 = models.FloatField(null=True, blank=True)
    gx2 = models.FloatField(null=True, blank=True)
    gy2 = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["run", "row", "col", "id"]
        indexes = [
            models.Index(fields=["run", "row", "col", "id"], name="instance_cell"),
            models.Index(fields=["image", "run"], name="instance_image"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} r{self.row} c{self.col}"


class ImageDecision(models.Model):
    """One image's line decision in a run, at the run's thresholds (SPEC §9), as evaluated."""

    class Outcome(models.IntegerChoices):
        # Codes equal metrics_rs's image_outcome; skipped images (-1) get no row.
        CAUGHT = 0, _("caught")
        ESCAPE = 1, _("escape")
        OVERKILL = 2, _("overkill")
        PASS = 3, _("pass")

    run = models.ForeignKey(
        InferenceRun, on_delete=models.CASCADE, related_name="image_decisions", db_index=False
    )
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="+", db_index=False)
    outcome = models.PositiveSmallIntegerField(choices=Outcome.choices)
    # Caught, but none of its reject-label annotations was found: rejected for another box.
    by_chance = models.BooleanField(default=False)
    # Worst first within an outcome (analysis.line.image_rows): larger is worse.
    severity = models.FloatField(default=0.0)

    class Meta:
        ordering = ["run", "outcome", "-severity", "image"]
        indexes = [
            models.Index(fields=["run", "outcome", "-severity", "image"], name="decision_outcome"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["run", "image"], name="decision_run_image"),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} image {self.image_id}"


class RunShard(models.Model):
    """A slice of a large run's images, run by any worker of the run's queue, merged at the end."""

    run = models.ForeignKey(InferenceRun, on_delete=models.CASCADE, related_name="shards")
    index = models.PositiveIntegerField()
    first = models.PositiveIntegerField(help_text=_("position of its first image in the run"))
    count = models.PositiveIntegerField()
    status = models.CharField(
        max_length=20, choices=InferenceRun.Status.choices, default=InferenceRun.Status.QUEUED
    )
    images_done = models.PositiveIntegerField(default=0)
    worker_device = models.CharField(max_length=200, blank=True)
    predictions_file = models.CharField(max_length=500, blank=True)
    timing = models.JSONField(default=dict, blank=True)
    skipped_images = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="shard_unique_index"),
            models.CheckConstraint(
                condition=Q(images_done__lte=F("count")), name="shard_progress_bounded"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} shard {self.index}"


class ApiToken(models.Model):
    """A token a training pipeline uses to read runs through the API; only its hash is kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        ordering = ["user", "name"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
