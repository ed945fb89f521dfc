"""Archive and remove the closed decisions past their retention (legal holds excepted)."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from decisions.models import RetentionStatus
from decisions.retention.services import BATCH, retention_run


class Command(BaseCommand):
    help = (
        "Archive the closed decisions whose action type's retention has passed to RETENTION_ARCHIVE_DIR, sign a "
        "checkpoint and the manifest of what is removed, then remove them (never under a legal hold). Exit 1 "
        "when the run failed (nothing removed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=BATCH, help=f"At most this many decisions (default {BATCH}).")
        parser.add_argument("--as", dest="username", help="The person running it (recorded); default: the system.")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = None
        if options["username"]:
            actor = get_user_model().objects.filter(username=options["username"]).first()
            if actor is None:
                raise CommandError(f"No user {options['username']!r}.")
        run = retention_run(actor=actor, limit=max(1, options["limit"]))
        if run.status == RetentionStatus.FAILED:
            raise CommandError(f"Retention run {run.public_id} removed nothing: {run.error}", returncode=1)
        self.stdout.write(
            self.style.SUCCESS(
                f"Retention run {run.public_id} ({run.status}): {run.decisions_removed} decisions and "
                f"{run.events_removed} events removed, archived in {run.archive_path or '-'}; {run.held} kept by "
                f"legal holds, {run.deferred} left for the next run."
            )
        )
