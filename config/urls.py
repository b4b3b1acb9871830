"""Top-level URL configuration.

Nothing under MEDIA_ROOT has a URL of its own, in DEBUG too: images, thumbnails, crops, stored
predictions, model files and exports are streamed by views that check the user's projects.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
    path("projects/", include("projects.urls")),
    path("api/", include("validation.api.urls")),
    path("", include("validation.urls")),
]
