"""Print the demo logins that seed_demo creates (what README lists)."""

from django.core.management.base import BaseCommand

from governance.demo import DEMO_PASSWORD

LOGINS = [
    ("lead", "Governance lead: edits the governance configuration in /admin/"),
    ("auditor", "Auditor: reads everything in /admin/, including the audit log; changes nothing"),
    ("ines", "Incident commander on call (analyst: no admin access)"),
    ("tom", "Tier-3 analyst (analyst: no admin access)"),
]


class Command(BaseCommand):
    help = "List the demo logins and their password."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, what in LOGINS:
            self.stdout.write(f"  {username:<8} {what}")
