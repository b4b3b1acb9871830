"""Django admin for processes, models and (read-only) runs; staff cannot grant themselves more."""

import tempfile
from pathlib import Path

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from projects.versioning import VersionedModelForm
from validation.models import DetectionModel, InferenceRun, Instance, LabelConfidence, Process


@admin.register(Process)
class ProcessAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]


class DetectionModelAdminForm(VersionedModelForm):
    """A model file uploaded here gets the same checks as one uploaded on the models page."""

    class Meta:
        model = DetectionModel
        fields = "__all__"  # noqa: DJ007 - the admin chooses the fields it shows

    def clean_file(self):
        from validation.modelfiles.importing import ModelImportError, check_model_file, format_for

        upload = self.cleaned_data.get("file")
        if upload is None or not hasattr(upload, "chunks"):
            return upload  # unchanged: the stored file was checked when it came in
        name = Path(upload.name).name
        try:
            format_for(Path(name))
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "upload"
                with path.open("wb") as out:
                    for chunk in upload.chunks():
                        out.write(chunk)
                check_model_file(path, shown_name=name)
        except ModelImportError as exc:
            raise forms.ValidationError(str(exc)) from None
        return upload


@admin.register(DetectionModel)
class DetectionModelAdmin(admin.ModelAdmin):
    form = DetectionModelAdminForm
    list_display = [
        "name",
        "process",
        "format",
        "output_format",
        "labels",
        "probe_status",
        "origin",
    ]
    list_filter = ["process", "format", "probe_status", "origin"]
    search_fields = ["name", "process__name"]
    readonly_fields = ["probe_status", "probe_message", "probe_info", "created_at", "uploaded_by"]
    actions = ["probe_again"]

    def render_change_form(self, request, context, *args, **kwargs):
        response = super().render_change_form(request, context, *args, **kwargs)
        if getattr(context["adminform"].form, "stale", False):
            response.status_code = 409  # someone saved the settings after this form was read
        return response

    @admin.display(description=_("labels"))
    def labels(self, obj):
        return ", ".join(obj.label_names)

    @admin.action(description=_("Probe again on a worker"))
    def probe_again(self, request, queryset):
        from validation.modelfiles.importing import queue_probe

        for model in queryset:
            queue_probe(model)
        self.message_user(request, _("Probes queued."))


class LabelConfidenceInline(admin.TabularInline):
    model = LabelConfidence
    extra = 0
    can_delete = False
    fields = ["label_name", "confidence"]
    readonly_fields = ["label_name", "confidence"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(InferenceRun)
class InferenceRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "page_link",
        "status",
        "model",
        "project",
        "f1",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "process", "model", "project"]
    search_fields = ["model__name", "project__name", "error_message"]
    list_select_related = ["model", "project", "created_by"]
    inlines = [LabelConfidenceInline]

    @admin.display(description=_("page"))
    def page_link(self, obj):
        return format_html('<a href="{}">{}</a>', obj.get_absolute_url(), _("open"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ["id", "run", "image", "kind", "row", "col", "score", "iou"]
    list_filter = ["kind"]
    search_fields = ["image__name"]
    list_select_related = ["run", "image"]
    raw_id_fields = ["run", "image", "annotation"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PortalUserAdmin(UserAdmin):
    """Only a superuser may change superuser status, staff status or permissions."""

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "is_staff", "groups", "user_permissions"]
        return fields

    def _above(self, request, obj) -> bool:
        """A superuser, seen by staff who are not: setting their password would make staff one."""
        return obj is not None and obj.is_superuser and not request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return not self._above(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._above(request, obj) and super().has_delete_permission(request, obj)


class PortalGroupAdmin(GroupAdmin):
    """Groups carry permissions: only a superuser may create or change them."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


admin.site.unregister(User)
admin.site.register(User, PortalUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, PortalGroupAdmin)
