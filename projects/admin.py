"""Django admin: the tool for managing projects and their validation sets."""

from django.contrib import admin, messages
from django.db.models import Count, F
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from projects.models import Annotation, Image, Label, Project, Task


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "task_count", "created_at"]
    search_fields = ["name", "description"]
    list_filter = ["created_at"]
    filter_horizontal = ["members"]
    inlines = [LabelInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_tasks=Count("tasks"))

    @admin.display(description=_("tasks"), ordering="_tasks")
    def task_count(self, obj):
        return obj._tasks


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "order"]
    search_fields = ["name", "project__name"]
    list_filter = ["project"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "is_validation", "image_count", "created_at"]
    search_fields = ["name", "project__name"]
    list_filter = ["is_validation", "project"]
    actions = ["mark_validation", "unmark_validation"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_images=Count("images"))

    @admin.display(description=_("images"), ordering="_images")
    def image_count(self, obj):
        return obj._images

    def _set_flag(self, request, queryset, value: bool) -> None:
        count = queryset.update(is_validation=value, version=F("version") + 1)
        self.message_user(
            request,
            ngettext("%d task updated.", "%d tasks updated.", count) % count,
            messages.SUCCESS,
        )

    @admin.action(description=_("Mark as validation set"))
    def mark_validation(self, request, queryset):
        self._set_flag(request, queryset, True)

    @admin.action(description=_("Unmark as validation set"))
    def unmark_validation(self, request, queryset):
        self._set_flag(request, queryset, False)


class AnnotationInline(admin.TabularInline):
    model = Annotation
    extra = 0
    fields = ["label", "x1", "y1", "x2", "y2", "updated_by", "updated_at"]
    readonly_fields = ["updated_by", "updated_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "label" and (
            image_id := request.resolver_match.kwargs.get("object_id")
        ):
            kwargs["queryset"] = Label.objects.filter(project__tasks__images__pk=image_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["name", "task", "width", "height"]
    search_fields = ["name", "checksum", "task__name"]
    list_filter = ["task__project", "task__is_validation"]
    list_select_related = ["task__project"]
    readonly_fields = ["checksum", "width", "height"]
    inlines = [AnnotationInline]

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in instances:
            obj.updated_by = request.user
            obj.save()
        for obj in formset.deleted_objects:
            obj.delete()


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "image", "label", "x1", "y1", "x2", "y2", "updated_by", "updated_at"]
    search_fields = ["image__name", "label__name"]
    list_filter = ["label__project", "label"]
    list_select_related = ["image", "label", "updated_by"]
    readonly_fields = ["updated_by", "updated_at"]

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
