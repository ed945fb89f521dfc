"""Write a new Ed25519 key for signing the decision log's checkpoints."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from decisions.ledger import keys


class Command(BaseCommand):
    help = (
        "Write a new checkpoint signing key (default: LEDGER_SIGNING_KEY_FILE) and print its public key. "
        "Keep the key outside the database; after a rotation, add the old public key to LEDGER_TRUSTED_KEYS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", help="Where to write the key (it must not exist).")
        parser.add_argument("--if-missing", action="store_true", help="Do nothing when the file exists.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"] or settings.LEDGER_SIGNING_KEY_FILE)
        if path.exists():
            if options["if_missing"]:
                return
            self.stderr.write(f"{path} exists: refusing to overwrite a signing key.")
            raise SystemExit(1)
        key_id = keys.generate_key_file(path)
        private = keys.parse_private(path.read_text())
        self.stdout.write(f"Wrote a new signing key to {path} (key id {key_id}).")
        self.stdout.write(f"Public key (publish it; auditors pass it to the verifier): {keys.public_key_b64(private)}")
