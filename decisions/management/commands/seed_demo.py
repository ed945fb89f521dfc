"""The demo SOC (governance model, people, policies) plus a demo SOAR integration with an API key.

Idempotent. The integration's plain API key is written once, to var/demo-api-key.txt, for the
README's curl examples; only its hash is stored in the database.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from decisions import integrations
from decisions.seeding.demo import demo_integration
from governance.demo import GovernanceDemo


class Command(BaseCommand):
    help = "Create (or complete) the demo SOC and a demo integration; safe to run again."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        system, action_types = GovernanceDemo().build()
        key_file = Path(settings.VAR_DIR) / "demo-api-key.txt"
        integration = demo_integration(actor=system, action_types=list(action_types.values()))
        if not integration.api_keys.filter(revoked=False).exists() or not key_file.exists():
            _, key = integrations.integration_key_create(integration=integration, name="demo")
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(key + "\n")
            self.stdout.write(f"Demo integration API key written to {key_file}")
        self.stdout.write(self.style.SUCCESS("Demo SOC ready."))
