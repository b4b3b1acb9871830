"""CSRF on HTMX posts, the headers of pages and served files, check --deploy, admin escalation."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from projects.models import Annotation, Image
from tests.clients import HTMX
from tests.conftest import REPO_ROOT
from tests.hardening.access_world import whatif_crop_token
from validation.models import InferenceRun

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- CSRF


def _csrf_client(user) -> tuple[Client, str]:
    """A client that enforces CSRF like a browser, with the token cookie a page gave it."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("validation:run-list"))
    return client, client.cookies["csrftoken"].value


def test_an_htmx_post_without_the_csrf_header_is_refused_and_with_it_accepted(access):
    client, token = _csrf_client(access.world.owner)
    url = reverse("validation:run-review", args=[access.run.pk])
    data = {"review_status": "approved", "review_notes": "ok", "version": 0}
    htmx = {**HTMX, "HTTP_HX_TARGET": "run-review"}

    refused = client.post(url, data, **htmx)
    run = InferenceRun.objects.get(pk=access.run.pk)
    assert refused.status_code == 403
    assert run.review_status == InferenceRun.Review.TO_REVIEW

    accepted = client.post(url, data, headers={"X-CSRFToken": token}, **htmx)
    run.refresh_from_db()
    assert accepted.status_code == 200
    assert run.review_status == InferenceRun.Review.APPROVED


def test_an_editor_save_without_the_csrf_header_changes_no_box(access):
    client, token = _csrf_client(access.world.owner)
    url = reverse("projects:image-annotations-save", args=[access.image.pk])
    before = list(Annotation.objects.filter(image=access.image).values_list("pk", flat=True))
    body = '{"version": 0, "boxes": []}'

    refused = client.post(url, body, content_type="application/json")
    assert refused.status_code == 403
    assert list(Annotation.objects.filter(image=access.image).values_list("pk", flat=True)) == (
        before
    )
    accepted = client.post(
        url, body, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 200
    assert not Annotation.objects.filter(image=access.image).exists()


def test_a_token_of_another_session_is_refused(access):
    client, _token = _csrf_client(access.world.owner)
    _other, foreign = _csrf_client(access.world.member)
    url = reverse("projects:task-validation", args=[access.task.pk])

    response = client.post(url, {"is_validation": "0"}, headers={"X-CSRFToken": foreign}, **HTMX)

    assert response.status_code == 403
    access.task.refresh_from_db()
    assert access.task.is_validation


# ---------------------------------------------------------------- headers


def test_pages_may_not_be_framed(client, access):
    client.force_login(access.world.owner)
    for url in (
        reverse("validation:run-detail", args=[access.run.pk]),
        reverse("projects:image-editor", args=[access.image.pk]),
        reverse("validation:run-list"),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert response["X-Frame-Options"] == "DENY", url
        assert response["X-Content-Type-Options"] == "nosniff", url


def test_served_images_and_crops_carry_the_servers_content_type_and_nosniff(client, access):
    client.force_login(access.world.owner)
    served = {
        reverse("projects:image-file", args=[access.image.pk]): "image/png",
        reverse("projects:image-thumb", args=[access.image.pk]): "image/jpeg",
        reverse("validation:instance-crop", args=[access.run.pk, access.instance.pk]): "image/png",
        reverse(
            "validation:run-whatif-crop",
            args=[access.run.pk, whatif_crop_token(access.run, access.image)],
        ): "image/png",
    }
    for url, content_type in served.items():
        response = client.get(url)
        body = b"".join(response.streaming_content)
        assert response.status_code == 200, url
        assert response["Content-Type"] == content_type, url
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert body[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb"), url


def test_a_stored_file_holding_html_is_served_as_bytes_in_a_sandbox(client, access):
    """An image file replaced by HTML (admin can) must not become a page of the portal."""
    image = Image.objects.get(pk=access.image.pk)
    image.file.save("evil.png", ContentFile(b"<html><script>window.__xss=1</script>"))
    client.force_login(access.world.owner)

    response = client.get(reverse("projects:image-file", args=[image.pk]))

    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_exports_are_attachments_with_nosniff(client, access):
    client.force_login(access.world.owner)
    for name in ("export-matrix-csv", "export-instances-csv", "export-run-json"):
        response = client.get(reverse(f"validation:{name}", args=[access.run.pk]))
        assert response.status_code == 200, name
        assert response["Content-Disposition"].startswith("attachment;"), name
        assert response["X-Content-Type-Options"] == "nosniff", name


def _check_deploy(**env: str) -> subprocess.CompletedProcess:
    # A production shell: none of the test session's DJANGO_* variables (browser tests set
    # DJANGO_ALLOW_ASYNC_UNSAFE, which check --deploy rightly reports).
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_production_environment_of_the_readme():
    production = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "HTTPS": "1",
        "ALLOWED_HOSTS": "portal.example.com",
        "DJANGO_DEBUG": "0",
    }
    clean = _check_deploy(**production)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no issues" in clean.stdout
    # The check is not vacuous: plain HTTP with the development key is reported.
    insecure = _check_deploy(**{**production, "HTTPS": "0", "SECRET_KEY": ""})
    assert insecure.returncode != 0
    assert "security.W008" in insecure.stderr + insecure.stdout


# ---------------------------------------------------------------- admin


def _grant(user, *codenames: str) -> None:
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


def _user_form(user, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "date_joined_0": "2024-01-01",
        "date_joined_1": "08:00:00",
        "last_login_0": "",
        "last_login_1": "",
    }
    data.update(changes)
    return data


def test_staff_cannot_make_themselves_superuser(client, staff):
    _grant(staff, "change_user", "view_user")
    client.force_login(staff)
    url = reverse("admin:auth_user_change", args=[staff.pk])
    everything = list(Permission.objects.values_list("pk", flat=True))

    response = client.post(
        url,
        _user_form(
            staff,
            is_superuser="on",
            is_staff="on",
            user_permissions=everything,
            groups=[Group.objects.create(name="all").pk],
        ),
    )

    staff.refresh_from_db()
    assert response.status_code in (200, 302)
    assert not staff.is_superuser
    assert set(staff.user_permissions.values_list("codename", flat=True)) == {
        "change_user",
        "view_user",
    }
    assert not staff.groups.exists()


def test_staff_cannot_take_over_a_superuser_by_changing_their_password(
    client, staff, django_user_model
):
    _grant(staff, "change_user", "view_user")
    root = django_user_model.objects.create_superuser("root", password="root-pass-123")
    client.force_login(staff)

    response = client.post(
        reverse("admin:auth_user_password_change", args=[root.pk]),
        {"password1": "taken-over-123", "password2": "taken-over-123", "usable_password": "true"},
    )
    edit = client.post(
        reverse("admin:auth_user_change", args=[root.pk]),
        _user_form(root, username="root", is_active=""),
    )

    root.refresh_from_db()
    assert response.status_code == 403
    assert edit.status_code == 403
    assert root.check_password("root-pass-123")
    assert root.is_active


def test_staff_cannot_add_permissions_to_a_group(client, staff):
    _grant(staff, "change_group", "view_group", "add_group")
    group = Group.objects.create(name="line 3")
    staff.groups.add(group)
    client.force_login(staff)

    response = client.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": "line 3", "permissions": list(Permission.objects.values_list("pk", flat=True))},
    )

    assert response.status_code == 403
    assert not group.permissions.exists()


def test_a_superuser_still_manages_users_and_groups(client, staff, django_user_model):
    root = django_user_model.objects.create_superuser("root", password="root-pass-123")
    client.force_login(root)
    response = client.post(
        reverse("admin:auth_user_change", args=[staff.pk]),
        _user_form(staff, is_staff="on", is_superuser="on"),
    )
    staff.refresh_from_db()
    assert response.status_code == 302
    assert staff.is_superuser
    group = Group.objects.create(name="line 3")
    response = client.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": "line 3", "permissions": [Permission.objects.first().pk]},
    )
    assert response.status_code == 302 and group.permissions.count() == 1


def test_non_staff_users_cannot_reach_admin_or_the_rq_dashboard(owner_client):
    for url in ("/admin/", "/django-rq/", "/admin/django_rq/dashboard/", "/admin/auth/user/"):
        response = owner_client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url
