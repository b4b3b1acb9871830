"""API tokens: made once (the raw value shown once), kept as a digest, found by their prefix.

A token is ``secrets.token_urlsafe(32)``; only its SHA-256 hex digest is stored, with its first
characters as a prefix to find and show it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django import forms
from django.utils.translation import gettext_lazy as _

from validation.models import ApiToken

PREFIX_LENGTH = 8
TOKEN_BYTES = 32


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create_token(user, name: str) -> tuple[ApiToken, str]:
    """A new token for this user; the raw value is returned once and never stored."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=raw[:PREFIX_LENGTH], token_hash=hash_token(raw)
    )
    return token, raw


def token_for(raw: str) -> ApiToken | None:
    """The live token with this value (constant-time digest comparison), else None."""
    digest = hash_token(raw)
    found = None
    for token in ApiToken.objects.filter(prefix=raw[:PREFIX_LENGTH]).select_related("user"):
        if hmac.compare_digest(token.token_hash, digest):
            found = token
    if found is None or found.revoked or not found.user.is_active:
        return None
    return found


class TokenForm(forms.Form):
    """The name of a new token: unique among the user's live tokens."""

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What uses it, e.g. “training pipeline”."),
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if ApiToken.objects.filter(user=self.user, name=name, revoked=False).exists():
            raise forms.ValidationError(_("You already have a token with this name."))
        return name
