"""Create an API token for a user and print it once (only its hash is kept)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from validation.api.tokens import create_token
from validation.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for USER named NAME; the token is printed once, on stdout."

    def add_arguments(self, parser):
        parser.add_argument("user", help="username")
        parser.add_argument("name", help="what uses the token, e.g. training-pipeline")

    def handle(self, *args, **options):
        users = get_user_model().objects
        try:
            user = users.get(username=options["user"])
        except users.model.DoesNotExist:
            raise CommandError(f"no user {options['user']!r}") from None
        name = options["name"].strip()
        if not name or len(name) > ApiToken._meta.get_field("name").max_length:
            raise CommandError("NAME must be 1 to 100 characters")
        if ApiToken.objects.filter(user=user, name=name, revoked=False).exists():
            raise CommandError(f"{user.get_username()} already has a token named {name!r}")
        token, raw = create_token(user, name)
        self.stdout.write(raw)
        self.stderr.write(
            f"token {token.prefix}… for {user.get_username()}: keep it now, it is not shown again"
        )
