"""The user's API tokens: create one (its value shown once) and revoke them."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from validation.api.tokens import TokenForm, create_token
from validation.models import ApiToken
from validation.views.access import fragment_or_page

TEMPLATE = "validation/api_tokens.html"
FRAGMENT = "api-tokens"


def _user(request: HttpRequest) -> Any:
    """The logged-in user (LoginRequiredMiddleware lets no one else reach these views)."""
    return request.user


def _context(request: HttpRequest, form: TokenForm, **extra) -> dict:
    tokens = ApiToken.objects.filter(user=_user(request)).order_by("revoked", "-created_at")
    api_url = request.build_absolute_uri(reverse("api:run-list"))
    return {"tokens": tokens, "form": form, "api_url": api_url, **extra}


@never_cache
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The user's tokens; POST creates one and shows its value in this response only."""
    template = fragment_or_page(request, TEMPLATE, FRAGMENT)
    user = _user(request)
    if request.method == "GET":
        return render(request, template, _context(request, TokenForm(user=user)))
    form = TokenForm(request.POST, user=user)
    if not form.is_valid():
        return render(request, template, _context(request, form), status=422)
    token, raw = create_token(user, form.cleaned_data["name"])
    context = _context(request, TokenForm(user=user), new_token=raw, created=token)
    return render(request, template, context, status=201)


@require_POST
def revoke_api_token(request: HttpRequest, token_pk: int) -> HttpResponse:
    """Revoke one of the user's own tokens (others' are 404); it stops working at once."""
    updated = ApiToken.objects.filter(pk=token_pk, user=_user(request)).update(revoked=True)
    if not updated:
        raise Http404("No such token.")
    template = fragment_or_page(request, TEMPLATE, FRAGMENT)
    if template == TEMPLATE:
        return redirect("validation:api-tokens")
    return render(request, template, _context(request, TokenForm(user=_user(request))))
