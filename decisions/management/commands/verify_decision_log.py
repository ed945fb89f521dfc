"""Verify the decision log against its signed checkpoints. Exits 1 naming what does not verify."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from decisions.ledger.verification import verify_ledger


class Command(BaseCommand):
    help = (
        "Verify the decision log: incrementally from the last verified checkpoint (default) or in full. "
        "Exit 0 when intact, 1 naming the first break otherwise."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--full", action="store_true", help="Re-read every event and every checkpoint.")
        parser.add_argument("--all", action="store_true", help="List every break, not only the first.")

    def handle(self, *args: Any, **options: Any) -> None:
        verification = verify_ledger(full=options["full"])
        if not verification.intact:
            shown = verification.problems if options["all"] else verification.problems[:1]
            for problem in shown:
                self.stderr.write(f"BROKEN: {problem}")
            raise CommandError(
                f"The decision log was altered: first break at {verification.problems[0]}.", returncode=1
            )
        covered = (
            f"signed checkpoint of {verification.checkpoint_size} events"
            if verification.checkpoint_size
            else "no signed checkpoint yet"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Decision log intact: {verification.decisions} decisions, {verification.events} events verified. "
                f"({verification.mode}: {verification.events_checked} re-hashed; {covered}; "
                f"{verification.unsequenced} newer events checked by their chains; {verification.duration_ms} ms)"
            )
        )
