"""How the tests make requests: a client logged in as a user, and what an HTMX request adds."""

from __future__ import annotations

from django.test import Client

# The header HTMX sends with every request it makes, as Django's test client takes it:
# `client.get(url, **HTMX)`.
HTMX = {"HTTP_HX_REQUEST": "true"}


def logged_in(user, **options) -> Client:
    """A client of its own (Client's `options`), logged in as this user."""
    client = Client(**options)
    client.force_login(user)
    return client
