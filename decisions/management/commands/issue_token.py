"""Issue a personal API token to a person (the token is printed once; only its hash is kept)."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from decisions import integrations
from decisions.errors import DecisionError


class Command(BaseCommand):
    help = "Create a personal API token for a user, valid for --days (at most PERSONAL_TOKEN_MAX_DAYS)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--name", default="cli")

    def handle(self, *args, **options) -> None:
        try:
            user = get_user_model().objects.get(username=options["username"])
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user {options['username']!r}.") from None
        try:
            _, token = integrations.personal_token_create(
                user=user, name=options["name"], expires_at=timezone.now() + timedelta(days=options["days"])
            )
        except DecisionError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(token)
