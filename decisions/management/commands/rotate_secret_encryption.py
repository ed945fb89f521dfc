"""Re-encrypt the stored webhook signing secrets with the first of SECRET_ENCRYPTION_KEYS."""

from typing import Any

from django.core.management.base import BaseCommand

from decisions import integrations


class Command(BaseCommand):
    help = (
        "After putting a new key first in SECRET_ENCRYPTION_KEYS (the old one after it), re-encrypt every "
        "webhook signing secret with it; then the old key can be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = integrations.integration_secrets_reencrypt()
        self.stdout.write(f"Re-encrypted {count} webhook signing secret(s) with the first key.")
