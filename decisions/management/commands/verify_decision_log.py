"""Check every decision's hash-chained log. Exits 1 naming the first broken event."""

from django.core.management.base import BaseCommand, CommandError

from decisions.lifecycle.eventlog import verify_all
from decisions.models import DecisionEvent, DecisionRequest


class Command(BaseCommand):
    help = "Verify the decision log: exit 0 when intact, 1 naming the first broken event otherwise."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--all", action="store_true", help="List every break, not only the first.")

    def handle(self, *args, **options) -> None:
        breaks = []
        for found in verify_all():
            breaks.append(found)
            if not options["all"]:
                break
        if breaks:
            for found in breaks:
                self.stderr.write(f"BROKEN: {found}")
            raise CommandError(f"The decision log was altered: first break at {breaks[0]}.", returncode=1)
        self.stdout.write(
            self.style.SUCCESS(
                f"Decision log intact: {DecisionRequest.objects.count()} decisions, "
                f"{DecisionEvent.objects.count()} events verified."
            )
        )
