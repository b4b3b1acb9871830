"""The wizard's forms: steps 1 and 3 here, step 2 (the label confidences) in `confidences`.

The web wizard validates one step at a time; `validate_run_settings` runs all three steps on
one flat dict, for the command line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.db.models import Count, Exists, OuterRef, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from projects.cleaning import NumberField
from projects.models import Project, Task
from validation.analysis.evaluation import axis_labels
from validation.forms.confidences import DEFAULT_BASE_CONFIDENCE, ConfidenceForm
from validation.models import BATCH_SIZE_RANGE, IMAGE_SIZE_RANGE, DetectionModel, Process
from validation.runs import devices

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

DEFAULT_BATCH_SIZE = 8
DEFAULT_IOU_THRESHOLD = 0.5
DEFAULT_LOW_OVERLAP_THRESHOLD = 0.5


# ---------------------------------------------------------------- step 1: dataset and model


@dataclass(frozen=True)
class Option:
    """One entry of a select: offered, or shown disabled with the reason."""

    value: int
    name: str
    disabled_reason: str = ""


def model_groups(process: Process | None) -> list[tuple[str, list[Option]]]:
    """Models grouped by process: the chosen process only, or all (for use without JavaScript)."""
    models = DetectionModel.objects.select_related("process").order_by("process__name", "name")
    if process is not None:
        models = models.filter(process=process)
    groups: dict[str, list[Option]] = {}
    for model in models:
        option = Option(model.pk, model.name, _model_unusable_reason(model))
        groups.setdefault(model.process.name, []).append(option)
    return list(groups.items())


def _model_unusable_reason(model: DetectionModel) -> str:
    if model.probe_status == DetectionModel.ProbeStatus.PASSED:
        return ""
    if model.probe_status == DetectionModel.ProbeStatus.FAILED:
        return _("probe failed: %(message)s") % {"message": model.probe_message or "?"}
    return _("waiting for its probe")


def projects_for(user):
    """Projects the user may see, each annotated with whether it has a validation task."""
    validation_tasks = Task.objects.filter(project=OuterRef("pk"), is_validation=True)
    return Project.objects.visible_to(user).annotate(has_validation=Exists(validation_tasks))


def project_options(user) -> list[Option]:
    """Visible projects; those without a validation task are disabled, with the reason."""
    reason = _("no task is flagged as validation set")
    return [
        Option(p.pk, p.name, "" if p.has_validation else reason)
        for p in projects_for(user).order_by("name")
    ]


def project_summary(project: Project) -> dict[str, int]:
    """Validation tasks, images and annotations of a project, in one aggregate query."""
    flagged = Q(tasks__is_validation=True)
    counts = Project.objects.filter(pk=project.pk).aggregate(
        task_count=Count("tasks", filter=flagged, distinct=True),
        image_count=Count("tasks__images", filter=flagged, distinct=True),
        annotation_count=Count("tasks__images__annotations", filter=flagged, distinct=True),
    )
    return {
        "tasks": counts["task_count"],
        "images": counts["image_count"],
        "annotations": counts["annotation_count"],
    }


def _choice_field(
    queryset, label: StrOrPromise, required: StrOrPromise, invalid: StrOrPromise
) -> forms.ModelChoiceField:
    """A select of rows with its two messages: nothing chosen, or a choice that is not there."""
    return forms.ModelChoiceField(
        queryset=queryset,
        label=label,
        error_messages={"required": required, "invalid_choice": invalid},
    )


class DatasetModelForm(forms.Form):
    """Step 1: process, model, project."""

    process = _choice_field(
        Process.objects.all(),
        gettext_lazy("Process"),
        required=gettext_lazy("Choose a process."),
        invalid=gettext_lazy("This process does not exist."),
    )
    model = _choice_field(
        DetectionModel.objects.select_related("process"),
        gettext_lazy("Model"),
        required=gettext_lazy("Choose a model."),
        invalid=gettext_lazy("This model does not exist."),
    )
    project = _choice_field(
        Project.objects.none(),
        gettext_lazy("Project"),
        required=gettext_lazy("Choose a project."),
        invalid=gettext_lazy("This project does not exist or is not yours."),
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        cast(forms.ModelChoiceField, self.fields["project"]).queryset = projects_for(user)

    def clean_model(self) -> DetectionModel:
        model = self.cleaned_data["model"]
        reason = _model_unusable_reason(model)
        if reason:
            raise forms.ValidationError(
                _("The model “%(model)s” cannot be used: %(reason)s.")
                % {"model": model.name, "reason": reason}
            )
        return model

    def clean_project(self) -> Project:
        project = self.cleaned_data["project"]
        if not project.has_validation:
            raise forms.ValidationError(
                _("The project “%(project)s” has no task flagged as validation set.")
                % {"project": project.name}
            )
        if not project.validation_images().exists():
            raise forms.ValidationError(
                _("The validation tasks of “%(project)s” have no images.")
                % {"project": project.name}
            )
        return project

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        process, model = cleaned.get("process"), cleaned.get("model")
        if process and model and model.process_id != process.pk:
            self.add_error(
                "model",
                _("The model “%(model)s” does not belong to the process “%(process)s”.")
                % {"model": model.name, "process": process.name},
            )
        return cleaned


def run_labels(model: DetectionModel, project: Project) -> list[str]:
    """The run's labels: model labels, then project-only labels (SPEC §4.6)."""
    project_labels = list(project.labels.order_by("order", "id").values_list("name", flat=True))
    return axis_labels(list(model.label_names), project_labels)


# ---------------------------------------------------------------- step 3: inference parameters


def fixed_input_size(model: DetectionModel) -> int | None:
    """The size a model's file fixes (its probe found no other size runs), else None."""
    info = model.probe_info or {}
    if info.get("dynamic_size", True) or not info.get("fixed_size"):
        return None
    try:
        return int(info["fixed_size"])
    except (TypeError, ValueError):
        return None


def model_image_size(model: DetectionModel | None) -> int:
    """The image size a run of this model defaults to: the size its file fixes, or its own."""
    if model is None:
        return 640
    return fixed_input_size(model) or model.input_size


def _range_help(low, high, default) -> str:
    return _("Default %(default)s; allowed %(low)s – %(high)s.") % {
        "default": default,
        "low": low,
        "high": high,
    }


class InferenceParametersForm(forms.Form):
    """Step 3: device, batch size, image size and the two IoU thresholds."""

    device = forms.ChoiceField(label=gettext_lazy("Device"))
    batch_size = forms.IntegerField(
        label=gettext_lazy("Batch size"),
        min_value=BATCH_SIZE_RANGE[0],
        max_value=BATCH_SIZE_RANGE[1],
        initial=DEFAULT_BATCH_SIZE,
    )
    image_size = forms.IntegerField(
        label=gettext_lazy("Image size"),
        min_value=IMAGE_SIZE_RANGE[0],
        max_value=IMAGE_SIZE_RANGE[1],
    )
    iou_threshold = NumberField(
        label=gettext_lazy("IoU threshold"), max_value=1, initial=DEFAULT_IOU_THRESHOLD
    )
    low_overlap_threshold = NumberField(
        label=gettext_lazy("Low-overlap threshold"),
        max_value=1,
        initial=DEFAULT_LOW_OVERLAP_THRESHOLD,
    )
    submission_token = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, model: DetectionModel | None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.model = model
        self.live_devices = devices.live_devices()
        self.device_options = devices.device_options(self.live_devices)
        cast(forms.ChoiceField, self.fields["device"]).choices = [
            (option.value, option.name) for option in self.device_options
        ]
        self.fields["device"].initial = devices.default_device(self.device_options)
        self.fields["device"].error_messages["invalid_choice"] = _(
            "The device “%(value)s” is no longer available; choose another one."
        )
        default_size = model_image_size(model)
        self.fields["image_size"].initial = default_size
        self._drop_stale_initial()
        self.fields["batch_size"].help_text = _range_help(*BATCH_SIZE_RANGE, DEFAULT_BATCH_SIZE)
        self.fields["image_size"].help_text = _range_help(*IMAGE_SIZE_RANGE, default_size)
        if model is not None and fixed_input_size(model) is not None:
            self.fields["image_size"].help_text = _(
                "The model's file fixes its input size: %(size)s only."
            ) % {"size": default_size}
        self.fields["iou_threshold"].help_text = _(
            "Default %(default)s; allowed above 0, up to 1."
        ) % {"default": DEFAULT_IOU_THRESHOLD}
        self.fields["low_overlap_threshold"].help_text = _(
            "Default %(default)s; allowed from the IoU threshold up to 1."
        ) % {"default": DEFAULT_LOW_OVERLAP_THRESHOLD}
        self.fields["device"].help_text = _(
            "“Any GPU” lets the scheduler choose; a named GPU must be live when the run starts."
        )
        for name in ("batch_size", "image_size"):
            field = cast(forms.IntegerField, self.fields[name])
            low, high = field.min_value, field.max_value
            message = _("Enter a whole number from %(low)s to %(high)s.") % {
                "low": low,
                "high": high,
            }
            for key in ("invalid", "min_value", "max_value"):
                self.fields[name].error_messages[key] = message
        for name in ("iou_threshold", "low_overlap_threshold"):
            self.fields[name].error_messages["invalid"] = _("Enter a number between 0 and 1.")
            self.fields[name].error_messages["max_value"] = _("Must be at most 1.")

    def _drop_stale_initial(self) -> None:
        """Saved values that no longer fit (empty, a device gone, another model's size) go."""
        usable = {o.value for o in self.device_options if not o.disabled_reason}
        self.initial = {k: v for k, v in self.initial.items() if v not in ("", None)}
        if self.initial.get("device") not in usable:
            self.initial.pop("device", None)
        if self.initial.get("image_size") is not None:
            try:
                self._check_image_size(int(self.initial["image_size"]))
            except (TypeError, ValueError, forms.ValidationError):
                self.initial.pop("image_size")

    def clean_device(self) -> str:
        device = self.cleaned_data["device"]
        if any(o.value == device and o.disabled_reason for o in self.device_options):
            raise forms.ValidationError(devices.no_worker_message(device))
        if device not in ("any-gpu", "cpu") and all(d.key != device for d in self.live_devices):
            raise forms.ValidationError(
                _("The device “%(value)s” is no longer available; choose another one.")
                % {"value": device}
            )
        return device

    def _check_image_size(self, size: int) -> None:
        fixed = fixed_input_size(self.model) if self.model is not None else None
        if fixed is not None and size != fixed:
            raise forms.ValidationError(
                _(
                    "The file of “%(model)s” fixes its input size to %(fixed)s; "
                    "it cannot run at %(size)s. Enter %(fixed)s."
                )
                % {"model": self.model, "fixed": fixed, "size": size}
            )

    def clean_image_size(self) -> int:
        size = self.cleaned_data["image_size"]
        self._check_image_size(size)
        return size

    def clean_iou_threshold(self) -> float:
        value = self.cleaned_data["iou_threshold"]
        problem = iou_problem(value)
        if problem:
            raise forms.ValidationError(problem)
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        problem = low_overlap_problem(
            cleaned.get("iou_threshold"), cleaned.get("low_overlap_threshold")
        )
        if problem:
            self.add_error("low_overlap_threshold", problem)
        return cleaned


def iou_problem(iou: float | None) -> str | None:
    """What is wrong with an IoU threshold (it must be above 0), or None."""
    if iou is not None and iou <= 0:
        return _("The IoU threshold must be above 0 and at most 1.")
    return None


def low_overlap_problem(iou: float | None, low: float | None) -> str | None:
    """What is wrong with a low-overlap threshold (above 0, at least the IoU threshold), or None."""
    if low is not None and low <= 0:
        return _("Must be above 0 and at most 1.")
    if iou is not None and low is not None and low < iou:
        return _("The low-overlap threshold must be at least the IoU threshold (%(iou)s).") % {
            "iou": iou
        }
    return None


# ---------------------------------------------------------------- all steps at once


def _errors_of(form: forms.Form) -> dict[str, list[str]]:
    return {field: [str(m) for m in messages] for field, messages in form.errors.items()}


def validate_run_settings(data: dict, user) -> tuple[dict | None, dict[str, list[str]]]:
    """Run the three steps' forms on one flat dict: (cleaned values, {}) or (None, errors)."""
    data = dict(data)
    confidences = data.get("label_confidences")
    if isinstance(confidences, Mapping):
        data["label_confidences"] = json.dumps(dict(confidences), ensure_ascii=False)
    data.setdefault("tab", "source")
    for name, value in (
        ("batch_size", DEFAULT_BATCH_SIZE),
        ("iou_threshold", DEFAULT_IOU_THRESHOLD),
        ("low_overlap_threshold", DEFAULT_LOW_OVERLAP_THRESHOLD),
        ("base_confidence", DEFAULT_BASE_CONFIDENCE),
    ):
        if data.get(name) in (None, ""):
            data[name] = value

    step1 = DatasetModelForm(data, user=user)
    model = project = None
    if step1.is_valid():
        model, project = step1.cleaned_data["model"], step1.cleaned_data["project"]
    if data.get("image_size") in (None, ""):
        data["image_size"] = model_image_size(model) if model is not None else IMAGE_SIZE_RANGE[1]
    labels = run_labels(model, project) if model and project else None
    step2 = ConfidenceForm(data, labels=labels)
    step3 = InferenceParametersForm(data, model=model)
    forms_ = (step1, step2, step3)
    if not all([form.is_valid() for form in forms_]):
        errors: dict[str, list[str]] = {}
        for form in forms_:
            for field, messages in _errors_of(form).items():
                errors.setdefault(field, []).extend(messages)
        return None, errors
    cleaned: dict = {}
    for form in forms_:
        cleaned.update(form.cleaned_data)
    cleaned.pop("tab", None)
    cleaned.pop("submission_token", None)
    return cleaned, {}
