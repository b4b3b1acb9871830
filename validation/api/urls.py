"""URLs of the read-only JSON API, included at /api/."""

from django.urls import path

from validation.api import views as api

app_name = "api"
urlpatterns = [
    path("runs/", api.api_run_list, name="run-list"),
    path("runs/<int:pk>/", api.api_run_detail, name="run-detail"),
]
