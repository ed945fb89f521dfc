"""Print every demo login that seed_demo creates (what README lists)."""

from django.core.management.base import BaseCommand

from governance.demo import DEMO_PASSWORD, demo_logins


class Command(BaseCommand):
    help = "List the demo logins and their password."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, what in demo_logins():
            self.stdout.write(f"  {username:<8} {what}")
