"""Sign and publish a checkpoint of the decision log now (beat does it every minute)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from decisions.ledger.checkpoints import LedgerInconsistent, checkpoint_now
from decisions.ledger.keys import SigningKeyMissing


class Command(BaseCommand):
    help = "Sequence the pending events and sign a checkpoint of the decision log, if it grew."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            checkpoint = checkpoint_now()
        except (LedgerInconsistent, SigningKeyMissing) as exc:
            raise CommandError(str(exc), returncode=1) from exc
        if checkpoint is None:
            self.stdout.write("Nothing new to sign: the newest checkpoint covers the whole log.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Checkpoint signed: {checkpoint.tree_size} events, root {checkpoint.root_hash}, "
                f"key {checkpoint.key_id}, at {checkpoint.timestamp}."
            )
        )
