"""Generate realistic past decisions (with sign-offs, escalations, outcomes and their log)."""

import time
from argparse import ArgumentTypeError
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from decisions.models import DecisionRequest
from decisions.seeding.history import MAX_DAYS, HistoryError, seed_history


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return number


def _instant(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise ArgumentTypeError(f"{value!r} is not an ISO 8601 date and time with a time zone")
    return at


class Command(BaseCommand):
    help = (
        "Generate N past decisions spread over the last D days, for demos and benchmarks: all closed (approved, "
        "overridden, rejected, expired, cancelled, auto-approved; none pending), with sign-offs by certified "
        "people, escalations, outcomes and a verifiable decision log. Creates the demo SOC first if missing. "
        "The same --seed and --now give the same decisions."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--decisions", type=_positive, required=True, help="How many decisions (at least 1).")
        parser.add_argument("--days", type=_positive, default=90, help=f"Over how many days (1-{MAX_DAYS}; 90).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (0).")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when decisions exist already (make run seeds a demo history only once).",
        )
        parser.add_argument(
            "--now", type=_instant, default=None, help="End of the period, ISO 8601 with a time zone (default: now)."
        )

    def handle(self, *args, **options) -> None:
        if options["if_empty"] and DecisionRequest.objects.exists():
            self.stdout.write("Decisions exist already: no history seeded.")
            return
        started = time.perf_counter()
        try:
            summary = seed_history(
                decisions=options["decisions"], days=options["days"], seed=options["seed"], now=options["now"]
            )
        except HistoryError as exc:
            raise CommandError(str(exc)) from exc
        took = time.perf_counter() - started
        statuses = ", ".join(f"{status} {count:,}" for status, count in summary["statuses"].items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {summary['decisions']:,} decisions from {summary['start']} to {summary['end']} "
                f"in {took:.1f} s (seed {summary['seed']}, integration {summary['integration']!r})."
            )
        )
        self.stdout.write(f"  statuses: {statuses}")
        self.stdout.write(
            f"  sign-offs {summary['signoffs']:,}, escalations {summary['escalations']:,}, "
            f"outcomes {summary['outcomes']:,}, events {summary['events']:,}"
        )
