"""The model upload form."""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.utils.translation import gettext_lazy as _

from validation.modelfiles.importing import ModelImportError, format_for, parse_labels
from validation.models import IMAGE_SIZE_RANGE, DetectionModel, Process


class ModelUploadForm(forms.Form):
    process = forms.ModelChoiceField(Process.objects.all(), label=_("Process"))
    name = forms.CharField(label=_("Name"), max_length=200)
    file = forms.FileField(
        label=_("Model file"),
        help_text=_(".pt2 (torch.export) or .pt / .torchscript (TorchScript)"),
    )
    labels = forms.CharField(
        label=_("Labels"),
        required=False,
        help_text=_("Comma-separated, in model order; leave empty to read them from the file."),
    )
    input_size = forms.IntegerField(
        label=_("Input size"),
        initial=640,
        min_value=IMAGE_SIZE_RANGE[0],
        max_value=IMAGE_SIZE_RANGE[1],
    )
    resize_mode = forms.ChoiceField(
        label=_("Resize mode"), choices=DetectionModel.ResizeMode.choices, initial="letterbox"
    )
    channel_order = forms.ChoiceField(
        label=_("Channel order"), choices=DetectionModel.ChannelOrder.choices
    )
    normalisation = forms.ChoiceField(
        label=_("Normalisation"),
        choices=[("unit", _("pixel / 255")), ("imagenet", _("ImageNet mean and std"))],
    )
    output_format = forms.ChoiceField(
        label=_("Output format"), choices=DetectionModel.OutputFormat.choices
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            format_for(Path(upload.name))
        except ModelImportError as exc:
            raise forms.ValidationError(str(exc)) from None
        return upload

    def clean_labels(self):
        try:
            return parse_labels(self.cleaned_data["labels"])
        except ModelImportError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        data = super().clean()
        process, name = data.get("process"), data.get("name")
        if process and name and DetectionModel.objects.filter(process=process, name=name).exists():
            self.add_error("name", _("This process already has a model with this name."))
        return data

    def spec(self) -> dict:
        imagenet = self.cleaned_data["normalisation"] == "imagenet"
        return {
            "input_size": self.cleaned_data["input_size"],
            "resize_mode": self.cleaned_data["resize_mode"],
            "channel_order": self.cleaned_data["channel_order"],
            "output_format": self.cleaned_data["output_format"],
            "mean": [0.485, 0.456, 0.406] if imagenet else [0.0, 0.0, 0.0],
            "std": [0.229, 0.224, 0.225] if imagenet else [1.0, 1.0, 1.0],
        }
