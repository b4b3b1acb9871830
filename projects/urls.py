"""URLs of the projects app: projects, tasks, images and the annotation editor."""

from django.urls import path

from projects.views import editor, images, project_detail, project_list, task_detail, upload

app_name = "projects"
urlpatterns = [
    path("", project_list.project_list, name="project-list"),
    path("<int:pk>/", project_detail.project_detail, name="project-detail"),
    path("<int:pk>/upload/", upload.dataset_upload, name="dataset-upload"),
    path("tasks/<int:pk>/", task_detail.task_detail, name="task-detail"),
    path("tasks/<int:pk>/validation/", task_detail.task_validation, name="task-validation"),
    path("images/<int:pk>/file", images.image_file, name="image-file"),
    path("images/<int:pk>/thumb", images.image_thumb, name="image-thumb"),
    path("images/<int:pk>/edit/", editor.image_editor, name="image-editor"),
    path("images/<int:pk>/annotations/", editor.annotations_save, name="image-annotations-save"),
]
